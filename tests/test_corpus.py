"""Data-driven spec corpus: every file in tests/corpus/{valid,invalid} declares what `check` must say about it.

Each corpus file starts with a header comment that this test parses:

    # expect: exit=2 rule=unknown-irrep at=4:11 quote=1o hint=1

- ``exit``: the exit code of ``check`` on that file alone.
- ``rule`` (or ``rules``, comma-separated): rule names that must appear among the findings; ``a|b`` accepts
  either name.
- ``at``: ``line:column`` (1-based) of the first error finding.
- ``quote``: text the first error finding's message must contain (the offending text or key).
- ``hint``: text that finding's hint must contain.

Valid files must load (exit 0 or 1) and, for exit 0, have no error finding. Invalid files must be spec errors
(exit 2) whose first error finding has a location, quotes the offending text and has a non-empty hint.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from eqdesign.commands.check import check_file
from eqdesign.findings import RULES, Severity

CORPUS = Path(__file__).resolve().parent / "corpus"
VALID = sorted((CORPUS / "valid").glob("*.yaml"))
INVALID = sorted((CORPUS / "invalid").glob("*.yaml"))


def parse_expectation(path: Path) -> dict[str, str]:
    """The ``# expect:`` header of a corpus file as a dict of key=value pairs."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# expect:"):
            pairs = shlex.split(line[len("# expect:") :])
            return dict(pair.split("=", 1) for pair in pairs)
    raise AssertionError(f"{path.name}: no '# expect:' header")


def expected_rules(expect: dict[str, str]) -> list[set[str]]:
    """Each expected rule as the set of names that satisfy it (``a|b`` means either)."""
    names = ",".join(v for k, v in expect.items() if k in ("rule", "rules"))
    return [set(alt.split("|")) for alt in names.split(",") if alt]


def describe(result) -> str:
    lines = [f"exit={result.exit_code()} internal={result.internal_error}"]
    lines += [f"  {f.rule} {f.severity.value} {f.location.line}:{f.location.column} {f.message} | hint: {f.hint}" for f in result.findings]
    return "\n".join(lines)


def first_error(result):
    errors = [f for f in result.findings if f.severity == Severity.ERROR]
    return errors[0] if errors else None


def test_corpus_is_big_enough():
    assert len(VALID) >= 15, "tests/corpus/valid needs at least 15 specs"
    assert len(INVALID) >= 20, "tests/corpus/invalid needs at least 20 specs"


@pytest.mark.parametrize("path", VALID + INVALID, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_expectation_header_is_well_formed(path: Path):
    expect = parse_expectation(path)
    assert set(expect) <= {"exit", "rule", "rules", "at", "quote", "hint"}, expect
    assert expect["exit"] in ("0", "1", "2")
    for alternatives in expected_rules(expect):
        assert alternatives <= set(RULES), f"unknown rule name in {alternatives}"
    if path.parent.name == "invalid":
        assert expect["exit"] == "2" and expected_rules(expect) and "at" in expect and "quote" in expect
    else:
        assert expect["exit"] in ("0", "1") and "at" not in expect


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_spec(path: Path):
    expect = parse_expectation(path)
    result = check_file(path)
    report = describe(result)
    assert result.internal_error is None, report
    assert result.loaded is not None and result.design is not None, report
    assert result.exit_code() == int(expect["exit"]), report
    found = {f.rule for f in result.findings}
    for alternatives in expected_rules(expect):
        assert alternatives & found, f"expected one of {sorted(alternatives)}\n{report}"
    if expect["exit"] == "0":
        assert result.errors == 0, report
    # Every finding points into the file and says what to do about errors.
    n_lines = len(path.read_text(encoding="utf-8").splitlines())
    for f in result.findings:
        assert 1 <= f.location.line <= n_lines and f.location.column >= 1, report
        assert f.severity != Severity.ERROR or f.hint.strip(), report


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_spec(path: Path):
    expect = parse_expectation(path)
    result = check_file(path)
    report = describe(result)
    assert result.internal_error is None, report
    assert result.exit_code() == int(expect["exit"]), report
    found = {f.rule for f in result.findings}
    for alternatives in expected_rules(expect):
        assert alternatives & found, f"expected one of {sorted(alternatives)}\n{report}"
    error = first_error(result)
    assert error is not None, report
    line, col = (int(x) for x in expect["at"].split(":"))
    assert (error.location.line, error.location.column) == (line, col), report
    assert expect["quote"] in error.message, f"message should quote {expect['quote']!r}\n{report}"
    assert error.hint.strip(), f"empty hint\n{report}"
    if "hint" in expect:
        assert expect["hint"] in error.hint, f"hint should mention {expect['hint']!r}\n{report}"
