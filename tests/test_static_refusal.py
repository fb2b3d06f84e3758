"""What `build` would refuse, `check` must refuse first, with a located error whose hint works.

- grid point counts: check's count equals what escnn samples, for every grid type check accepts;
- hints that propose a rewrite are applied here and the rewritten spec is checked again;
- the spec's limits agree with the libraries they protect (group registry, numpy seeds);
- floats that YAML 1.1 leaves as strings (``1e-3``) are read as numbers where the spec wants a float.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from conftest import run_cli
from eqdesign.commands.check import check_file
from eqdesign.findings import SPEC_RULES, Severity
from eqdesign.spec.model import GROUP_NAMES, ORDERED_GROUPS, SEED_MAX
from eqdesign.theory.registry import KINDS, make_group

# A spec around one Fourier layer, for each continuous group with grids.
_IO = {"so3": "1x1", "o3": "1x1o", "so2": "1", "o2": "1"}
_THOMSON = {"thomson", "thomson_cube"}  # numerically optimised grids: keep n small (escnn caches them on disk)


def _spec(group: str, quotient: str | None, grid: str) -> str:
    layer = "fourier_elu" if quotient is None else f"quotient_fourier_elu, quotient: {quotient}"
    return (
        f'name: t\ngroup: {group}\ninput: "{_IO[group]}"\noutput: "{_IO[group]}"\n'
        f"hidden:\n  - {{nonlinearity: {layer}, band_limit: 1, channels: 1, grid: {grid}}}\n"
    )


def _grid_cases() -> list:
    """Every (group, quotient, type, n) that check accepts, from the groups' own tables, so none is missed."""
    cases = []
    for key in _IO:
        g = make_group(key)
        spaces = [(None, g.grid_types())] + [(q, g.quotient_grid_types(q)) for q in g.quotients()]
        for quotient, types in spaces:
            for name, kind in types.items():
                ns = [None] if not kind.takes_n else ([1] if name in _THOMSON else [kind.min_n, kind.min_n + 1, 7])
                cases += [pytest.param(key, quotient, name, n, id=f"{key}-{quotient or 'group'}-{name}-{n}") for n in ns]
    return cases


def _escnn_points(key: str, quotient: str | None, kind: str, n: int | None) -> int:
    """How many points escnn samples, called the way eqdesign's build calls it."""
    import escnn.group as eg

    from eqdesign.analysis.design import Grid
    from eqdesign.escnn_backend.families import family

    G = {"so3": eg.so3_group, "o3": eg.o3_group, "so2": eg.so2_group, "o2": eg.o2_group}[key](2)
    group = make_group(key)
    return len(family(group).design_grid(G, group, Grid(kind, n, 0, 0), quotient))


def _check_points(tmp_path: Path, key: str, quotient: str | None, kind: str, n: int | None) -> int:
    grid = f"{{type: {kind}}}" if n is None else f"{{type: {kind}, n: {n}}}"
    path = tmp_path / "spec.yaml"
    path.write_text(_spec(key, quotient, grid))
    result = check_file(path)
    assert result.design is not None and not result.spec_error, [f.message for f in result.findings]
    (layer,) = [x for x in result.design.hidden if x.grid is not None]
    return layer.grid.points


@pytest.mark.escnn
@pytest.mark.parametrize("key, quotient, kind, n", _grid_cases())
def test_check_counts_grid_points_like_escnn(tmp_path: Path, key: str, quotient: str | None, kind: str, n: int | None):
    pytest.importorskip("escnn")
    assert _check_points(tmp_path, key, quotient, kind, n) == _escnn_points(key, quotient, kind, n)


def test_o3_random_grid_is_not_doubled(tmp_path: Path):
    # escnn's O3.grid("rand", n) draws n elements of O(3); the other O(3) grids repeat SO(3) points twice.
    assert _check_points(tmp_path, "o3", None, "rand", 15) == 15
    assert _check_points(tmp_path, "o3", None, "thomson", 5) == 10


