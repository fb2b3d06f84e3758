"""The CI formats of findings (concise, github, sarif, junit, gitlab), golden-tested on real checks.

The goldens live in tests/formats/golden/; rewrite them with ``EQDESIGN_UPDATE_GOLDEN=1 pytest
tests/test_formats.py`` after a deliberate change, and read the diff before committing it.
"""

from __future__ import annotations

import io
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from eqdesign import __version__
from eqdesign.commands.check import check_file, check_paths
from eqdesign.exitcodes import ExitCode
from eqdesign.findings import RULES, SPEC_RULES, Finding, Location, Severity, make
from eqdesign.report.concise import ConciseReporter
from eqdesign.report.entries import Entry, build_entries, check_entries
from eqdesign.report.github import GithubReporter, step_summary
from eqdesign.report.gitlab import GitlabReporter
from eqdesign.report.junit import JUnitReporter, junit_xml
from eqdesign.report.sarif import SarifReporter, artifact_location
from eqdesign.results import BuildBatch, BuildResult, CheckResult, SpecResult

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "formats" / "golden"
SARIF_SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
SPECS = ["tests/formats/broken.yaml", "tests/formats/clean.yaml", "tests/formats/flagged.yaml"]
MISSING = "tests/formats/missing.yaml"  # a usage error in every golden check
VERDICT = "max relative equivariance error 3.2e-02 > tests.tolerance 1.0e-02 (hidden[0] tensor_product)"

REPORTERS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "concise": (ConciseReporter, "concise.txt"),
    "github": (GithubReporter, "github.txt"),
    "sarif": (SarifReporter, "sarif"),
    "junit": (JUnitReporter, "junit.xml"),
    "gitlab": (GitlabReporter, "gitlab.json"),
}


