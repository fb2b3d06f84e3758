"""GitLab code quality JSON (a Code Climate subset): one issue per finding, for merge request widgets.

Each issue has a ``fingerprint`` that stays the same while the finding does (its file, rule, place in the
spec and message, not its line), so GitLab can tell new findings from fixed ones. Usage errors, and a
command that could not start, are issues too: an empty report would read as a clean one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any, TextIO

from ..findings import Finding, Severity
from ..results import BuildBatch, CheckResult
from .entries import Entry, build_entries, check_entries
from .sarif import relative_path, unique_fingerprints

SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def report_path(file: str) -> str:
    """The path GitLab matches against the repository's files: relative to its root where the file lies
    inside. JSON escapes every control character; a name that is no UTF-8 (undecodable bytes, carried as
    lone surrogates, which strict JSON readers refuse) keeps those bytes as ``\\xNN`` text."""
    path = relative_path(file) or file
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    return path


def issue(f: Finding, fingerprint: str) -> dict[str, Any]:
    return {
        "description": f.message,
        "check_name": f.rule,
        "fingerprint": fingerprint,
        "severity": SEVERITY[f.severity],
        "location": {"path": report_path(f.location.file), "lines": {"begin": max(1, f.location.line)}},
    }


def usage_issue(problem: str, path: str = ".") -> dict[str, Any]:
    """A problem that kept eqdesign from checking something, as an issue at ``path``."""
    return {
        "description": problem,
        "check_name": "usage-error",
        "fingerprint": hashlib.sha256(f"usage\0{problem}".encode("utf-8", "surrogateescape")).hexdigest(),
        "severity": "major",
        "location": {"path": report_path(path), "lines": {"begin": 1}},
    }


def named_path(problem: str) -> str:
    """The path a usage error ("path: problem") names, or "." for the working folder."""
    path, sep, _ = problem.partition(": ")
    return path if sep and path else "."


def code_quality(entries: Sequence[Entry], usage_errors: Sequence[str] = ()) -> list[dict[str, Any]]:
    findings = [f for e in entries for f in e.findings]
    issues = [usage_issue(p, named_path(p)) for p in dict.fromkeys(usage_errors)]
    return issues + [issue(f, fp) for f, fp in zip(findings, unique_fingerprints(findings), strict=True)]


class GitlabReporter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def check(self, result: CheckResult) -> None:
        self.write(code_quality(check_entries(result), result.usage_errors))

    def build(self, batch: BuildBatch) -> None:
        self.write(code_quality(build_entries(batch), batch.usage_errors))

    def error(self, message: str, code: int) -> None:
        self.write([usage_issue(message)])

    def write(self, issues: list[dict[str, Any]]) -> None:
        self.out.write(json.dumps(issues, indent=2) + "\n")