# -- hints that propose a rewrite must work -------------------------------------------------------------------


def _first_error(path: Path):
    result = check_file(path)
    errors = [f for f in result.findings if f.severity == Severity.ERROR]
    return result, (errors[0] if errors else None)


def _add_n(hint: str, text: str) -> str:
    n = re.search(r"(?:add|use) n: (\d+)", hint).group(1)
    return re.sub(r"grid: \{type: (\w+)(, n: \d+)?\}", rf"grid: {{type: \1, n: {n}}}", text)


def _write_value(hint: str, text: str) -> str:
    key, value = re.search(r"write (\w+): (\S+)", hint).groups()
    return re.sub(rf"\b{key}: [^,}}\n]+", f"{key}: {value}", text)


def _remove_n(hint: str, text: str) -> str:
    assert "remove 'n: " in hint
    return re.sub(r", n: \d+", "", text)


def _use_group(hint: str, text: str) -> str:
    name = re.search(r"group: (\w+)", hint).group(1)
    return re.sub(r"group: \{[^}]*\}", f"group: {name}", text)


_FIXES: list[tuple[str, str, Callable[[str, str], str]]] = [
    (_spec("so3", None, "{type: thomson_cube}"), "schema", _add_n),
    (_spec("so3", None, "{type: rand}"), "schema", _add_n),
    (_spec("o3", None, "{type: thomson}"), "schema", _add_n),
    (_spec("so2", None, "{type: regular}"), "schema", _add_n),
    (_spec("o2", None, "{type: rand}"), "schema", _add_n),
    (_spec("o2", "circle", "{type: regular}"), "schema", _add_n),
    (_spec("o3", "sphere", "{type: fibonacci, n: 1}"), "schema", _add_n),
    (_spec("so3", "sphere", "{type: thomson}"), "schema", _add_n),
    (_spec("so3", None, "{type: ico, n: 5}"), "schema", _remove_n),
    (_spec("so3", "sphere", "{type: cube, n: 2}"), "schema", _remove_n),
    ('name: t\ngroup: {name: cyclic, n: "8"}\ninput: "1"\noutput: "1"\n', "schema", _write_value),
    ('name: t\ngroup: {name: so3, n: 3}\ninput: "1"\noutput: "1"\n', "schema", _use_group),
    ('name: t\ngroup: {name: su3, n: 3}\ninput: "1"\noutput: "1"\n', "unknown-group", _use_group),
    ('name: t\ngroup: so3\ninput: "1"\noutput: "1"\ntests: {seed: 1e3}\n', "schema", _write_value),
    ('name: t\ngroup: so3\ninput: "1"\noutput: "1"\ntests: {samples: "12"}\n', "schema", _write_value),
    ('name: t\ngroup: {name: dihedral, n: 6.0}\ninput: "1"\noutput: "1"\n', "schema", _write_value),
]


@pytest.mark.parametrize("text, rule, fix", _FIXES, ids=[f"{i}-{f[2].__name__}" for i, f in enumerate(_FIXES)])
def test_hint_fixes_the_error(write_spec, text: str, rule: str, fix: Callable[[str, str], str]):
    result, error = _first_error(write_spec(text))
    assert result.exit_code() == 2 and error is not None and error.rule == rule, [f.message for f in result.findings]
    fixed = fix(error.hint, text)
    assert fixed != text, error.hint
    again = check_file(write_spec(fixed, "fixed.yaml"))
    remaining = [f"{f.rule}: {f.message}" for f in again.findings if f.severity == Severity.ERROR]
    assert not remaining, f"hint {error.hint!r} left {remaining} in\n{fixed}"


