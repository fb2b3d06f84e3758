"""Build artifacts: written atomically, only after every test passed; read back with torch alone.

NAME.pt (TorchScript) and NAME.pt2 (torch.export) carry the same extra files: the spec, the report,
provenance (with a SHA-256 of every other extra, so that they cannot be swapped one at a time), the layout
of the input and output fields, and the representation matrices of input and output at the tested group
elements. Both archives are serialised in memory first: written to a temporary file directly, their
internal root folder would carry the temporary name, and no two builds would give the same bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ..atomic import write_atomically
from .freeze import freeze
from .modules import CompiledModel

EXTRA_FILES = ("spec.yaml", "report.json", "provenance.json", "layout.json", "representations.json", "grids.json")
HASHED_EXTRAS = ("spec.yaml", "report.json", "layout.json", "representations.json", "grids.json")
#: extras that artifacts of earlier versions lack: hashed where present
OPTIONAL_EXTRAS = ("grids.json",)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def representations_payload(element_names: list[str], rho_in: torch.Tensor, rho_out: torch.Tensor, tolerance: float, exact: bool) -> str:
    return json.dumps(
        {
            "elements": element_names,
            "input": rho_in.tolist(),
            "output": rho_out.tolist(),
            "tolerance": tolerance,
            "exact": exact,
        }
    )


def with_hashes(extras: dict[str, str], provenance: dict[str, Any]) -> dict[str, str]:
    """The extras with provenance.json added, holding the SHA-256 of every other extra."""
    hashed = [name for name in HASHED_EXTRAS if name in extras or name not in OPTIONAL_EXTRAS]
    provenance = dict(provenance, extras_sha256={name: sha256(extras[name]) for name in hashed})
    return dict(extras, **{"provenance.json": json.dumps(provenance, indent=2)})


def save_artifacts(out_dir: Path, name: str, module: CompiledModel, extras: dict[str, str], texts: dict[str, str]) -> list[Path]:
    """NAME.pt (TorchScript: the trainable model), NAME.pt2 (torch.export of its frozen inference copy,
    dynamic batch), both with the extras, and the text files."""
    scripted = torch.jit.script(module)
    example = torch.randn(2, module.input_dim, generator=torch.Generator().manual_seed(0))
    exported = torch.export.export(freeze(module), (example,), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}})
    files = {f"{name}.pt": _script_bytes(scripted, extras), f"{name}.pt2": _export_bytes(exported, extras)}
    files.update({file: text.encode() for file, text in texts.items()})
    return write_atomically(out_dir, files)


def _script_bytes(scripted: torch.jit.ScriptModule, extras: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer, _extra_files=extras)
    return buffer.getvalue()


def _export_bytes(exported: torch.export.ExportedProgram, extras: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    torch.export.save(exported, buffer, extra_files=extras)
    return buffer.getvalue()


@contextlib.contextmanager
def _torch_logs_off() -> Iterator[None]:
    """torch.export.load logs a full traceback before it gives up on a file that is no archive; the error it
    raises is what verify reports."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def load_artifact(path: str | Path) -> tuple[Any, dict[str, str]]:
    """The runnable module and the extras of a .pt (TorchScript) or .pt2 (torch.export) artifact."""
    extra = dict.fromkeys(EXTRA_FILES, "")
    with warnings.catch_warnings(), _torch_logs_off():  # torch's notices and its own tracebacks are not the user's concern
        warnings.simplefilter("ignore")
        if str(path).endswith(".pt2"):
            program = torch.export.load(str(path), extra_files=extra)
            return program.module(), extra
        module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)  # type: ignore[no-untyped-call]  # torch.jit.load is unannotated
    return module, extra
