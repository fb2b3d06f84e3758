"""Weighted rules on real escnn models: exact polynomial layers, parity closure, and the grid: auto search."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from eqdesign.commands.build import BuildOptions, build_spec
from eqdesign.commands.check import check_file
from eqdesign.escnn_backend.builder import build_escnn
from eqdesign.escnn_backend.families import Euler
from eqdesign.numerics.elements import pick_elements, rep_stack
from eqdesign.numerics.equivariance import Probe, measure

pytestmark = pytest.mark.escnn
Write = Callable[..., Path]


def _model(write_spec: Write, group: str, io: str, layer: str, out: str | None = None) -> Any:
    text = f'name: g\ngroup: {group}\ninput: "{io}"\noutput: "{out or io}"\nhidden:\n  - {layer}\n'
    return build_escnn(check_file(write_spec(text)).design, torch.float64)


def _fourier_module(model: Any) -> Any:
    return next(b.module for b in model.built if hasattr(b.module, "A"))


def _layer_error(model: Any, scales: tuple[float, ...] = (0.3, 1.0, 3.0)) -> float:
    m = _fourier_module(model)
    els = pick_elements(model.G, 16, 0)
    rin = rep_stack(m.in_type.representation, els, torch.float64)
    x = torch.randn(8, rin.shape[1], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return measure(Probe("layer", lambda t: m(m.in_type(t)).tensor, rin, rin, exact=False), x, scales).max_rel


@pytest.mark.parametrize(("group", "io"), [("so3", "1x1 + 1x0"), ("o3", "1x1o + 1x0e")])
@pytest.mark.parametrize("kind", ["fourier", "quotient_fourier"])
def test_a_polynomial_on_its_rule_is_exact_and_elu_on_the_same_rule_is_not(write_spec: Write, group: str, io: str, kind: str) -> None:
    poly = _model(write_spec, group, io, f"{{nonlinearity: {kind}_poly, degree: 2, band_limit: 2, channels: 3}}")
    elu = _model(write_spec, group, io, f"{{nonlinearity: {kind}_elu, band_limit: 2, channels: 3, grid: {{type: quadrature, degree: 6}}}}")
    assert _fourier_module(poly).A.shape == _fourier_module(elu).A.shape  # the same rule (degree (2 + 1) * 2)
    assert _layer_error(poly, (0.3, 1.0, 3.0, 30.0)) < 1e-12
    assert _layer_error(elu) > 1e-4


@pytest.mark.parametrize(("degree", "has_l3"), [(2, False), (3, True)])
def test_a_quadratic_of_one_vector_makes_no_l3(write_spec: Write, degree: int, has_l3: bool) -> None:
    """Sym^2 of an SO(3) vector is 0 + 2; the cube adds 1 + 3. The layer's l = 3 coefficients show it."""
    model = _model(write_spec, "so3", "1x1", f"{{nonlinearity: fourier_poly, degree: {degree}, band_limit: 3, channels: 1}}", "1x0 + 1x2")
    m = _fourier_module(model)
    irreps = [model.G.irrep(*i) for i in m.rho.irreps]
    sizes = [i.size for i in irreps]
    starts = [sum(sizes[:k]) for k in range(len(sizes))]
    l3 = [j for i, s, n in zip(irreps, starts, sizes, strict=True) if i.attributes["frequency"] == 3 for j in range(s, s + n)]
    Q = torch.tensor(m.rho.change_of_basis, dtype=torch.float64)  # columns: irrep coordinates
    ones = [k for i, s, n in zip(irreps, starts, sizes, strict=True) if i.attributes["frequency"] == 1 for k in range(s, s + n)]
    coeffs = torch.zeros(4, m.in_type.size, dtype=torch.float64)
    coeffs[:, ones] = torch.randn(4, len(ones), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    y = m(m.in_type(coeffs @ Q.T)).tensor @ Q  # in and out of irrep coordinates
    share = (y[:, l3].norm() / y.norm()).item()
    assert (share > 1e-3) if has_l3 else (share < 1e-12), share


@pytest.mark.parametrize(("grid", "leaks"), [("", False), (", grid: {type: fibonacci, n: 40}", True)])
def test_parity_leaks_of_the_o3_sphere_vanish_on_rules_closed_under_inversion(write_spec: Write, grid: str, leaks: bool) -> None:
    """An even signal on the sphere stays even under any pointwise activation: its odd harmonics must be
    exactly zero. A rule closed under x -> -x keeps them so; an unweighted Fibonacci grid does not."""
    model = _model(write_spec, "o3", "1x0e + 1x2e", f"{{nonlinearity: quotient_fourier_elu, band_limit: 2, channels: 2{grid}}}")
    m = _fourier_module(model)
    inversion = torch.tensor(m.in_type.representation(Euler(True).element(model.G, 0, 0, 0, 1)), dtype=torch.float64)
    x = torch.randn(6, m.in_type.size, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    even = x @ ((torch.eye(len(inversion)) + inversion) / 2).T
    y = m(m.in_type(even)).tensor
    odd = (y @ ((torch.eye(len(inversion)) - inversion) / 2).T).norm() / y.norm()
    assert (odd > 1e-6) if leaks else (odd < 1e-13), odd.item()


def test_auto_picks_the_cheapest_rule_that_meets_the_tolerance(write_spec: Write, tmp_path: Path) -> None:
    layer = "{nonlinearity: fourier_elu, band_limit: 2, channels: 4}"
    path = write_spec(
        f'name: auto\ngroup: so3\ninput: "1x1 + 1x0"\noutput: "1x1 + 1x0"\nhidden:\n  - {layer}\ntests: {{tolerance: 0.02, scales: [1.0]}}\n'
    )
    result = build_spec(str(path), str(tmp_path), options=BuildOptions(influence=False))
    assert result.ok, result.failures
    (grid,) = result.grids
    tried = [t["error"] for t in grid["tried"]]
    assert grid["error"] == tried[-1] <= 0.8 * 0.02 < min(tried[:-1])  # the first rule good enough, and none before it
    assert [t["points"] for t in grid["tried"]] == sorted({t["points"] for t in grid["tried"]})
    stored = json.loads(Path(tmp_path / "auto.report.json").read_text())["build"]["grids"]
    assert stored[0]["degree"] == grid["degree"] and stored[0]["points"] == grid["points"]


def test_auto_fails_plainly_when_no_rule_within_max_points_is_good_enough(write_spec: Write, tmp_path: Path) -> None:
    layer = "{nonlinearity: fourier_elu, band_limit: 2, channels: 4, grid: {type: auto, max_points: 100}}"
    path = write_spec(
        f'name: tight\ngroup: so3\ninput: "1x1 + 1x0"\noutput: "1x1 + 1x0"\nhidden:\n  - {layer}\ntests: {{tolerance: 0.01}}\n'
    )
    result = build_spec(str(path), str(tmp_path), options=BuildOptions(influence=False))
    assert not result.ok and result.exit_code == 1 and not list(tmp_path.glob("tight.*"))
    assert "no rule within 100 points" in result.failures[0] and "max_points" in result.failures[0]
