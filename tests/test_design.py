"""`eqdesign design`: the search, its explanations, impossible asks, the JSON document, and (escnn) --measure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eqdesign.analysis.budget import AUTO_MARGIN, Limits, auto_rule_needed, design_excesses, tolerance_excesses
from eqdesign.analysis.checking import check_file
from eqdesign.analysis.search import Ask
from eqdesign.analysis.search import run_search as design
from eqdesign.api.designing import measure_in_processes
from eqdesign.exitcodes import ExitCode
from eqdesign.numerics.gridsearch import auto_layers
from tests.conftest import invoke_cli, run_cli

ACCEPTANCE = Ask("so3", "1x vector + 1x 0", "2x vector + 1x 0", 50_000, 0.02)


def test_the_acceptance_ask_yields_a_spec_that_passes_check(tmp_path: Path) -> None:
    result = design(ACCEPTANCE)
    assert result.exit_code == ExitCode.OK
    path = tmp_path / "spec.yaml"
    path.write_text(result.text)
    checked = check_file(path)
    assert checked.exit_code() == ExitCode.OK and checked.errors == 0
    assert checked.design is not None and checked.design.params <= 50_000
    # every output depends on every input, as some equivariant network could make it
    assert checked.influence == checked.ideal_influence
    # norm layers alone never let the scalar output see the vector: rejected, with check's reason
    reasons = dict(result.rejected)
    assert "norm" in reasons and "decoupled" in reasons["norm"]
    assert "cannot depend on input 1" in reasons["gated"]
    assert "# Rejected families" in result.text and "# Candidates that pass" in result.text


TIGHT = 1e-4


def test_a_tight_tolerance_is_never_promised_on_a_grid_build_cannot_reach() -> None:
    """At 1e-4, ELU on a grid would need rules far beyond build's limits (its search would climb for many
    minutes, then fail): every sampled candidate is rejected with build's limit, and what is ranked
    (exact layers, polynomial Fourier layers among them) fits every limit build has."""
    result = design(Ask("so3", "1x vector + 1x 0", "2x vector + 1x 0", 50_000, TIGHT))
    assert result.exit_code == ExitCode.OK
    reasons = dict(result.rejected)
    for family in ("fourier", "fourier+quotient", "tensor+fourier"):  # SO(3) grids: too many points
        assert "above the limit of 20,000 (EQDESIGN_LIMIT_MAX_POINTS)" in reasons[family] and "fourier_poly" in reasons[family]
    assert "grid: auto's search would measure" in reasons["quotient"]  # sphere grids: too many rules to try
    assert {"fourier_poly", "quotient_poly"} <= {c.family for c in result.ranked}  # offered
    for c in result.ranked:
        assert c.exact and c.predicted_error(TIGHT) == 0
        assert c.result.design is not None and not tolerance_excesses(c.result.design, TIGHT, Limits())


def test_where_only_fourier_layers_reach_the_output_a_tight_tolerance_gets_a_polynomial_layer(tmp_path: Path) -> None:
    """1 -> 4 on SO(3) needs a Fourier layer (gated, norm and tensor-product layers never reach degree 4
    from a vector). At 1e-4 the winner is a polynomial Fourier design: its grid is the exact rule check
    chooses, so build has no grid to search, and the written spec is within every limit of build."""
    result = design(Ask("so3", "1x 1", "1x 4", 5_000, TIGHT))
    assert result.exit_code == ExitCode.OK
    win = result.ranked[0]
    assert win.poly and win.exact and all(c.poly for c in result.ranked)
    path = tmp_path / "tight.yaml"
    path.write_text(result.text)
    checked = check_file(path)
    assert checked.exit_code() == ExitCode.OK and checked.design is not None
    assert not auto_layers(checked.design)  # no grid: auto search at build
    assert not design_excesses(checked.design, Limits()) and not tolerance_excesses(checked.design, TIGHT, Limits())
    assert "Exactly equivariant: yes" in result.text


def test_at_the_default_tolerance_elu_still_ranks_before_polynomials() -> None:
    result = design(Ask("so3", "1x 1", "1x 4", 50_000, 0.02))
    assert result.exit_code == ExitCode.OK
    assert not result.ranked[0].poly and any(c.poly for c in result.ranked)
    first_poly = next(k for k, c in enumerate(result.ranked) if c.poly)
    assert all(c.poly for c in result.ranked[first_poly:])


def test_parity_mixing_is_reached_by_every_candidate() -> None:
    """O(3): two polar vectors in, a pseudovector (their cross product) out. Norm and gated layers never
    turn 1o into 1e, and a tensor product of one copy of each irrep holds only its symmetric square; two
    copies hold the cross product, so the winner is exact."""
    result = design(Ask("o3", "2x1o", "1x1e", 50_000, 0.02))
    assert result.exit_code == ExitCode.OK and result.ranked
    for c in result.ranked:
        assert c.result.influence["1e"] == ["1o"]
    assert result.ranked[0].family.startswith("tensor2") and result.ranked[0].exact
    reasons = dict(result.rejected)
    for family in ("norm", "gated", "tensor+norm", "tensor+gated"):
        assert "unreachable-output: output 1e is identically zero" in reasons[family]
    assert "two copies" in reasons["tensor+norm"] and "mixes irreps" in reasons["norm"]


def test_a_partial_spec_keeps_its_layers_in_front(tmp_path: Path) -> None:
    partial = tmp_path / "partial.yaml"
    partial.write_text(
        "name: mine\ngroup: so3\ninput: '1x vector + 1x 0'\noutput: '2x vector + 1x 0'\n"
        "hidden:\n  - {nonlinearity: gated, fields: '4x1', scalars: 4}\n"
    )
    result = design(Ask("", "", "", 20_000, 0.02, partial=str(partial)))
    assert result.exit_code == ExitCode.OK
    path = tmp_path / "designed.yaml"
    path.write_text(result.text)
    checked = check_file(path)
    assert checked.exit_code() == ExitCode.OK and checked.design is not None and checked.design.params <= 20_000
    first = checked.design.hidden[0]
    assert (first.kind, first.scalars, first.in_type.irreps_string()) == ("gated", 4, "8x0 + 4x1")  # 4 scalars and 4 gates
    assert len(checked.design.hidden) > 1 and checked.influence == checked.ideal_influence


def test_a_broken_partial_spec_gets_checks_located_message(tmp_path: Path) -> None:
    partial = tmp_path / "partial.yaml"
    partial.write_text("name: mine\ngroup: so3\ninput: '1x1'\noutput: '1x1'\nhidden:\n  - {nonlinearity: fourier_elu, band_limt: 2}\n")
    done = invoke_cli("design", "--from", str(partial), "-f", "json")
    doc = json.loads(done.stdout)
    assert done.returncode == 2 and doc["exit_code"] == 2 and doc["ask"]["from"] == str(partial)
    assert all(m.startswith(f"{partial}:6:") for m in doc["messages"]) and any("band_limt" in m for m in doc["messages"])


def test_an_impossible_ask_is_refused_with_what_the_input_needs() -> None:
    result = design(Ask("o3", "1x1o", "1x1e", 50_000, 0.02))
    assert result.exit_code == ExitCode.FINDINGS and result.text == ""
    assert "pseudoscalar" in result.messages[0] and "second 1o" in result.messages[0]


def test_json_document_and_no_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "designed.yaml"
    args = ["design", "--group", "so2", "--input", "1x vector", "--output", "1x vector + 1x 0", "--params", "3000", "-f", "json"]
    done = invoke_cli(*args, "-o", str(out))
    doc = json.loads(done.stdout)
    assert done.returncode == 0 and doc["schema_version"] == 1 and doc["chosen"] == 1
    assert doc["file"] == str(out) and out.read_text() == doc["spec"]
    assert all(c["params"] <= 3000 for c in doc["candidates"])
    assert [c["rank"] for c in doc["candidates"]] == list(range(1, len(doc["candidates"]) + 1))
    again = invoke_cli(*args, "-o", str(out))
    assert again.returncode == ExitCode.SPEC and "never overwrites" in json.loads(again.stdout)["messages"][-1]


def test_bad_asks_exit_2_with_a_json_document() -> None:
    done = invoke_cli("design", "--group", "nope", "--input", "1x0", "--output", "1x0", "-f", "json")
    doc = json.loads(done.stdout)
    assert done.returncode == 2 and doc["exit_code"] == 2 and doc["messages"][0].startswith("--group")
    assert "Traceback" not in done.stderr


@pytest.mark.escnn
def test_measure_builds_the_top_candidate(tmp_path: Path) -> None:
    """--measure with K = 1: the winner is built, its equivariance measured below the tolerance."""
    result = design(Ask("so2", "1x vector", "1x vector + 1x 0", 3000, 0.02), measure_in_processes(1, 1))
    assert result.exit_code == ExitCode.OK and result.measured
    top = result.ranked[0]
    assert top.measured_error is not None and top.measured_error < 0.02
    assert top.seconds_per_batch is not None and top.seconds_per_batch > 0


@pytest.mark.escnn
@pytest.mark.parametrize("tolerance", ["0.02", str(TIGHT)])
def test_the_acceptance_spec_passes_build(tmp_path: Path, tolerance: str) -> None:
    """The designed spec is built, compiled and tested by `eqdesign build` (nothing written: --dry-run),
    at the default tolerance and at a tight one."""
    path = tmp_path / "designed.yaml"
    ask = ["--group", "so3", "--input", "1x vector + 1x 0", "--output", "2x vector + 1x 0", "--params", "50000"]
    done = run_cli("design", *ask, "--tolerance", tolerance, "-o", str(path))
    assert done.returncode == 0, done.stderr
    built = run_cli("build", "--dry-run", "--no-influence", "-f", "json", str(path))
    report = json.loads(built.stdout)
    assert built.returncode == 0, built.stdout
    assert report["summary"] == {"specs": 1, "built": 1, "exit_code": 0}


def _spec(kind: str, band_limit: int, tolerance: float) -> str:
    return (
        f'name: grid-need\ngroup: so3\ninput: "1x1 + 1x0"\noutput: "1x1 + 1x0"\nhidden:\n'
        f"  - {{nonlinearity: {kind}, band_limit: {band_limit}, channels: 4}}\ntests: {{tolerance: {tolerance}}}\n"
    )


@pytest.mark.escnn
@pytest.mark.parametrize(("kind", "band_limit", "tolerance"), [("quotient_fourier_elu", 1, 0.005), ("fourier_elu", 1, 0.01)])
def test_the_predicted_rule_is_never_below_the_one_builds_search_stops_at(
    tmp_path: Path, kind: str, band_limit: int, tolerance: float
) -> None:
    """design's model of grid: auto (budget.auto_rule_needed) against build's own search, on the sphere
    and on SO(3): the layer meets the search's share of the tolerance at a rule no finer than the one
    predicted. (The whole model must meet it too, which can take the search further: measured here, up to
    degree 18 where the layer alone was within at 9; design's bound on the rules tried leaves room for it.)"""
    from eqdesign.escnn_backend.autogrid import build_tuned

    path = tmp_path / "spec.yaml"
    path.write_text(_spec(kind, band_limit, tolerance))
    checked = check_file(path)
    assert checked.design is not None
    _, found = build_tuned(checked.design)
    assert found is not None and found.failure is None
    (choice,) = found.choices
    need = auto_rule_needed(checked.design.hidden[0], tolerance)
    assert need is not None and choice.shape.degree > choice.layer.grid.rule.degree  # the search climbed
    within = [points for _, points, error in choice.tried if error <= AUTO_MARGIN * tolerance]
    assert within and within[0] <= need.points
