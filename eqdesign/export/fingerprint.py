"""SHA-256 fingerprints of what an artifact runs: its weights and its code, each hashed apart, so that
`verify` can say which of the two was edited after the build.

* weights: every tensor of the state dict (TorchScript: ``module.state_dict()``; torch.export: the
  program's ``state_dict`` and tensor ``constants``), by name in sorted order, with its dtype, shape and
  bytes. Deterministic: the same tensors give the same hash whatever the archive's layout.
* code: every entry of the archive except the extra files, the tensor data (hashed as weights), the debug
  records (source file names of the build machine: TorchScript's debug_pkl files, torch.export's stack
  traces) and torch's serialization id (a hash that covers the extras). TorchScript's pickled module tree (``data.pkl``, ``constants.pkl``: the modules, their classes
  and their non-tensor attributes) is hashed as a description of what it holds, not as bytes: saving the
  same module again numbers the pickle's memo differently.

Both are read with the standard library and torch alone (no escnn), and a pickle is described without
importing anything it names.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import zipfile
from collections.abc import Iterable
from typing import Any

import torch

#: archive entries (below the archive's root folder) that are neither weights nor code
_SKIPPED = (".data/serialization_id",)
_SKIPPED_SUFFIXES = (".debug_pkl",)
#: torch.export's debug records: a key of each node's metadata
_DEBUG_KEYS = ("stack_trace",)
_EXTRA_FOLDERS = ("extra/", "extra_files/")
#: TorchScript pickles, hashed by what they describe
_PICKLES = ("data.pkl", "constants.pkl")
#: tensor storages: TorchScript's data/N, torch.export's data/weights/* and data/constants/* (their JSON
#: configs, which name dtypes and shapes, are code)
_TORCHSCRIPT_DATA = "data/"
_EXPORT_DATA = ("data/weights/", "data/constants/")


def weights_sha256(tensors: Iterable[tuple[str, Any]]) -> str:
    """The hash of named tensors (non-tensors are skipped), in name order: name, dtype, shape, bytes."""
    digest = hashlib.sha256()
    for name, t in sorted((n, t) for n, t in tensors if isinstance(t, torch.Tensor)):
        data = t.detach().cpu().contiguous()
        digest.update(json.dumps([name, str(data.dtype), list(data.shape)]).encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()


def code_sha256(archive: bytes, torchscript: bool) -> str:
    """The hash of an archive's code entries (see the module doc), by path below its root folder."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        entries = sorted((info.filename.split("/", 1)[-1], info.filename) for info in z.infolist() if not info.is_dir())
        for inner, full in entries:
            if not _is_code(inner, torchscript):
                continue
            content = z.read(full)
            if torchscript and inner in _PICKLES:
                content = json.dumps(_describe(_Skeleton(io.BytesIO(content)).load())).encode()
            elif not torchscript and inner.endswith(".json"):
                content = json.dumps(_without_debug(json.loads(content)), sort_keys=True).encode()
            digest.update(json.dumps([inner, len(content)]).encode())
            digest.update(content)
    return digest.hexdigest()


def _without_debug(value: Any) -> Any:
    """A torch.export JSON document less its nodes' stack traces (source file names of the build machine)."""
    if isinstance(value, dict):
        return {k: _without_debug(v) for k, v in value.items() if k not in _DEBUG_KEYS}
    if isinstance(value, list):
        return [_without_debug(v) for v in value]
    return value


def _is_code(inner: str, torchscript: bool) -> bool:
    if inner in _SKIPPED or inner.endswith(_SKIPPED_SUFFIXES) or inner.startswith(_EXTRA_FOLDERS):
        return False
    if torchscript:  # constants/ holds the tensor constants of the code: code
        return not inner.startswith(_TORCHSCRIPT_DATA)
    return not (inner.startswith(_EXPORT_DATA) and not inner.endswith(".json"))


class _Node:
    """Anything a pickle names (a class, a function): what it was called with and the state it was given."""

    qualified = ""
    args: tuple[Any, ...]
    state: Any
    items: dict[Any, Any]
    appended: list[Any]

    def __new__(cls, *args: Any) -> _Node:  # pickle's NEWOBJ calls __new__ alone, REDUCE the class
        node = super().__new__(cls)
        node.args, node.state, node.items, node.appended = args, None, {}, []
        return node

    def __init__(self, *args: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.items[key] = value

    def append(self, value: Any) -> None:
        self.appended.append(value)

    def extend(self, values: Iterable[Any]) -> None:
        self.appended.extend(values)


class _Skeleton(pickle.Unpickler):
    """Unpickles into _Nodes: nothing is imported or run. A tensor's storage (a persistent id) is described
    by its type and size only; its bytes are the weights."""

    def find_class(self, module: str, name: str) -> Any:
        return type(name, (_Node,), {"qualified": f"{module}.{name}"})

    def persistent_load(self, pid: Any) -> Any:
        # TorchScript: ("storage", storage type, key, location, numel); the key and location name where the
        # bytes lie, not what they are
        return ["storage", _describe(pid[1]), _describe(pid[-1])] if isinstance(pid, tuple) and len(pid) >= 5 else _describe(pid)


def _describe(value: Any) -> Any:
    """A JSON-able description of an unpickled value."""
    if isinstance(value, type) and issubclass(value, _Node):
        return {"class": value.qualified}
    if isinstance(value, _Node):
        return {
            "of": value.qualified,
            "args": _describe(value.args),
            "state": _describe(value.state),
            "items": _describe(value.items),
            "appended": _describe(value.appended),
        }
    if isinstance(value, dict):
        return [["dict"]] + [[_describe(k), _describe(v)] for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [type(value).__name__, [_describe(v) for v in value]]
    if isinstance(value, float):
        return ["float", value.hex()]
    if isinstance(value, bytes):
        return ["bytes", value.hex()]
    return value if value is None or isinstance(value, (bool, int, str)) else ["repr", repr(value)]
