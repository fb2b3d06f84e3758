"""Equivariance measured honestly: random group elements, several input scales, per layer and per field.

Nothing here imports escnn: a test takes callables and the representation matrices of their input and
output at the chosen group elements, so the same code checks the escnn model at build time and a
compiled artifact later (``eqdesign verify``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch


@dataclass(frozen=True)
class Probe:
    """One function under test with its representations at every element: rho_in[k], rho_out[k]."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    rho_in: torch.Tensor  # (elements, d_in, d_in)
    rho_out: torch.Tensor  # (elements, d_out, d_out)
    fields: Sequence[tuple[str, int, int]] = ()  # output fields: (name, start, stop)
    exact: bool = True


@dataclass
class ProbeResult:
    name: str
    exact: bool
    max_rel: float
    mean_rel: float
    worst_element: int
    worst_scale: float
    per_field: dict[str, tuple[float, float]] = field(default_factory=dict)  # field -> (max, mean)


def _rel(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return (a - b).norm(dim=1) / scale.clamp_min(1e-30)


def measure(probe: Probe, x: torch.Tensor, scales: Sequence[float]) -> ProbeResult:
    """Relative error ||f(rho_in(g) x) - rho_out(g) f(x)|| / ||f(x)||, over elements, scales and samples."""
    rel_all, fields_all = [], {name: [] for name, _, _ in probe.fields}
    worst = (-1.0, 0, 0.0)
    with torch.no_grad():
        for s in scales:
            xs = x * s
            fx = probe.fn(xs)
            norm = fx.norm(dim=1).mean().expand(fx.shape[0])
            for k in range(probe.rho_in.shape[0]):
                lhs = probe.fn(xs @ probe.rho_in[k].T)
                rhs = fx @ probe.rho_out[k].T
                rel = _rel(lhs, rhs, norm)
                rel_all.append(rel)
                if rel.max().item() > worst[0]:
                    worst = (rel.max().item(), k, s)
                for name, a, b in probe.fields:
                    fields_all[name].append(_rel(lhs[:, a:b], rhs[:, a:b], norm))
    rel = torch.cat(rel_all)
    per_field = {n: (torch.cat(v).max().item(), torch.cat(v).mean().item()) for n, v in fields_all.items() if v}
    return ProbeResult(probe.name, probe.exact, rel.max().item(), rel.mean().item(), worst[1], worst[2], per_field)


def exact_tolerance(dtype: torch.dtype) -> float:
    """What an exactly equivariant layer must reach in this dtype."""
    return 1e-5 if dtype == torch.float32 else 1e-12
