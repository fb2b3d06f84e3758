"""Acceptance cases: specs whose verdicts follow from representation theory.

Three folders share one format (see tests/acceptance/README.md): ``../shared/acceptance`` (the reference,
used when present), ``tests/acceptance`` (the project's own copy of it) and ``tests/acceptance_extra`` (cases
derived from THEORY.md for this project). Each holds ``NAME.yaml`` specs and an ``expected.json`` mapping NAME
to what ``eqdesign check`` must conclude:

- ``exit``: the exit code for that file alone;
- ``rules``: rule names that must appear among the findings; for an ``exit: 0`` case no error-severity finding
  beyond those listed;
- ``influence`` / ``ideal_influence``: output irrep -> input irreps it depends on (order irrelevant);
- ``line``: for a spec error, the line the error points at.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eqdesign.commands.check import check_file
from eqdesign.findings import SPEC_RULES, Severity

HERE = Path(__file__).resolve().parent
SHARED = Path(__file__).parents[1] / ".." / "shared" / "acceptance"
LOCAL = HERE / "acceptance"
EXTRA = HERE / "acceptance_extra"
KNOWN_KEYS = {"exit", "rules", "influence", "ideal_influence", "line"}


def load_cases(folder: Path, label: str) -> list:
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    specs = {p.stem for p in folder.glob("*.yaml")}
    assert specs == set(expected), (
        f"{folder}: specs without expectations {sorted(specs - set(expected))}, expectations without specs {sorted(set(expected) - specs)}"
    )
    return [pytest.param(folder / f"{name}.yaml", expected[name], id=f"{label}/{name}") for name in sorted(expected)]


def all_cases() -> list:
    cases = []
    if SHARED.is_dir():
        cases += load_cases(SHARED, "shared")
    else:
        cases.append(
            pytest.param(
                None,
                None,
                id="shared/missing",
                marks=pytest.mark.skip(reason=f"shared acceptance folder not found at {SHARED.resolve()}; the local copies still run"),
            )
        )
    cases += load_cases(LOCAL, "local")
    cases += load_cases(EXTRA, "extra")
    return cases


def as_sets(influence: dict) -> dict:
    return {out: set(inputs) for out, inputs in influence.items()}


def describe(result) -> str:
    lines = [
        f"exit={result.exit_code()} internal={result.internal_error}",
        f"influence={result.influence}",
        f"ideal_influence={result.ideal_influence}",
    ]
    lines += [f"  {f.rule} {f.severity.value} {f.location.line}:{f.location.column} {f.message}" for f in result.findings]
    return "\n".join(lines)


@pytest.mark.parametrize("path, expected", all_cases())
def test_acceptance_case(path: Path, expected: dict):
    assert set(expected) <= KNOWN_KEYS, f"unknown keys in expected.json: {set(expected) - KNOWN_KEYS}"
    result = check_file(path)
    report = describe(result)
    assert result.internal_error is None, report
    assert result.exit_code() == expected["exit"], report

    found = {f.rule for f in result.findings}
    listed = set(expected.get("rules", []))
    assert listed <= found, f"missing rules {sorted(listed - found)}\n{report}"
    if expected["exit"] == 0:
        extra_errors = [f.rule for f in result.findings if f.severity == Severity.ERROR and f.rule not in listed]
        assert not extra_errors, f"unexpected error findings {extra_errors}\n{report}"

    if "influence" in expected:
        assert as_sets(result.influence) == as_sets(expected["influence"]), report
    if "ideal_influence" in expected:
        assert as_sets(result.ideal_influence) == as_sets(expected["ideal_influence"]), report

    if "line" in expected:
        spec_errors = [f for f in result.findings if f.rule in SPEC_RULES]
        assert spec_errors, f"expected a spec error\n{report}"
        assert spec_errors[0].location.line == expected["line"], report


def test_local_copy_matches_shared():
    """tests/acceptance keeps the project's own copy of every shared case; it must not drift."""
    if not SHARED.is_dir():
        pytest.skip(f"shared acceptance folder not found at {SHARED.resolve()}")
    shared = {p.name: p.read_bytes() for p in SHARED.iterdir() if p.suffix in (".yaml", ".json")}
    local = {p.name: p.read_bytes() for p in LOCAL.iterdir() if p.suffix in (".yaml", ".json")}
    assert sorted(shared) == sorted(local), "copy the new or removed shared cases into tests/acceptance"
    changed = sorted(name for name in shared if shared[name] != local[name])
    assert not changed, f"tests/acceptance differs from ../shared/acceptance in {changed}"
