"""`eqdesign verify`: re-check a saved model's equivariance from its own extra files, with torch alone.

Before anything is measured, the model must be the one built, and the extras must agree with each other:
provenance holds the SHA-256 of each artifact's weights and code, of every other extra and of the spec, the
representation matrices must be finite and orthogonal with the sizes the layout gives, and the tolerance
must be the one the build judged by. A mismatch is a failure (exit 1).

Loading a TorchScript or torch.export file runs code stored in it: verify only files you trust, or inside
a sandbox.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..numerics.tolerances import exact_tolerance
from ..results import Verification, VerifyBatch

if TYPE_CHECKING:
    import torch

#: how far from orthogonal a stored representation matrix may be (float32 round-trips through JSON)
ORTHOGONALITY = 1e-4


def verify_paths(paths: Sequence[str]) -> VerifyBatch:
    return VerifyBatch([verify_one(p) for p in paths])


def verify_one(path: str, samples: int = 16, seed: int = 0) -> Verification:
    if not os.path.isfile(path):  # torch would block on a FIFO, in C++, beyond the reach of signals
        reason = "no such file" if not os.path.lexists(path) else "not a regular file"
        return Verification(path, False, None, None, 0, "", f"cannot read it as an eqdesign model: {reason}", readable=False)
    try:
        module, extra, fingerprint = _load(path)
        extras = {k: v.decode() if isinstance(v, bytes) else v for k, v in extra.items()}
        parsed = {k: json.loads(extras[k] or "null") for k in ("report.json", "provenance.json", "layout.json", "representations.json")}
    except Exception as err:  # noqa: BLE001 - any unreadable or malformed file is a located "cannot read" (exit 2)
        return Verification(
            path, False, None, None, 0, "", f"cannot read it as an eqdesign model: {type(err).__name__}: {err}", readable=False
        )
    edited, problems = _binding(path, parsed["provenance.json"], fingerprint), _consistency(extras, parsed)
    if edited or problems:
        parts = ([f"the model is not the one built: {'; '.join(edited)}"] if edited else []) + (
            [f"the artifact's extras do not agree: {'; '.join(problems)}"] if problems else []
        )
        return Verification(path, False, None, None, 0, "", "; ".join(parts))
    return _verify(path, module, parsed, samples, seed)


def _load(path: str) -> tuple[Any, dict[str, Any], dict[str, str]]:
    from ..export.artifacts import open_artifact

    return open_artifact(path)


#: what each fingerprint covers, as a message names it
_PARTS = {"weights": "weights (its state-dict tensors)", "code": "code (its program, modules and their attributes)"}


def _binding(path: str, prov: Any, fingerprint: dict[str, str]) -> list[str]:
    """How the artifact's weights and code differ from those its build recorded in provenance.json."""
    from ..export.artifacts import FINGERPRINTS

    kind = "pt2" if path.endswith(".pt2") else "pt"
    recorded = (prov.get(FINGERPRINTS) if isinstance(prov, dict) else None) or {}
    mine = recorded.get(kind) if isinstance(recorded, dict) else None
    name = os.path.basename(path)
    if not isinstance(mine, dict):
        return [f"provenance.json holds no hashes of the weights and code of {name} (not written by this eqdesign, or edited): rebuild it"]
    return [
        f"the {_PARTS[part]} of {name} were changed after the build (their SHA-256 differs from provenance.json)"
        for part in ("weights", "code")
        if mine.get(part) != fingerprint[part]
    ]


def _consistency(extras: dict[str, str], parsed: dict[str, Any]) -> list[str]:
    from ..export.artifacts import HASHED_EXTRAS, OPTIONAL_EXTRAS, sha256

    prov, reps, layout, report = (parsed[k] or {} for k in ("provenance.json", "representations.json", "layout.json", "report.json"))
    hashes = prov.get("extras_sha256") if isinstance(prov, dict) else None
    if not isinstance(hashes, dict):
        return ["provenance.json holds no hashes of the other extras (not written by this eqdesign, or edited)"]
    problems = [
        f"{name} was changed after the build (its SHA-256 differs from provenance.json)"
        for name in HASHED_EXTRAS
        if hashes.get(name) != sha256(extras[name]) and not (name in OPTIONAL_EXTRAS and name not in hashes and not extras[name])
    ]
    if prov.get("spec_sha256") != sha256(extras["spec.yaml"]):
        problems.append("spec.yaml does not match the spec hash in provenance.json")
    return problems + _shape_problems(reps, layout) + _tolerance_problems(reps, report)


