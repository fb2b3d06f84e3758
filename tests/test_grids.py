"""Grids in the spec: grid: auto, quadrature rules, the keys each kind takes, the static advice (EQ107), and
what a polynomial activation can reach (Sym^0..Sym^p of the channel's content)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from eqdesign.commands.check import check_file
from eqdesign.theory.quadrature import RuleShape

Write = Callable[..., Path]


def _spec(layer: str, group: str = "so3", inp: str = "1x1 + 1x0", out: str = "1x0 + 1x1 + 1x2", tests: str = "") -> str:
    lines = [f'name: g\ngroup: {group}\ninput: "{inp}"\noutput: "{out}"\nhidden:\n  - {layer}\n']
    return "".join(lines) + (f"tests: {tests}\n" if tests else "")


def _findings(write_spec: Write, text: str) -> list[tuple[str, int, int, str]]:
    result = check_file(write_spec(text))
    return [(f.rule, f.location.line, f.location.column, f.message) for f in result.all_findings()]


@pytest.mark.parametrize("grid", ["", ", grid: auto", ", grid: {type: auto}", ", grid: {type: auto, max_points: 5000}"])
def test_the_default_grid_is_auto_from_the_exact_transform(write_spec: Write, grid: str) -> None:
    result = check_file(write_spec(_spec(f"{{nonlinearity: fourier_elu, band_limit: 2, channels: 4{grid}}}")))
    layer = result.design.hidden[0]
    assert layer.grid.type == "auto" and layer.grid.rule == RuleShape("so3", 4, False)
    assert layer.grid.points == 70 and layer.grid.coefficients == 35
    assert layer.grid.max_points == (5000 if "5000" in grid else 20_000)
    assert result.exit_code() == 0


@pytest.mark.parametrize(
    ("group", "quotient", "space", "flipped"),
    [
        ("so2", "", "circle", False),
        ("o2", "", "circle", True),
        ("o2", "circle", "circle", False),
        ("o3", "", "so3", True),
        ("o3", "sphere", "sphere", False),
    ],
)
def test_each_space_gets_its_rule(write_spec: Write, group: str, quotient: str, space: str, flipped: bool) -> None:
    kind = f"quotient_fourier_elu, quotient: {quotient}" if quotient else "fourier_elu"
    io = {"so2": "1", "o2": "1", "o3": "1x1o"}[group]
    result = check_file(write_spec(_spec(f"{{nonlinearity: {kind}, band_limit: 2, channels: 2}}", group, io, io)))
    step = 2 if space == "circle" else 1  # circles: a multiple of lcm(1, 2) points, for the selection rules
    assert result.design.hidden[0].grid.rule == RuleShape(space, 4, flipped, step)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("grid", "at", "words"),
    [
        ("{type: auto, n: 4}", "4}", "takes no n"),
        ("{type: quadrature}", "{type", "needs degree"),
        ("{type: quadrature, max_points: 9}", "9}", "takes no max_points"),
        ("{type: thomson_cube, n: 4, degree: 3}", "3}", "takes no degree"),
        ("{type: bogus, n: 4}", "bogus", "not available"),
    ],
)
def test_grid_keys_belong_to_their_kind(write_spec: Write, grid: str, at: str, words: str) -> None:
    layer = f"{{nonlinearity: fourier_elu, band_limit: 2, channels: 4, grid: {grid}}}"
    found = _findings(write_spec, _spec(layer))
    column = len("  - ") + layer.index("grid: ") + len("grid: ") + grid.index(at) + 1
    assert found[0][0] == "schema" and found[0][1:3] == (6, column) and words in found[0][3], found


def test_a_degree_belongs_to_polynomial_layers_only(write_spec: Write) -> None:
    layer = "{nonlinearity: fourier_elu, band_limit: 2, channels: 4, degree: 2}"
    found = _findings(write_spec, _spec(layer))
    assert found[0][0] == "schema" and found[0][1:3] == (6, 4 + layer.index("2}") + 1) and "takes no degree" in found[0][3]


def test_a_too_coarse_unweighted_grid_is_predicted_and_located(write_spec: Write) -> None:
    layer = "{nonlinearity: fourier_elu, band_limit: 2, channels: 4, grid: {type: thomson_cube, n: 4}}"
    coarse = _findings(write_spec, _spec(layer, tests="{tolerance: 0.02}"))
    assert [(r, line, col) for r, line, col, _ in coarse] == [("grid-too-coarse", 6, 4 + layer.index("{type") + 1)]
    assert "96 points" in coarse[0][3] and "about 9%" in coarse[0][3]
    assert _findings(write_spec, _spec(layer, tests="{tolerance: 0.2}")) == []  # 0.25 / 2.7 < 0.2: no warning


def test_exact_transform_rules_are_not_ill_conditioned(write_spec: Write) -> None:
    """A uniform circle of 2L + 1 points has as many points as coefficients, and an exact transform."""
    assert _findings(write_spec, _spec("{nonlinearity: fourier_elu, band_limit: 2, channels: 4}", "so2", "1", "0 + 1 + 2")) == []


def test_polynomial_layers_sit_on_their_exact_rule(write_spec: Write) -> None:
    result = check_file(write_spec(_spec("{nonlinearity: fourier_poly, degree: 3, band_limit: 2, channels: 4}")))
    layer = result.design.hidden[0]
    assert layer.poly_degree == 3 and layer.grid.rule == RuleShape("so3", 8, False)  # (3 + 1) * 2


@pytest.mark.parametrize(("degree", "unreachable"), [(2, {"3"}), (3, set())])
def test_a_degree_p_polynomial_reaches_sym_up_to_p(write_spec: Write, degree: int, unreachable: set[str]) -> None:
    """From one SO(3) vector: Sym^2 holds 0 + 2, Sym^3 holds 1 + 3."""
    layer = f"{{nonlinearity: fourier_poly, degree: {degree}, band_limit: 3, channels: 4}}"
    result = check_file(write_spec(_spec(layer, inp="1x1", out="1x0 + 1x1 + 1x2 + 1x3")))
    flagged = {f.message.split()[1] for f in result.all_findings() if f.rule == "unreachable-output"}
    assert flagged == unreachable, [f.message for f in result.all_findings()]


@pytest.mark.parametrize(
    ("grid", "hint"),
    [
        (
            ", grid: {type: thomson_cube, n: 4}",
            "remove hidden[0].grid (the default, grid: auto, sizes a weighted quadrature to tests.tolerance)",
        ),
        (", grid: {type: quadrature, degree: 6}", "hidden[0].grid: {type: quadrature, degree: 8}, or remove it for grid: auto"),
    ],
)
def test_a_failing_layer_is_offered_a_grid_the_spec_does_not_have(write_spec: Write, grid: str, hint: str) -> None:
    from eqdesign.numerics.suite import finer_grid

    result = check_file(write_spec(_spec(f"{{nonlinearity: fourier_elu, band_limit: 2, channels: 4{grid}}}")))
    assert finer_grid(result.design, result.design.hidden[0]) == hint


def test_the_unreachable_hint_raises_the_polynomial_degree(write_spec: Write) -> None:
    layer = "{nonlinearity: fourier_poly, degree: 2, band_limit: 3, channels: 4}"
    result = check_file(write_spec(_spec(layer, inp="1x1", out="1x0 + 1x2 + 1x3")))
    (finding,) = [f for f in result.all_findings() if f.rule == "unreachable-output"]
    assert "raise degree of hidden[0] to 3" in finding.hint
    fixed = check_file(write_spec(_spec(layer.replace("degree: 2", "degree: 3"), inp="1x1", out="1x0 + 1x2 + 1x3"), "fixed.yaml"))
    assert not [f for f in fixed.all_findings() if f.rule == "unreachable-output"]
