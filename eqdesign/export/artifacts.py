"""Build artifacts: written atomically, only after every test passed; read back with torch alone.

NAME.pt carries, as TorchScript extra files: the spec, the report, provenance, the layout of the input and
output fields, and the representation matrices of input and output at the tested group elements.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable

import torch

EXTRA_FILES = ("spec.yaml", "report.json", "provenance.json", "layout.json", "representations.json")


def write_atomically(out_dir: Path, files: dict[str, Callable[[Path], None]]) -> list[Path]:
    """Write every file to a temporary name in out_dir first; rename them into place only if all succeed.

    A failure leaves the older artifacts exactly as they were."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, writer in files.items():
            # the temporary name keeps the real suffix: torch.export.save insists on ".pt2"
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=f"-{name}", dir=out_dir)
            os.close(fd)
            staged.append((Path(tmp), out_dir / name))
            writer(Path(tmp))
            os.chmod(tmp, 0o666 & ~_umask())
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in staged:
        os.replace(tmp, final)
    return [final for _, final in staged]


_TMP_PREFIX = ".eqdesign-tmp-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def representations_payload(element_names: list[str], rho_in: torch.Tensor, rho_out: torch.Tensor, tolerance: float, exact: bool) -> str:
    return json.dumps({
        "elements": element_names,
        "input": rho_in.tolist(),
        "output": rho_out.tolist(),
        "tolerance": tolerance,
        "exact": exact,
    })


def save_artifacts(out_dir: Path, name: str, module: torch.nn.Module, extras: dict[str, str], texts: dict[str, str]) -> list[Path]:
    """NAME.pt (TorchScript with the extras), NAME.pt2 (torch.export, dynamic batch) and the text files."""
    scripted = torch.jit.script(module)
    example = torch.randn(2, int(module.input_dim))
    exported = torch.export.export(module, (example,), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}})
    writers: dict[str, Callable[[Path], None]] = {
        f"{name}.pt": lambda p: torch.jit.save(scripted, str(p), _extra_files=extras),
        f"{name}.pt2": lambda p: torch.export.save(exported, str(p)),
    }
    writers.update({file: _text_writer(text) for file, text in texts.items()})
    return write_atomically(out_dir, writers)


def _text_writer(text: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(text)

    return write


def load_extras(path: str | Path) -> tuple[torch.jit.ScriptModule, dict[str, str]]:
    extra = {name: "" for name in EXTRA_FILES}
    module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return module, extra
