"""The one equivariance check: ||f(rho_in(g) x) - rho_out(g) f(x)|| / mean ||f(x)||, over group elements,
input scales and samples, per output field; used by ``build``, ``verify`` and the tests alike.

Normalisation: each sample's error is divided by the batch-mean output norm (floored at ABSOLUTE_FLOOR),
so a sample whose own output happens to be small does not inflate the error. Any NaN or infinity, in
the inputs, the outputs or the representations, makes the error infinite: a comparison with NaN would
otherwise never fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from .tolerances import ABSOLUTE_FLOOR, exact_tolerance

Fn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Probe:
    """One function under test with its representations at every element: rho_in[k], rho_out[k]."""

    name: str
    fn: Fn
    rho_in: torch.Tensor  # (elements, d_in, d_in)
    rho_out: torch.Tensor  # (elements, d_out, d_out)
    fields: Sequence[tuple[str, int, int]] = ()  # output fields: (name, start, stop)
    exact: bool = True

    @property
    def dtype_name(self) -> str:
        return str(self.rho_in.dtype).replace("torch.", "")


@dataclass
class ProbeResult:
    name: str
    exact: bool
    max_rel: float  # inf when anything measured was NaN or infinite
    mean_rel: float
    worst_element: int
    worst_scale: float
    dtype: str = "float64"
    per_field: dict[str, tuple[float, float]] = field(default_factory=dict)  # field -> (max, mean)

    @property
    def finite(self) -> bool:
        return math.isfinite(self.max_rel)

    def passes(self, limit: float) -> bool:
        return self.finite and math.isfinite(limit) and self.max_rel <= limit


def _errors(lhs: torch.Tensor, rhs: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    rel = (lhs - rhs).norm(dim=1) / ref
    return torch.where(torch.isfinite(rel), rel, torch.full_like(rel, math.inf))


def measure(probe: Probe, x: torch.Tensor, scales: Sequence[float]) -> ProbeResult:
    """The probe's relative equivariance error over every element and scale (max, mean, where the worst is)."""
    rel_all: list[torch.Tensor] = []
    fields_all: dict[str, list[torch.Tensor]] = {name: [] for name, _, _ in probe.fields}
    worst = (-1.0, 0, 0.0)
    with torch.no_grad():
        for s in scales:
            xs = x * s
            fx = probe.fn(xs)
            ref = fx.norm(dim=1).mean().clamp_min(ABSOLUTE_FLOOR).expand(fx.shape[0])
            for k in range(probe.rho_in.shape[0]):
                lhs, rhs = probe.fn(xs @ probe.rho_in[k].T), fx @ probe.rho_out[k].T
                rel = _errors(lhs, rhs, ref)
                rel_all.append(rel)
                if rel.numel() and rel.max().item() > worst[0]:
                    worst = (rel.max().item(), k, s)
                for name, a, b in probe.fields:
                    fields_all[name].append(_errors(lhs[:, a:b], rhs[:, a:b], ref))
    return _result(probe, rel_all, fields_all, worst, scales)


def _result(
    probe: Probe,
    rel_all: list[torch.Tensor],
    fields_all: dict[str, list[torch.Tensor]],
    worst: tuple[float, int, float],
    scales: Sequence[float],
) -> ProbeResult:
    if not rel_all or not all(math.isfinite(s) and s > 0 for s in scales):
        # nothing measured (no element, no scale) or a scale that makes every figure meaningless
        return ProbeResult(probe.name, probe.exact, math.inf, math.inf, 0, math.nan, probe.dtype_name)
    rel = torch.cat(rel_all)
    per_field = {n: (torch.cat(v).max().item(), torch.cat(v).mean().item()) for n, v in fields_all.items() if v}
    return ProbeResult(probe.name, probe.exact, rel.max().item(), rel.mean().item(), worst[1], worst[2], probe.dtype_name, per_field)


def limit_for(result: ProbeResult, tolerance: float) -> float:
    """What a probe must reach: the dtype's exact tolerance for exact layers, the spec's otherwise."""
    return exact_tolerance(result.dtype) if result.exact else tolerance
