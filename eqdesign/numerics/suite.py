"""The build's equivariance suite: every layer and the whole model, escnn and compiled, judged together.

Group elements: seeded random samples (the spec's ``tests.samples``) plus escnn's fixed elements (the
discrete generators); every element of a finite group. Inputs at every scale of ``tests.scales``; float64
per layer and end to end, and float32 end to end. A failure names the worst layer, element and scale, and
what would fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..analysis.design import Design, Linear, Nonlinear
from ..theory.quadrature import exact_degree
from .equivariance import Fn, Probe, ProbeResult, limit_for, measure


@dataclass(frozen=True)
class LayerCase:
    """One layer under test: its implementations (label, fn) share the representations at every element."""

    name: str
    exact: bool
    fns: Sequence[tuple[str, Fn]]
    rho_in: torch.Tensor
    rho_out: torch.Tensor


@dataclass(frozen=True)
class ModelCase:
    """A whole model in one dtype (rho_in/rho_out in that dtype)."""

    label: str
    fn: Fn
    rho_in: torch.Tensor
    rho_out: torch.Tensor


@dataclass
class EquivarianceReport:
    results: list[ProbeResult] = field(default_factory=list)
    tolerance: float = 0.0
    failures: list[str] = field(default_factory=list)

    def limit(self, r: ProbeResult) -> float:
        return limit_for(r, self.tolerance)

    @property
    def exact(self) -> bool:
        return all(r.exact for r in self.results)


def layer_name(layer: Linear | Nonlinear) -> str:
    return f"linear {layer.index}" if isinstance(layer, Linear) else f"hidden[{layer.index}] {layer.activation}"


def is_exact(design: Design, layer: Linear | Nonlinear) -> bool:
    """Only Fourier and quotient layers of continuous groups are approximate (sampled on a grid), unless a
    polynomial activation meets a rule exact to its degree."""
    if not isinstance(layer, Nonlinear) or layer.kind not in ("fourier", "quotient") or design.group.finite:
        return True
    return exact_on_grid(layer)


def exact_on_grid(layer: Nonlinear) -> bool:
    """A degree-p polynomial on a rule exact to (p + 1) L: no aliasing, so exactly equivariant."""
    rule, p, L = (layer.grid.rule if layer.grid else None), layer.poly_degree, layer.band_limit
    return rule is not None and p is not None and L is not None and rule.degree >= exact_degree(L, p)


def run_suite(
    design: Design,
    layers: Sequence[LayerCase],
    models: Sequence[ModelCase],
    fields: Sequence[tuple[str, int, int]],
    element_names: Sequence[str],
) -> EquivarianceReport:
    tests = design.spec.tests
    report = EquivarianceReport(tolerance=tests.tolerance)
    for k, case in enumerate(layers):
        x = probe_input(tests.seed, k + 1, case.rho_in.shape[1])
        for label, fn in case.fns:
            report.results.append(measure(Probe(f"{label} {case.name}", fn, case.rho_in, case.rho_out, exact=case.exact), x, tests.scales))
    exact = all(c.exact for c in layers)
    for m in models:
        dtype = str(m.rho_in.dtype).replace("torch.", "")
        x = probe_input(tests.seed, 0, m.rho_in.shape[1]).to(m.rho_in.dtype)
        probe = Probe(f"{m.label} end-to-end ({dtype})", m.fn, m.rho_in, m.rho_out, fields, exact=exact)
        report.results.append(measure(probe, x, tests.scales))
    _judge(report, design, element_names)
    return report


def probe_input(seed: int, position: int, dim: int) -> torch.Tensor:
    """The inputs the suite feeds a layer (``position`` = its place in the model + 1; 8 rows) or the whole
    model (``position`` 0; 16 rows): drawn per position, so that grid: auto can measure exactly what the
    suite will."""
    gen = torch.Generator().manual_seed(seed * 1009 + position)
    return torch.randn(16 if position == 0 else 8, dim, generator=gen, dtype=torch.float64)


def _judge(report: EquivarianceReport, design: Design, elements: Sequence[str]) -> None:
    """One failure for the worst failing layer, and one per failing end-to-end probe."""
    failing = [r for r in report.results if not r.passes(report.limit(r))]
    layers = [r for r in failing if "end-to-end" not in r.name]
    if layers:
        worst = max(layers, key=lambda r: r.max_rel / report.limit(r))
        others = sorted({r.name.split(" ", 1)[1] for r in layers} - {worst.name.split(" ", 1)[1]})
        also = f" (also failing: {', '.join(others)})" if others else ""
        report.failures.append(_failure(report, worst, elements, design) + also)
    report.failures.extend(_failure(report, r, elements, design) for r in failing if "end-to-end" in r.name)


def _failure(report: EquivarianceReport, r: ProbeResult, elements: Sequence[str], design: Design) -> str:
    if not r.finite:
        return (
            f"{r.name}: the equivariance error is not a finite number (NaN or infinite outputs, or no valid "
            f"input scale); check tests.scales and the layer's numerics"
        )
    kind = "exact" if r.exact else "approximate"
    element = " ".join(elements[r.worst_element].split()) if elements else "?"
    return (
        f"{r.name}: equivariance error {r.max_rel:.2e} > {report.limit(r):.0e} ({kind}), worst at "
        f"group element #{r.worst_element} [{element}] and input scale {r.worst_scale:g}; {_fix_hint(design, r)}"
    )


def _fix_hint(design: Design, r: ProbeResult) -> str:
    if r.exact:
        return "an exact layer should never fail: please report this"
    layers = [x for x in design.hidden if x.grid is not None and x.kind in ("fourier", "quotient")]
    finer = next(filter(None, (finer_grid(design, x) for x in layers)), "")
    return (
        f"try a finer grid ({finer or 'more points'}), a lower band_limit, smaller inputs, or a looser "
        "tests.tolerance if this error is acceptable"
    )


def finer_grid(design: Design, layer: Nonlinear) -> str:
    """A better grid than the layer's that check accepts: the default (auto) for an escnn grid where weighted
    rules exist, a quadrature of higher degree for an explicit one, else an escnn grid of at least twice the
    points ("" when there is none)."""
    assert layer.grid is not None
    where = f"{layer.path[0]}[{layer.path[1]}].grid"
    if layer.grid.rule is not None and layer.grid.type == "quadrature":
        return f"{where}: {{type: quadrature, degree: {layer.grid.rule.degree + 2}}}, or remove it for grid: auto"
    if layer.grid.rule is None and design.group.quadrature_space(layer.quotient) is not None:
        return f"remove {where} (the default, grid: auto, sizes a weighted quadrature to tests.tolerance)"
    types = design.group.quotient_grid_types(layer.quotient) if layer.quotient else design.group.grid_types()
    name = (
        layer.grid.type
        if types.get(layer.grid.type) and types[layer.grid.type].takes_n
        else next((t for t, k in types.items() if k.takes_n), None)
    )
    if name is None:
        return ""
    kind, n = types[name], types[name].min_n
    while kind.points(n) < 2 * layer.grid.points:
        n += 1
    return f"{where}: {{type: {name}, n: {n}}}"
