"""The build's equivariance test: the escnn model and the compiled module, tested the same way.

Group elements: seeded random samples (the spec's ``tests.samples``) plus some of escnn's fixed elements,
which include the discrete generators (inversion, reflections); every element of a finite group. Inputs
at every scale of ``tests.scales``; float64, and float32 end to end. Errors per layer and end to end, per
output field, as max and mean relative error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from ..analysis.design import Design, Linear, Nonlinear
from .equivariance import Probe, ProbeResult, exact_tolerance, measure

_FIXED_ELEMENTS = 8  # escnn's testing elements added to the random ones (they hold the discrete generators)


def pick_elements(G, samples: int, seed: int) -> list:
    if G.order() > 0:
        return list(G.elements)
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        sampled = [G.sample() for _ in range(samples)]
    finally:
        np.random.set_state(state)
    fixed = [g for _, g in zip(range(_FIXED_ELEMENTS), G.testing_elements())]
    return sampled + fixed


def rep_stack(ftype, elements: list, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(np.stack([np.asarray(ftype.representation(g)) for g in elements]), dtype=dtype)


def field_slices(design_type) -> list[tuple[str, int, int]]:
    out, start = [], 0
    counts: dict[str, int] = {}
    for f, m in design_type.entries:
        for _ in range(m):
            k = counts[f.name] = counts.get(f.name, 0) + 1
            out.append((f"{f.name}#{k}" if m > 1 or k > 1 else f.name, start, start + f.dim))
            start += f.dim
    return out


def is_exact(design: Design, layer) -> bool:
    return not (isinstance(layer, Nonlinear) and layer.kind in ("fourier", "quotient") and not design.group.finite)


@dataclass
class EquivarianceReport:
    results: list[ProbeResult] = field(default_factory=list)
    tolerance: float = 0.0
    failures: list[str] = field(default_factory=list)

    def limit(self, r: ProbeResult, dtype: torch.dtype) -> float:
        return exact_tolerance(dtype) if r.exact else self.tolerance


def _layer_name(layer) -> str:
    return f"linear {layer.index}" if isinstance(layer, Linear) else f"hidden[{layer.index}] {layer.activation}"


def run_equivariance(design: Design, escnn_model, compiled64, compiled32, elements: list) -> EquivarianceReport:
    spec = design.spec.tests
    report = EquivarianceReport(tolerance=spec.tolerance)
    gen = torch.Generator().manual_seed(spec.seed)
    approx_any = not all(is_exact(design, b.layer) for b in escnn_model.built)
    for i, (built, lowered) in enumerate(zip(escnn_model.built, compiled64.layers)):
        module = built.module
        rin = rep_stack(module.in_type, elements, torch.float64)
        rout = rep_stack(module.out_type, elements, torch.float64)
        x = torch.randn(8, module.in_type.size, generator=gen, dtype=torch.float64)
        exact = is_exact(design, built.layer)
        name = _layer_name(built.layer)
        report.results.append(measure(Probe(f"escnn {name}", _escnn_fn(module), rin, rout, exact=exact), x, spec.scales))
        report.results.append(measure(Probe(f"compiled {name}", lowered, rin, rout, exact=exact), x, spec.scales))
    fields = field_slices(design.output)
    for label, fn, dtype in (("escnn", escnn_model, torch.float64), ("compiled", compiled64, torch.float64), ("compiled", compiled32, torch.float32)):
        rin = rep_stack(escnn_model.in_type, elements, dtype)
        rout = rep_stack(escnn_model.out_type, elements, dtype)
        x = torch.randn(16, escnn_model.in_type.size, generator=gen, dtype=torch.float64).to(dtype)
        probe = Probe(f"{label} end-to-end ({str(dtype).replace('torch.', '')})", fn, rin, rout, fields, exact=not approx_any)
        report.results.append(measure(probe, x, spec.scales))
    _judge(report, design, elements)
    return report


def _escnn_fn(module) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda x: module(module.in_type(x)).tensor


def _judge(report: EquivarianceReport, design: Design, elements: list) -> None:
    """One failure for the worst failing layer, and one per failing end-to-end probe."""
    failing = [r for r in report.results if r.max_rel > report.limit(r, _dtype_of(r))]
    layers = [r for r in failing if "end-to-end" not in r.name]
    if layers:
        worst = max(layers, key=lambda r: r.max_rel / report.limit(r, _dtype_of(r)))
        others = sorted({r.name.split(" ", 1)[1] for r in layers} - {worst.name.split(" ", 1)[1]})
        also = f" (also failing: {', '.join(others)})" if others else ""
        report.failures.append(_failure(report, worst, elements, design) + also)
    report.failures.extend(_failure(report, r, elements, design) for r in failing if "end-to-end" in r.name)


def _dtype_of(r: ProbeResult) -> torch.dtype:
    return torch.float32 if "float32" in r.name else torch.float64


def _failure(report: EquivarianceReport, r: ProbeResult, elements: list, design: Design) -> str:
    kind = "exact" if r.exact else "approximate"
    element = " ".join(str(elements[r.worst_element]).split())
    return (f"{r.name}: equivariance error {r.max_rel:.2e} > {report.limit(r, _dtype_of(r)):.0e} ({kind}), worst at "
            f"group element #{r.worst_element} [{element}] and input scale {r.worst_scale:g}; {_fix_hint(design, r)}")


def _fix_hint(design: Design, r: ProbeResult) -> str:
    if r.exact:
        return "an exact layer should never fail: please report this"
    grids = [x.grid for x in design.hidden if x.grid is not None and x.kind in ("fourier", "quotient")]
    finer = ", ".join(f"grid: {{type: {g.type}, n: {2 * (g.n or g.points)}}}" for g in grids[:1])
    return (f"try a finer grid ({finer or 'more points'}), the quotient variant (quotient_fourier_elu), a lower "
            "band_limit, smaller inputs, or a looser tests.tolerance if this error is acceptable")
