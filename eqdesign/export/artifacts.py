"""Build artifacts: written atomically, only after every test passed; read back with torch alone.

NAME.pt (TorchScript), NAME.pt2 (torch.export) and NAME.onnx (see onnxfile) carry the same extra files: the spec, the report,
provenance (with a SHA-256 of every other extra, so that they cannot be swapped one at a time, and of each
artifact's weights and code, so that the model cannot be swapped or edited under them), the layout
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
from typing import Any, NamedTuple

import torch

from ..atomic import write_atomically
from . import onnxfile
from .fingerprint import code_sha256, weights_sha256
from .freeze import freeze
from .modules import CompiledModel

EXTRA_FILES = ("spec.yaml", "report.json", "provenance.json", "layout.json", "representations.json", "grids.json")
HASHED_EXTRAS = ("spec.yaml", "report.json", "layout.json", "representations.json", "grids.json")
#: extras that artifacts of earlier versions lack: hashed where present
OPTIONAL_EXTRAS = ("grids.json",)
#: the key of provenance.json that holds each artifact's fingerprint: {"pt": {"weights": ..., "code": ...}, "pt2": ..., "onnx": ...}
FINGERPRINTS = "artifacts_sha256"


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


def save_artifacts(out_dir: Path, name: str, module: CompiledModel, extras: dict[str, str], texts: dict[str, str | bytes]) -> list[Path]:
    """NAME.pt (TorchScript: the trainable model), NAME.pt2 (torch.export of its frozen inference copy,
    dynamic batch), NAME.onnx (that program in ONNX, where the exporter is installed), all with the extras,
    and the other files (texts or bytes)."""
    scripted = torch.jit.script(module)
    program = export_program(freeze(module), module.input_dim)
    files = artifact_files(name, {"pt": scripted, "pt2": program, **({} if onnxfile.missing() else {"onnx": program})}, extras)
    files.update({file: text.encode() if isinstance(text, str) else text for file, text in texts.items()})
    return write_atomically(out_dir, files)


def export_program(module: torch.nn.Module, input_dim: int) -> torch.export.ExportedProgram:
    """torch.export of ``module`` (a CompiledModel), dynamic batch."""
    example = torch.randn(2, input_dim, generator=torch.Generator().manual_seed(0))
    return torch.export.export(module, (example,), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}})


def program_of_script(scripted: torch.jit.ScriptModule, input_dim: int) -> torch.export.ExportedProgram:
    """The torch.export program of a TorchScript CompiledModel (a NAME.pt, trained or not). torch.export
    cannot trace TorchScript; torch's converter rebuilds its graph, which holds no branch on the batch
    (modules.square_group), so that its batch stays dynamic."""
    from torch._export.converter import TS2EPConverter

    example = torch.randn(3, input_dim, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings(), _torch_logs_off():
        warnings.simplefilter("ignore")
        return TS2EPConverter(scripted, (example,)).convert()


def artifact_files(name: str, made: dict[str, Any], extras: dict[str, str]) -> dict[str, bytes]:
    """NAME.KIND for each of ``made``: "pt" (a TorchScript module), "pt2" and "onnx" (an ExportedProgram,
    written as it is or converted to ONNX), each with the extras and with every file's fingerprint in
    provenance.json."""
    writers: dict[str, Any] = {}
    if "pt" in made:
        writers["pt"] = lambda ex: _script_bytes(made["pt"], ex)
    if "pt2" in made:
        writers["pt2"] = lambda ex: _export_bytes(made["pt2"], ex)
    if "onnx" in made:
        model = onnxfile.to_onnx(made["onnx"])
        writers["onnx"] = lambda ex: onnxfile.onnx_bytes(model, ex)
    # the fingerprints are taken from the files as verify will read them; the extras are not part of them,
    # so adding the fingerprints to provenance.json leaves them true
    prints = {kind: _fingerprint(kind, write(extras)) for kind, write in writers.items()}
    extras = _with_fingerprints(extras, prints)
    return {f"{name}.{kind}": write(extras) for kind, write in writers.items()}


def _fingerprint(kind: str, data: bytes) -> dict[str, str]:
    if kind == "onnx":
        import onnx

        return onnxfile.fingerprint(onnx.load_from_string(data))
    return read_artifact(data, kind == "pt2").fingerprint


def _with_fingerprints(extras: dict[str, str], fingerprints: dict[str, dict[str, str]]) -> dict[str, str]:
    provenance = json.loads(extras.get("provenance.json") or "{}")
    return dict(extras, **{"provenance.json": json.dumps(dict(provenance, **{FINGERPRINTS: fingerprints}), indent=2)})


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


class Artifact(NamedTuple):
    """A loaded artifact: its runnable module, its extras, and the fingerprint of what it runs
    ({"weights": SHA-256, "code": SHA-256}, see ``fingerprint``)."""

    module: Any
    extras: dict[str, str]
    fingerprint: dict[str, str]


def load_artifact(path: str | Path) -> tuple[Any, dict[str, str]]:
    """The runnable module and the extras of a .pt (TorchScript) or .pt2 (torch.export) artifact."""
    artifact = open_artifact(path)
    return artifact.module, artifact.extras


def open_artifact(path: str | Path) -> Artifact:
    """A .pt (TorchScript), .pt2 (torch.export) or .onnx (run by onnxruntime) artifact, read once."""
    data = Path(path).read_bytes()
    if str(path).endswith(".onnx"):
        return Artifact(*onnxfile.read_onnx(data, EXTRA_FILES))
    return read_artifact(data, str(path).endswith(".pt2"))


def artifact_kind(path: str | Path) -> str:
    """ "pt", "pt2" or "onnx": the key of an artifact's fingerprint in provenance.json."""
    suffix = Path(path).suffix
    return suffix[1:] if suffix in (".pt2", ".onnx") else "pt"


def read_artifact(data: bytes, exported: bool) -> Artifact:
    extra = dict.fromkeys(EXTRA_FILES, "")
    with warnings.catch_warnings(), _torch_logs_off():  # torch's notices and its own tracebacks are not the user's concern
        warnings.simplefilter("ignore")
        if exported:
            program = torch.export.load(io.BytesIO(data), extra_files=extra)
            tensors = [
                *(("state_dict." + k, v) for k, v in program.state_dict.items()),
                *(("constants." + k, v) for k, v in program.constants.items()),
            ]
            module = program.module()
        else:
            module = torch.jit.load(io.BytesIO(data), map_location="cpu", _extra_files=extra)  # type: ignore[no-untyped-call]  # torch.jit.load is unannotated
            tensors = list(module.state_dict().items())
    return Artifact(module, extra, {"weights": weights_sha256(tensors), "code": code_sha256(data, torchscript=not exported)})