def _shape_problems(reps: dict[str, Any], layout: dict[str, Any]) -> list[str]:
    import torch

    try:
        rin, rout = torch.tensor(reps["input"], dtype=torch.float64), torch.tensor(reps["output"], dtype=torch.float64)
    except (KeyError, TypeError, ValueError) as err:
        return [f"representations.json has no usable matrices ({err})"]
    problems = []
    for label, rho, dim in (("input", rin, layout.get("input_dim")), ("output", rout, layout.get("output_dim"))):
        if not isinstance(dim, int) or rho.ndim != 3 or rho.shape[0] == 0 or rho.shape[1:] != (dim, dim):
            problems.append(f"the {label} representation has shape {tuple(rho.shape)}, the layout says {dim}x{dim} matrices")
        elif not bool(torch.isfinite(rho).all()):
            problems.append(f"the {label} representation holds NaN or infinite entries")
        elif float((rho @ rho.transpose(1, 2) - torch.eye(dim, dtype=rho.dtype)).abs().max()) > ORTHOGONALITY:
            problems.append(f"the {label} representation matrices are not orthogonal")
    return problems


def _tolerance_problems(reps: dict[str, Any], report: dict[str, Any]) -> list[str]:
    tol, exact = reps.get("tolerance"), reps.get("exact")
    spec_tol = (report.get("tests") or {}).get("tolerance")
    expected = exact_tolerance("float32") if exact is True else spec_tol  # as build's artifact_tolerance chose
    if not isinstance(tol, (int, float)) or not math.isfinite(tol) or tol <= 0:
        return [f"the stored tolerance {tol!r} is not a positive number"]
    if expected is None or not math.isclose(tol, expected, rel_tol=1e-12):
        return [f"the stored tolerance {tol:g} is not the one the build judged by ({expected})"]
    return []


def _inputs(parsed: dict[str, Any], dim: int, samples: int, seed: int) -> torch.Tensor:
    """Fresh random inputs for an exact model (it must be equivariant on any); for an approximate one, the
    inputs its build measured it on, since its tolerance is a bound measured there, not one for all inputs."""
    import torch

    from ..numerics.suite import probe_input

    build_seed = (parsed["report.json"].get("tests") or {}).get("seed")
    if parsed["representations.json"].get("exact") is False and isinstance(build_seed, int) and not isinstance(build_seed, bool):
        return probe_input(build_seed, 0, dim).float()
    return torch.randn(samples, dim, generator=torch.Generator().manual_seed(seed))


def _verify(path: str, module: Any, parsed: dict[str, Any], samples: int, seed: int) -> Verification:
    import torch

    from ..numerics.equivariance import Probe, measure

    reps = parsed["representations.json"]
    scales = (parsed["report.json"].get("tests") or {}).get("scales") or []
    rin, rout = torch.tensor(reps["input"], dtype=torch.float32), torch.tensor(reps["output"], dtype=torch.float32)
    r = measure(Probe("model", module, rin, rout), _inputs(parsed, rin.shape[1], samples, seed), scales)
    tol = float(reps["tolerance"])
    element = reps["elements"][r.worst_element] if reps.get("elements") else ""
    if not r.finite:
        return Verification(
            path,
            False,
            None,
            tol,
            rin.shape[0],
            element,
            "the equivariance error is not a finite number (NaN or infinite outputs, or no valid input scale)",
        )
    ok = r.passes(tol)
    verdict = "equivariant within tolerance" if ok else "equivariance error above tolerance"
    return Verification(
        path, ok, r.max_rel, tol, rin.shape[0], element, f"{verdict}: {r.max_rel:.2e} (tolerance {tol:.0e}) over {rin.shape[0]} elements"
    )
