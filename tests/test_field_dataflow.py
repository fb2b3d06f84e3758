"""Norm and gated nonlinearities act on whole fields, and the dataflow must follow them.

On the cylinder groups a ``vector`` is one field of two irreps (xy and z). A norm nonlinearity multiplies
the field by a function of its whole norm, so each part depends on the other's inputs; a gate multiplies
every part by the same sigmoid of a trivial field, so the parts stay apart. The specs in
tests/corpus/crosscheck pin these cases down twice: statically (fast, no torch or escnn) against the
influence written out below, and by building each with escnn and comparing the measured influence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from eqdesign.commands.check import check_file

CROSSCHECK = Path(__file__).resolve().parent / "corpus" / "crosscheck"
SPECS = sorted(CROSSCHECK.glob("*.yaml"))

# Output irrep -> the input irreps it depends on, as `check` must report it (and `build` measure it).
EXPECTED: dict[str, dict[str, list[str]]] = {
    # norm: each part of a vector depends on both parts
    "cylinder-norm-vector": {"0o": ["0o", "1o"], "1o": ["0o", "1o"]},
    "full-cylinder-norm-vector": {"0-o": ["0-o", "1o"], "1o": ["0-o", "1o"]},
    # the z input reaches the xy output only through the norm: not an unused input
    "cylinder-norm-z-feeds-xy": {"1o": ["0o", "1o"]},
    # a dead z part contributes nothing to the norm
    "cylinder-norm-dead-part": {"1o": ["1o"]},
    # separate fields of one norm layer stay apart
    "cylinder-norm-mixed-fields": {"0o": ["0o", "1o"], "1o": ["0o", "1o"], "2e": ["2e"]},
    # gates scale every part by the same trivial field: the gate's deps come in, the parts stay apart
    "cylinder-gated-vector": {"0e": ["0e"], "0o": ["0e", "0o"], "1o": ["0e", "1o"]},
    "full-cylinder-gated-vector": {"0-o": ["0-o"], "1o": ["1o"]},
    "full-cylinder-gated-then-norm": {"0e": ["0e"], "0-o": ["0-o", "0e", "1o"], "1o": ["0-o", "0e", "1o"]},
    # full_ico / full_octa: the vector is the single irrep T1u
    "full-ico-gated-vector": {"Ag": ["Ag"], "T1u": ["Ag", "T1u"]},
    "full-ico-norm-vector": {"T1g": ["T1g"], "T1u": ["T1u"]},
    "full-octa-gated-vector": {"Eg": ["A1g", "Eg"], "T1u": ["A1g", "T1u"]},
    "full-octa-norm-vector": {"T1u": ["T1u"]},
}


def test_every_crosscheck_spec_has_an_expectation():
    assert sorted(p.stem for p in SPECS) == sorted(EXPECTED)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_static_influence(path: Path):
    result = check_file(path)
    assert result.internal_error is None and result.exit_code() == 0, [f.message for f in result.findings]
    assert result.design.spec.name == path.stem
    assert result.influence == EXPECTED[path.stem]


def test_norm_mixing_lists_the_whole_field():
    result = check_file(CROSSCHECK / "cylinder-norm-mixed-fields.yaml")
    assert result.flow.mixing == [{"1o": ["0o", "1o"], "0o": ["0o", "1o"], "2e": ["2e"]}]


def test_gated_mixing_lists_the_part_and_its_gate():
    result = check_file(CROSSCHECK / "cylinder-gated-vector.yaml")
    assert result.flow.mixing == [{"0e": ["0e"], "1o": ["0e", "1o"], "0o": ["0e", "0o"]}]


@pytest.mark.parametrize("name", ["cylinder-norm-vector", "cylinder-norm-z-feeds-xy"])
def test_coupled_vector_is_neither_decoupled_nor_unused(name: str):
    rules = {f.rule for f in check_file(CROSSCHECK / f"{name}.yaml").findings}
    assert not rules & {"decoupled", "unused-input"}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, dict]:
    """Build every crosscheck spec in one `eqdesign build` process; its JSON reports by spec name."""
    pytest.importorskip("torch")
    pytest.importorskip("escnn")
    out = tmp_path_factory.mktemp("crosscheck")
    proc = run_cli("build", *map(str, SPECS), "-o", str(out), "--format", "json")
    reports = json.loads(proc.stdout)["builds"]
    assert reports, f"no JSON from build (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    return {r["spec"]["name"]: r for r in reports}


@pytest.mark.escnn
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_measured_influence_matches_static(built: dict[str, dict], path: Path):
    report = built.get(path.stem)
    assert report is not None, f"build reported nothing for {path.name}"
    build = report["build"]
    assert build["ok"] and build["exit_code"] == 0, build["failures"]
    measured = {out: sorted(deps) for out, deps in build["influence"]["measured"].items()}
    assert measured == report["spec"]["influence"] == EXPECTED[path.stem]
