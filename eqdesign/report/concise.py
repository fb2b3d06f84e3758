"""One line per finding, in the ``file:line:col: severity [ID name] message`` form editors and problem
matchers read, then one summary line. Nothing else: no tables, no hints, no colour."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from ..findings import Finding, printable
from ..results import BuildBatch, CheckResult
from .entries import Entry, build_entries, check_entries
from .locations import cwd_relative


def finding_line(f: Finding) -> str:
    """A finding on one line: control characters in the file name or the message are escaped, and the file
    is named as the working folder reaches it (an editor opens it from there)."""
    loc = f.location
    return f"{printable(cwd_relative(loc.file))}:{loc.line}:{loc.column}: {f.severity.value} [{f.rule_id} {f.rule}] {printable(f.message)}"


def summary_line(entries: Sequence[Entry], usage_errors: Sequence[str] = ()) -> str:
    """``N spec(s): E errors, W warnings``, plus the usage errors when there are any."""
    errors = sum(e.errors for e in entries)
    warnings = sum(e.warnings for e in entries)
    line = f"{len(entries)} spec(s): {errors} errors, {warnings} warnings"
    return line + (f", {len(usage_errors)} usage errors" if usage_errors else "")


class ConciseReporter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def check(self, result: CheckResult) -> None:
        self.report(check_entries(result), result.usage_errors)

    def build(self, batch: BuildBatch) -> None:
        self.report(build_entries(batch), batch.usage_errors)

    def report(self, entries: Sequence[Entry], usage_errors: Sequence[str]) -> None:
        lines = [f"error: {printable(problem)}" for problem in usage_errors]
        lines += [finding_line(f) for entry in entries for f in entry.findings]
        lines.append(summary_line(entries, usage_errors))
        self.out.write("\n".join(lines) + "\n")

    def error(self, message: str, code: int) -> None:
        self.out.write(f"error: {printable(message)}\n")