@pytest.fixture(autouse=True)
def in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative paths as a CI job at the repository root sees them; no job summary unless a test asks."""
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def checked() -> CheckResult:
    return check_paths([*SPECS, MISSING], isolated=True)


def built() -> BuildBatch:
    """What `build` makes of the specs, without escnn: the flawed ones refused, the clean one failing a verdict."""
    builds = []
    for path in SPECS:
        result = BuildResult(check_file(path))
        if result.check.exit_code():
            result.fail("eqdesign check reports errors: fix them first (nothing was built)", result.check.exit_code(), rule=None)
        else:
            result.fail(VERDICT, rule="not-equivariant")
        builds.append(result)
    return BuildBatch(builds)


def render(fmt: str, call: Callable[[Any], None]) -> str:
    out = io.StringIO()
    call(REPORTERS[fmt][0](out))
    return out.getvalue()


def normalized(fmt: str, text: str) -> str:
    """Only what differs between machines and releases: SARIF's working-folder URI and the tool version."""
    if fmt != "sarif":
        return text
    log = json.loads(text)
    run = log["runs"][0]
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == ROOT.as_uri() + "/"
    run["originalUriBaseIds"]["%SRCROOT%"]["uri"] = "file:///SRCROOT/"
    driver = run["tool"]["driver"]
    assert driver["version"] == driver["semanticVersion"] == __version__
    driver["version"] = driver["semanticVersion"] = "VERSION"
    return json.dumps(log, indent=2) + "\n"


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("EQDESIGN_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden {path}: run with EQDESIGN_UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden (EQDESIGN_UPDATE_GOLDEN=1 rewrites it)"


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_check_golden(fmt: str) -> None:
    assert_golden(f"check.{REPORTERS[fmt][1]}", normalized(fmt, render(fmt, lambda r: r.check(checked()))))


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_build_golden(fmt: str) -> None:
    assert_golden(f"build.{REPORTERS[fmt][1]}", normalized(fmt, render(fmt, lambda r: r.build(built()))))


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_error_golden(fmt: str) -> None:
    assert_golden(f"error.{REPORTERS[fmt][1]}", normalized(fmt, render(fmt, lambda r: r.error("no such option: --frobnicate", 2))))


def test_golden_inputs_hold_errors_warnings_and_a_syntax_error() -> None:
    """The goldens only mean something while their inputs stay what they were chosen to be."""
    entries = {e.file: e for e in check_entries(checked())}
    assert entries["tests/formats/clean.yaml"].findings == []
    flagged = entries["tests/formats/flagged.yaml"]
    assert flagged.errors and flagged.warnings
    assert {"unreachable-output", "unused-input", "dropped-irrep"} <= {f.rule for f in flagged.findings}
    assert [f.rule for f in entries["tests/formats/broken.yaml"].findings] == ["yaml-syntax"]
    assert checked().usage_errors == [f"{MISSING}: no such file or directory"]


def test_concise_lines() -> None:
    lines = render("concise", lambda r: r.check(checked())).splitlines()
    findings = [f for e in check_entries(checked()) for f in e.findings]
    assert lines[0] == f"error: {MISSING}: no such file or directory"
    assert lines[1:-1] == [f"{f.location}: {f.severity.value} [{f.rule_id} {f.rule}] {f.message}" for f in findings]
    assert lines[-1] == "3 spec(s): 3 errors, 4 warnings, 1 usage errors"


# -- SARIF ---------------------------------------------------------------------------------------------


def sarif_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("command", ["check", "build", "error"])
def test_sarif_is_valid(command: str) -> None:
    calls: dict[str, Callable[[Any], None]] = {
        "check": lambda r: r.check(checked()),
        "build": lambda r: r.build(built()),
        "error": lambda r: r.error("no such option: --frobnicate", 2),
    }
    log = json.loads(render("sarif", calls[command]))
    errors = sorted(sarif_validator().iter_errors(log), key=str)
    assert not errors, "\n".join(e.message for e in errors[:5])
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted({r["id"] for r in rules})
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["partialFingerprints"]
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is (invocation["exitCode"] < ExitCode.SPEC)  # exit 2 and 3: the run failed
    if command == "error":
        assert run["invocations"][0]["toolExecutionNotifications"][0]["message"]["text"] == "no such option: --frobnicate"


def test_sarif_rules_are_the_rules_that_ran_with_their_documentation() -> None:
    log = json.loads(render("sarif", lambda r: r.build(built())))
    driver = log["runs"][0]["tool"]["driver"]
    ran = {r.rule_id: r for e in build_entries(built()) for r in e.rules}
    assert [r["id"] for r in driver["rules"]] == sorted(ran)
    levels = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
    for r in driver["rules"]:
        rule = ran[r["id"]]
        assert (r["name"], r["shortDescription"]["text"], r["fullDescription"]["text"]) == (rule.name, rule.summary, rule.doc)
        assert r["help"]["text"] == (rule.fix or rule.summary)
        assert r["defaultConfiguration"]["level"] == levels[rule.severity]


def test_sarif_locations_relative_encoded_and_outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert artifact_location("sub dir/a,b:c%.yaml") == {"uri": "sub%20dir/a%2Cb%3Ac%25.yaml", "uriBaseId": "%SRCROOT%"}
    assert artifact_location(str(tmp_path / "x.yaml")) == {"uri": "x.yaml", "uriBaseId": "%SRCROOT%"}
    outside = tmp_path.parent / "elsewhere" / "y.yaml"
    assert artifact_location(str(outside)) == {"uri": outside.as_uri()}
    assert artifact_location("../z.yaml") == {"uri": (tmp_path.parent / "z.yaml").as_uri()}


def test_sarif_internal_error_is_an_unsuccessful_execution() -> None:
    result = CheckResult([SpecResult("tests/formats/clean.yaml", internal_error="RuntimeError: boom")])
    log = json.loads(render("sarif", lambda r: r.check(result)))
    assert not list(sarif_validator().iter_errors(log))
    run = log["runs"][0]
    assert run["invocations"][0] == {"executionSuccessful": False, "exitCode": 3}
    assert [r["ruleId"] for r in run["results"]] == ["EQ000"]


# -- JUnit ---------------------------------------------------------------------------------------------


def expected_counts(entries: list[Entry], usage_errors: int = 0) -> dict[str, int]:
    """Test cases, failures, errors and skips counted from the findings, not from the XML."""
    counts = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for e in entries:
        names = {r.name for r in e.rules} | {f.rule for f in e.findings}
        failing = {f.rule for f in e.findings if f.severity == Severity.ERROR}
        unreadable = any(f.rule in SPEC_RULES for f in e.findings)
        refused = any(f.severity == Severity.ERROR and f.rule not in {"not-equivariant", "build-failed"} for f in e.findings)
        quiet = names - {f.rule for f in e.findings}
        counts["tests"] += len(names)
        counts["failures"] += len(failing - {"internal-error"})
        counts["errors"] += "internal-error" in failing
        counts["skipped"] += sum(
            (unreadable and n not in SPEC_RULES and n != "internal-error") or (refused and n in {"not-equivariant", "build-failed"})
            for n in quiet
        )
    counts["tests"] += usage_errors
    counts["errors"] += usage_errors
    return counts


def xml_counts(element: ET.Element) -> dict[str, int]:
    return {k: int(element.get(k, "-1")) for k in ("tests", "failures", "errors", "skipped")}


def assert_junit_counts(text: str, entries: list[Entry], usage_errors: int) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    assert xml_counts(root) == expected_counts(entries, usage_errors)
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert xml_counts(suite) == {
            "tests": len(cases),
            "failures": sum(c.find("failure") is not None for c in cases),
            "errors": sum(c.find("error") is not None for c in cases),
            "skipped": sum(c.find("skipped") is not None for c in cases),
        }
    return root


def test_junit_counts_match_the_findings() -> None:
    result = checked()
    root = assert_junit_counts(render("junit", lambda r: r.check(result)), check_entries(result), 1)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {*SPECS, "eqdesign"}
    flagged = suites["tests/formats/flagged.yaml"]
    failure = flagged.find("testcase[@name='EQ201 unreachable-output']/failure")
    assert failure is not None and failure.get("type") == "EQ201"
    assert failure.text is not None and failure.text.count("tests/formats/flagged.yaml:7:") == 2 and "hint: " in failure.text
    out = flagged.find("testcase[@name='EQ202 unused-input']/system-out")
    assert out is not None and out.text is not None and "input 0o influences no output" in out.text
    assert flagged.find("testcase[@name='EQ202 unused-input']/failure") is None
    broken = suites["tests/formats/broken.yaml"]
    assert broken.find("testcase[@name='EQ001 yaml-syntax']/failure") is not None
    assert broken.find("testcase[@name='EQ201 unreachable-output']/skipped") is not None


def test_junit_build_counts_and_internal_error() -> None:
    batch = built()
    assert_junit_counts(render("junit", lambda r: r.build(batch)), build_entries(batch), 0)
    result = CheckResult([SpecResult("tests/formats/clean.yaml", internal_error="RuntimeError: boom \x00\x1b[31m")])
    root = assert_junit_counts(render("junit", lambda r: r.check(result)), check_entries(result), 0)
    error = root.find(".//testcase[@name='EQ000 internal-error']/error")
    assert error is not None and error.get("type") == "EQ000" and "\\x00\\x1b[31m" in (error.get("message") or "")
    assert xml_counts(root)["errors"] == 1 and xml_counts(root)["failures"] == 0


def test_junit_lists_a_finding_of_a_rule_that_did_not_run() -> None:
    finding = make("yaml-syntax", "invalid YAML: oops", Location("a.yaml", 1, 1, ""))
    entry = Entry("a.yaml", [finding], ExitCode.SPEC, [RULES["unreachable-output"]])
    root = ET.fromstring(junit_xml([entry]))
    names = [c.get("name") for c in root.iter("testcase")]
    assert names == ["EQ001 yaml-syntax", "EQ201 unreachable-output"]
    assert xml_counts(root) == {"tests": 2, "failures": 1, "errors": 0, "skipped": 1}


# -- GitHub --------------------------------------------------------------------------------------------


def odd_result() -> CheckResult:
    loc = Location("dir/we,ird:name.yaml", 3, 5, "output")
    finding = Finding("EQ201", "unreachable-output", Severity.ERROR, "100% sure\nline two\rend: a, b", loc, "fix: this, now")
    return CheckResult([SpecResult(loc.file, [finding])])


def test_github_escapes_data_and_properties() -> None:
    lines = render("github", lambda r: r.check(odd_result())).splitlines()
    assert lines[0] == (
        "::error file=dir/we%2Cird%3Aname.yaml,line=3,col=5,title=EQ201 unreachable-output"
        "::100%25 sure%0Aline two%0Dend: a, b%0Ahint: fix: this, now"
    )
    assert lines[1] == "1 spec(s): 1 errors, 0 warnings"


def test_github_severities() -> None:
    loc = Location("a.yaml", 1, 2, "")
    findings = [Finding("EQ999", "x", s, "m", loc) for s in Severity]
    text = render("github", lambda r: r.check(CheckResult([SpecResult("a.yaml", findings)])))
    assert [line.split(" ", 1)[0] for line in text.splitlines()[:3]] == ["::error", "::warning", "::notice"]
    for fmt in REPORTERS:  # an unregistered rule is reported, not a crash
        out = render(fmt, lambda r: r.check(CheckResult([SpecResult("a.yaml", findings)])))
        assert ('"check_name": "x"' if fmt == "gitlab" else "EQ999") in out


def test_github_step_summary_appended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = checked()
    stdout = render("github", lambda r: r.check(result))
    assert "## eqdesign check" not in stdout  # the Markdown goes to the file only
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n\n## eqdesign check\n")
    graphs = GithubReporter(io.StringIO()).summary_extra(result)
    assert text.endswith(step_summary(check_entries(result), command="check", usage_errors=result.usage_errors, extra=graphs))
    analysed = [s.file for s in result.specs if s.design is not None]
    assert len(graphs) == len(analysed) >= 2 and text.count("```mermaid\nflowchart") == len(analysed)
    assert graphs[0].startswith("### Influence graph of `tests/formats/flagged.yaml`")  # errors first
    rows = [line for line in text.splitlines() if line.startswith("| tests/formats/flagged.yaml:")]
    assert len(rows) == 6  # every finding of the flagged spec
    assert f"- {MISSING}: no such file or directory" in text
    render("github", lambda r: r.build(built()))
    again = summary.read_text(encoding="utf-8")
    assert again.startswith(text) and "## eqdesign build" in again[len(text) :]


def test_github_step_summary_golden() -> None:
    result = checked()
    assert_golden("check.step-summary.md", step_summary(check_entries(result), command="check", usage_errors=result.usage_errors))
    assert_golden("build.step-summary.md", step_summary(build_entries(built()), command="build"))


def test_github_step_summary_holds_every_finding_beyond_the_annotation_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    findings = [
        Finding("EQ201", "unreachable-output", Severity.ERROR, f"problem {i} | <b>", Location("a.yaml", i, 1, "")) for i in range(1, 26)
    ]
    stdout = render("github", lambda r: r.check(CheckResult([SpecResult("a.yaml", findings)])))
    assert stdout.count("::error ") == 25
    assert "all are in the job summary" in stdout.splitlines()[-1]
    text = summary.read_text(encoding="utf-8")
    assert sum(line.startswith("| a.yaml:") for line in text.splitlines()) == 25
    assert "problem 25 \\| &lt;b&gt;" in text


def test_github_step_summary_extra_sections_and_escaping() -> None:
    entries = check_entries(odd_result())
    text = step_summary(entries, extra=["### Graph\n\n```mermaid\ngraph LR\n```\n"])
    assert text.rstrip("\n").endswith("### Graph\n\n```mermaid\ngraph LR\n```")
    row = next(line for line in text.splitlines() if line.startswith("| dir/we,ird:name.yaml:3 |"))
    assert row.count(" | ") == 3  # four cells: nothing in the message splits the row
    assert "\\n" in row and "\n" not in row


def test_github_error_and_no_summary_without_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert render("github", lambda r: r.error("bad: option, here", 2)) == "::error title=eqdesign::bad: option, here\n"
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    render("github", lambda r: r.error("bad option", 2))
    assert "bad option" in summary.read_text(encoding="utf-8")


# -- GitLab --------------------------------------------------------------------------------------------


def test_gitlab_fingerprints_unique_and_stable() -> None:
    first = json.loads(render("gitlab", lambda r: r.check(checked())))
    second = json.loads(render("gitlab", lambda r: r.check(checked())))
    assert first == second
    prints = [i["fingerprint"] for i in first]
    assert len(prints) == len(set(prints)) == 8  # 7 findings and the usage error
    assert all(len(p) == 64 and int(p, 16) >= 0 for p in prints)
    assert {i["severity"] for i in first} == {"major", "minor"}
    assert all(not i["location"]["path"].startswith("/") for i in first)


def test_gitlab_identical_findings_get_distinct_fingerprints() -> None:
    f = make("unused-input", "input 0 influences no output", Location("a.yaml", 2, 1, "input"))
    issues = json.loads(render("gitlab", lambda r: r.check(CheckResult([SpecResult("a.yaml", [f, f])]))))
    assert len({i["fingerprint"] for i in issues}) == 2


# -- build verdicts in every format --------------------------------------------------------------------


def test_build_verdicts_appear_in_every_format() -> None:
    batch = built()
    verdict = next(f for f in build_entries(batch)[1].findings if f.rule == "not-equivariant")
    assert verdict.location.file == "tests/formats/clean.yaml" and verdict.location.spec_path.startswith("tests")
    at = f"{verdict.location.line}"
    out = {fmt: render(fmt, lambda r: r.build(batch)) for fmt in REPORTERS}
    assert f"tests/formats/clean.yaml:{at}:{verdict.location.column}: error [EQ301 not-equivariant] {VERDICT}" in out["concise"]
    assert f"::error file=tests/formats/clean.yaml,line={at},col={verdict.location.column},title=EQ301 not-equivariant::" in out["github"]
    results = json.loads(out["sarif"])["runs"][0]["results"]
    assert any(r["ruleId"] == "EQ301" and r["message"]["text"] == VERDICT for r in results)
    failure = ET.fromstring(out["junit"]).find(
        ".//testsuite[@name='tests/formats/clean.yaml']/testcase[@name='EQ301 not-equivariant']/failure"
    )
    assert failure is not None and failure.get("message") == VERDICT
    issues = json.loads(out["gitlab"])
    assert any(i["check_name"] == "not-equivariant" and i["location"]["lines"]["begin"] == verdict.location.line for i in issues)