# -- located refusals at the CLI ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "group, rule, col",
    [
        ("{name: su3, n: 3}", "EQ004", 15),
        ('{name: cyclic, n: "8"}', "EQ003", 26),
        ("{name: dihedral, n: true}", "EQ003", 28),
        ("{name: so3, n: 3}", "EQ003", 23),
    ],
)
def test_group_mapping_errors_exit_2_located(write_spec, group: str, rule: str, col: int):
    path = write_spec(f'name: t\ngroup: {group}\ninput: "1"\noutput: "1"\n')
    result, error = _first_error(path)
    assert result.exit_code() == 2 and error.rule_id == rule and (error.location.line, error.location.column) == (2, col)
    assert error.hint and error.rule in SPEC_RULES


def test_unknown_group_mapping_exits_2_from_the_cli(write_spec):
    path = write_spec('name: t\ngroup: {name: su3, n: 3}\ninput: "1"\noutput: "1"\n')
    proc = run_cli("check", str(path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ":2:15:" in proc.stdout and "su3" in proc.stdout and "so3" in proc.stdout


# -- the spec's limits agree with what they protect -----------------------------------------------------------


def test_group_names_and_orders_agree_with_the_registry():
    assert set(get_args(GROUP_NAMES)) == set(KINDS)
    assert set(ORDERED_GROUPS) == {name for name, kind in KINDS.items() if kind.needs_n}


def test_seed_range_is_numpys():
    np.random.RandomState(SEED_MAX)
    with pytest.raises(ValueError):
        np.random.RandomState(SEED_MAX + 1)


@pytest.mark.parametrize(
    "tests, ok",
    [
        ("{seed: 0}", True),
        (f"{{seed: {SEED_MAX}}}", True),
        (f"{{seed: {SEED_MAX + 1}}}", False),
        ("{seed: -1}", False),
        ("{seed: 1e20}", False),
        ("{seed: 1.0e+20}", False),
        ("{tolerance: .inf}", False),
        ("{tolerance: .nan}", False),
        ("{tolerance: 1e400}", False),
        ("{tolerance: 0}", False),
        ("{scales: []}", False),
        ("{scales: [1, .nan]}", False),
        ("{scales: [-.inf]}", False),
        ("{scales: [0]}", False),
        ("{samples: 0}", False),
        ("{samples: 1}", True),
    ],
)
def test_tests_section_limits(write_spec, tests: str, ok: bool):
    result, error = _first_error(write_spec(f'name: t\ngroup: so3\ninput: "1"\noutput: "1"\ntests: {tests}\n'))
    assert result.internal_error is None
    if ok:
        assert error is None, error
    else:
        assert result.exit_code() == 2 and error.rule == "schema" and error.location.line == 5 and error.hint, error


# -- floats YAML 1.1 leaves as strings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written, value",
    [
        ("1e-3", 1e-3),
        ("1E-3", 1e-3),
        ("+2e-1", 0.2),
        ("5e-2", 0.05),
        ("1.0e-3", 1e-3),
        ('"1e-3"', 1e-3),
        ("3", 3.0),
    ],
)
def test_exponent_floats_are_numbers(write_spec, written: str, value: float):
    result = check_file(write_spec(f'name: t\ngroup: so3\ninput: "1"\noutput: "1"\ntests: {{tolerance: {written}, scales: [{written}]}}\n'))
    assert not result.spec_error, [f.message for f in result.findings]
    assert result.loaded.spec.tests.tolerance == pytest.approx(value)
    assert result.loaded.spec.tests.scales == [pytest.approx(value)]


@pytest.mark.parametrize("written", ["1e", "e3", "1e3.5", "1.5.2", "inf", "nan", "1e-3e"])
def test_other_strings_are_not_numbers(write_spec, written: str):
    result, error = _first_error(write_spec(f'name: t\ngroup: so3\ninput: "1"\noutput: "1"\ntests: {{tolerance: {written}}}\n'))
    assert result.exit_code() == 2 and error.rule == "schema" and repr(written) in error.message
    assert "> 0 and <= 10" in error.hint
