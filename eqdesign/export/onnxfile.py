"""NAME.onnx: the torch.export program converted by torch's ONNX exporter (opset 18, dynamic batch), read
back with onnxruntime.

The file carries the same extra files as NAME.pt and NAME.pt2, as the model's ``metadata_props`` (one entry
per extra, keyed ``eqdesign/NAME``), so that `verify` needs no other file to test it. Its fingerprint, as
provenance.json records it under ``onnx``, is taken apart from the metadata as for the other artifacts:

* weights: every initializer, by name in sorted order, with its dtype, shape and bytes (``weights_sha256``);
* code: the model less its initializers' data and its metadata (the graph, the opsets, the initializers'
  names, types and shapes), serialised deterministically.

The exporter (onnx, onnxscript) and onnxruntime are part of the build extra; where they are missing, build
writes no NAME.onnx and says how to add them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import torch

from ..extras import onnx_missing
from .fingerprint import weights_sha256

#: ONNX opset of the files build writes (18: the first whose reductions take their axes as inputs)
OPSET = 18
#: the prefix of the metadata keys that hold the extra files
_PREFIX = "eqdesign/"


def missing() -> list[str]:
    """The exporter's modules that are not installed here (extras.ONNX_MODULES)."""
    return onnx_missing()


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch's ONNX exporter logs and warns about optional packages and its steps: not the user's concern."""
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(None):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def to_onnx(program: torch.export.ExportedProgram) -> Any:
    """The ONNX model (an ``onnx.ModelProto``) of a torch.export program; its dynamic batch stays dynamic."""
    with _quiet():
        onnx_program = torch.onnx.export(program, dynamo=True, opset_version=OPSET, verbose=False, optimize=True)
    assert onnx_program is not None
    model = onnx_program.model_proto
    for node in [*model.graph.node, *(n for f in model.functions for n in f.node)]:
        del node.metadata_props[:]  # debug records: source paths of the build machine (builds reproduce across machines)
    return model


def fingerprint(model: Any) -> dict[str, str]:
    """{"weights": SHA-256 of the initializers, "code": SHA-256 of the rest less the metadata}."""
    from onnx import numpy_helper

    tensors = [(t.name, torch.from_numpy(numpy_helper.to_array(t).copy())) for t in model.graph.initializer]
    skeleton = type(model)()
    skeleton.CopyFrom(model)
    del skeleton.metadata_props[:]
    for t in skeleton.graph.initializer:  # the weights are hashed apart: only their names, types and shapes here
        t.ClearField("raw_data")
        for field in ("float_data", "double_data", "int32_data", "int64_data"):
            t.ClearField(field)
    code = hashlib.sha256(skeleton.SerializeToString(deterministic=True)).hexdigest()
    return {"weights": weights_sha256(tensors), "code": code}


def onnx_bytes(model: Any, extras: dict[str, str]) -> bytes:
    """The serialised model with ``extras`` as its metadata (replacing any it had)."""
    out = type(model)()
    out.CopyFrom(model)
    del out.metadata_props[:]
    for name, text in sorted(extras.items()):
        entry = out.metadata_props.add()
        entry.key, entry.value = _PREFIX + name, text
    data: bytes = out.SerializeToString(deterministic=True)
    return data


class OnnxModule:
    """An onnxruntime session run as a module: a float32 torch tensor (batch, input_dim) in, one out."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        (out,) = self.session.run(None, {self.input_name: x.detach().cpu().float().contiguous().numpy()})
        return torch.from_numpy(out)


def read_onnx(data: bytes, extra_names: tuple[str, ...]) -> tuple[OnnxModule, dict[str, str], dict[str, str]]:
    """(the runnable module, the extras named ``extra_names`` ("" where absent), the fingerprint) of NAME.onnx."""
    import onnx
    import onnxruntime

    model = onnx.load_from_string(data)
    stored = {p.key[len(_PREFIX) :]: p.value for p in model.metadata_props if p.key.startswith(_PREFIX)}
    extras = {name: stored.get(name, "") for name in extra_names}
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: its warnings about unused initializers are not the user's concern
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return OnnxModule(session), extras, fingerprint(model)
