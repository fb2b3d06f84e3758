"""`eqdesign verify`: re-check a saved model's equivariance from its own extra files, with torch alone.

Loading a TorchScript file runs code from it: verify only artifacts you trust, or inside a sandbox.
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

from ..results import Verification, VerifyBatch


def verify_paths(paths: Sequence[str]) -> VerifyBatch:
    return VerifyBatch([verify_one(p) for p in paths])


def verify_one(path: str, samples: int = 16, seed: int = 0) -> Verification:
    try:
        module, extra = _load(path)
        reps = json.loads(extra["representations.json"] or "{}")
        scales = json.loads(extra["report.json"] or "{}").get("tests", {}).get("scales", [1.0])
    except (OSError, RuntimeError, ValueError, KeyError, TypeError, AttributeError) as err:
        return Verification(path, False, None, None, 0, "", f"cannot read it as an eqdesign model: {err}", readable=False)
    if not reps.get("input"):
        return Verification(path, False, None, None, 0, "", "no representation matrices in the file")
    return _verify(path, module, reps, scales, samples, seed)


def _load(path: str) -> tuple[Any, dict[str, str]]:
    from ..export.artifacts import load_extras

    return load_extras(path)


def _verify(path: str, module: Any, reps: dict[str, Any], scales: list[float], samples: int, seed: int) -> Verification:
    import torch

    from ..numerics.equivariance import Probe, measure

    rin = torch.tensor(reps["input"], dtype=torch.float32)
    rout = torch.tensor(reps["output"], dtype=torch.float32)
    x = torch.randn(samples, rin.shape[1], generator=torch.Generator().manual_seed(seed))
    r = measure(Probe("model", module, rin, rout), x, scales)
    tol = float(reps.get("tolerance", math.nan))
    ok = r.passes(tol) and _finite_matrices(rin, rout)
    element = reps["elements"][r.worst_element] if reps.get("elements") else ""
    if not r.finite or not _finite_matrices(rin, rout):
        message = "the equivariance error is not a finite number (NaN or infinite outputs, representations or scales)"
    else:
        verdict = "equivariant within tolerance" if ok else "equivariance error above tolerance"
        message = f"{verdict}: {r.max_rel:.2e} (tolerance {tol:.0e}) over {rin.shape[0]} elements"
    return Verification(path, ok, r.max_rel if r.finite else None, tol if math.isfinite(tol) else None, rin.shape[0], element, message)


def _finite_matrices(*mats: Any) -> bool:
    import torch

    return all(bool(torch.isfinite(m).all()) for m in mats)
