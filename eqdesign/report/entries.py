"""What the CI formats report: one entry per spec file, with its findings, verdict and the rules that ran.

`check` and `build` results both reduce to entries, so that every finding-based format (concise, github,
sarif, junit, gitlab) is written once for both commands. A build's numerical verdicts are findings too
(``not-equivariant``, ``build-failed``), located at the spec's ``tests`` section.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..codes import BUILD_RULES, RULE_TABLE, Rule
from ..exitcodes import ExitCode
from ..findings import Finding, FindingTotals
from ..results import BuildBatch, CheckResult


@dataclass(frozen=True)
class Entry(FindingTotals):
    file: str
    findings: list[Finding]
    exit_code: ExitCode
    rules: list[Rule]  # the rules that ran on this file, by id (a JUnit test case each)


def rules_run(build: bool, disabled: frozenset[str] = frozenset()) -> list[Rule]:
    """The rules that ran on a file, by id: all but those disabled, and the build's verdicts only for a build."""
    return [r for r in RULE_TABLE if (build or r.name not in BUILD_RULES) and r.name not in disabled]


def check_entries(result: CheckResult) -> list[Entry]:
    return [Entry(s.file, s.all_findings(), s.exit_code(result.strict), rules_run(False, s.disabled)) for s in result.specs]


def build_entries(batch: BuildBatch) -> list[Entry]:
    return [Entry(b.check.file, b.all_findings(), b.exit_code, rules_run(True, b.check.disabled)) for b in batch.builds]
