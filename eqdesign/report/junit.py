"""JUnit XML, for CI systems that show test results (GitLab, Jenkins, Azure, CircleCI).

One test suite per spec file, one test case per rule that ran on it, named ``ID name``. A rule's error
findings fail its test case (all of them in the failure's text); its warnings and notes pass, listed in
``<system-out>``; an internal error is an ``<error>``. A finding of a rule that did not run (the file could
not be read, say) still fails a test case of its own. Rules that never got to run are skipped: the analysis
rules of a spec that could not be read, and the build's verdicts on a spec whose check failed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TextIO

from ..findings import BUILD_RULES, SPEC_RULES, Finding, Rule, Severity, printable
from ..results import BuildBatch, CheckResult
from .entries import Entry, build_entries, check_entries
from .locations import repo_relative
from .sarif import rule_of

COUNTS = ("tests", "failures", "errors", "skipped")


def xml_text(text: str) -> str:
    """Text XML 1.0 can hold: other control characters (and lone surrogates) escaped as Python would."""
    return "".join(c if c in "\t\n" or (c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF) else printable(c) for c in text)


def shown_file(file: str) -> str:
    """A spec file as a JUnit viewer links it: relative to the repository root where it lies inside."""
    return repo_relative(file) or file


def finding_text(f: Finding) -> str:
    line = f"{shown_file(f.location.file)}:{f.location.line}:{f.location.column}: {f.severity.value}: {f.message}"
    return line + (f"\n    hint: {f.hint}" if f.hint else "")


def _summary(findings: Sequence[Finding]) -> str:
    first = findings[0].message
    return first if len(findings) == 1 else f"{first} (and {len(findings) - 1} more)"


def skip_reason(entry: Entry, rule: Rule) -> str | None:
    """Why a rule without findings never ran on this entry, or None when it ran (and passed)."""
    if rule.name not in SPEC_RULES | {"internal-error"} and any(f.rule in SPEC_RULES for f in entry.findings):
        return "not checked: the file could not be read as a spec"
    if rule.name in BUILD_RULES and any(f.severity == Severity.ERROR and f.rule not in BUILD_RULES for f in entry.findings):
        return "not built: the check found errors"
    return None


def testcase(entry: Entry, rule: Rule) -> ET.Element:
    case = ET.Element("testcase", classname=xml_text(shown_file(entry.file)), name=f"{rule.rule_id} {rule.name}")
    findings = [f for f in entry.findings if f.rule == rule.name]
    errors = [f for f in findings if f.severity == Severity.ERROR]
    others = [f for f in findings if f.severity != Severity.ERROR]
    if errors:
        tag = "error" if rule.name == "internal-error" else "failure"
        child = ET.SubElement(case, tag, message=xml_text(_summary(errors)), type=rule.rule_id)
        child.text = xml_text("\n".join(finding_text(f) for f in errors))
    elif not findings and (reason := skip_reason(entry, rule)):
        ET.SubElement(case, "skipped", message=reason)
    if others:
        ET.SubElement(case, "system-out").text = xml_text("\n".join(finding_text(f) for f in others))
    return case


def _count(parent: ET.Element, counts: dict[str, int]) -> None:
    for key in COUNTS:
        parent.set(key, str(counts[key]))


def _counts(cases: Sequence[ET.Element]) -> dict[str, int]:
    return {
        "tests": len(cases),
        "failures": sum(c.find("failure") is not None for c in cases),
        "errors": sum(c.find("error") is not None for c in cases),
        "skipped": sum(c.find("skipped") is not None for c in cases),
    }


def testsuite(entry: Entry) -> ET.Element:
    ran = {r.name for r in entry.rules}
    unlisted = {f.rule: rule_of(f) for f in entry.findings if f.rule not in ran}
    rules = sorted([*entry.rules, *unlisted.values()], key=lambda r: r.rule_id)
    suite = ET.Element("testsuite", name=xml_text(shown_file(entry.file)))
    cases = [testcase(entry, r) for r in rules]
    _count(suite, _counts(cases))
    suite.extend(cases)
    return suite


def usage_suite(problems: Sequence[str]) -> ET.Element:
    """The usage errors (or the reason a command could not start): one erroring test case each."""
    suite = ET.Element("testsuite", name="eqdesign")
    cases = []
    for problem in problems:
        case = ET.SubElement(suite, "testcase", classname="eqdesign", name="usage")
        ET.SubElement(case, "error", message=xml_text(problem), type="usage").text = xml_text(problem)
        cases.append(case)
    _count(suite, _counts(cases))
    return suite


def junit_xml(entries: Sequence[Entry], usage_errors: Sequence[str] = (), name: str = "eqdesign") -> str:
    root = ET.Element("testsuites", name=name)
    suites = [testsuite(e) for e in entries] + ([usage_suite(usage_errors)] if usage_errors else [])
    _count(root, {key: sum(int(s.get(key, "0")) for s in suites) for key in COUNTS})
    root.extend(suites)
    ET.indent(root)
    raw: bytes = ET.tostring(root, encoding="us-ascii")  # other characters as references: any stream can carry it
    body = raw.decode("ascii")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


class JUnitReporter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def check(self, result: CheckResult) -> None:
        self.out.write(junit_xml(check_entries(result), result.usage_errors, "eqdesign check"))

    def build(self, batch: BuildBatch) -> None:
        self.out.write(junit_xml(build_entries(batch), batch.usage_errors, "eqdesign build"))

    def error(self, message: str, code: int) -> None:
        self.out.write(junit_xml([], [message]))
