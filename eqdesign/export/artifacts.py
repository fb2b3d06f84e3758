"""Build artifacts: written atomically, only after every test passed; read back and re-verified with torch
alone (``eqdesign verify``), without escnn.

NAME.pt carries, as TorchScript extra files: the spec, the report, provenance, the layout of the input and
output fields, and the representation matrices of input and output at the tested group elements.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

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


def representations_payload(elements: list, rho_in, rho_out, tolerance: float, exact: bool) -> str:
    return json.dumps({
        "elements": [str(g) for g in elements],
        "input": rho_in.tolist(),
        "output": rho_out.tolist(),
        "tolerance": tolerance,
        "exact": exact,
    })


@dataclass
class Verification:
    path: str
    ok: bool
    max_rel: float
    tolerance: float
    elements: int
    worst_element: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def load_extras(path: str | Path) -> tuple[torch.jit.ScriptModule, dict[str, str]]:
    extra = {name: "" for name in EXTRA_FILES}
    module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    return module, extra


def verify(path: str | Path, samples: int = 16, seed: int = 0) -> Verification:
    """Re-check equivariance of a saved model from its own extra files: f(rho_in(g) x) = rho_out(g) f(x)."""
    module, extra = load_extras(path)
    reps = json.loads(extra["representations.json"] or "{}")
    if not reps.get("input"):
        return Verification(str(path), False, float("nan"), 0.0, 0, "", "no representation matrices in the file")
    rin = torch.tensor(reps["input"], dtype=torch.float32)
    rout = torch.tensor(reps["output"], dtype=torch.float32)
    scales = json.loads(extra["report.json"] or "{}").get("tests", {}).get("scales", [1.0])
    gen = torch.Generator().manual_seed(seed)
    worst, worst_k = 0.0, 0
    with torch.no_grad():
        for s in scales:
            x = s * torch.randn(samples, rin.shape[1], generator=gen)
            fx = module(x)
            norm = fx.norm(dim=1).mean().clamp_min(1e-30)
            for k in range(rin.shape[0]):
                rel = ((module(x @ rin[k].T) - fx @ rout[k].T).norm(dim=1) / norm).max().item()
                if rel > worst:
                    worst, worst_k = rel, k
    tol = float(reps["tolerance"])
    ok = worst <= tol
    element = reps["elements"][worst_k] if reps["elements"] else ""
    verdict = "equivariant within tolerance" if ok else "equivariance error above tolerance"
    return Verification(str(path), ok, worst, tol, rin.shape[0], element, f"{verdict}: {worst:.2e} (tolerance {tol:.0e}) over {rin.shape[0]} elements")
