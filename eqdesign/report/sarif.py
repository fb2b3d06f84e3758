"""SARIF 2.1.0, for code scanning (GitHub, Azure DevOps, most SARIF viewers).

One run: the rules that ran (with their documentation and fix), one result per finding located at its
spec's line and column, relative to ``%SRCROOT%`` where the file lies inside it: the repository root
(report.locations), since GitHub ignores ``originalUriBaseIds`` and resolves every relative URI against
the root of the repository, whatever folder the job ran eqdesign in. Usage errors and a command that could
not start are tool execution notifications; the run's ``executionSuccessful`` is false when the command
failed to do its work (exit 2: a usage error or a file that is not a spec; exit 3: an internal error),
true when it ran through, findings or not.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from .. import __version__
from ..codes import RULES, Rule, Stage
from ..exitcodes import ExitCode
from ..findings import Finding, Severity
from ..results import BuildBatch, CheckResult
from .entries import Entry, build_entries, check_entries
from .locations import repo_relative, source_root

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"
LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


#: the file's path relative to the repository root, with forward slashes; None when it lies outside
relative_path = repo_relative


def artifact_location(file: str) -> dict[str, str]:
    """A percent-encoded URI relative to %SRCROOT%, or an absolute file URI for a file outside it."""
    rel = relative_path(file)
    if rel is None:
        return {"uri": Path(os.path.abspath(file)).as_uri()}
    return {"uri": quote(rel, safe="/", errors="surrogateescape"), "uriBaseId": SRCROOT}


def srcroot_uri() -> str:
    uri = source_root().as_uri()
    return uri if uri.endswith("/") else uri + "/"


def fingerprint(f: Finding) -> str:
    """What identifies a finding across runs: its file, rule, place in the spec and message (not its line)."""
    key = "\0".join((relative_path(f.location.file) or f.location.file, f.rule_id, f.location.spec_path, f.message))
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def unique_fingerprints(findings: Sequence[Finding]) -> list[str]:
    """One fingerprint per finding; a repeated one is hashed again with the number of its occurrence, so all differ."""
    seen: dict[str, int] = {}
    out = []
    for f in findings:
        fp = fingerprint(f)
        seen[fp] = seen.get(fp, 0) + 1
        out.append(fp if seen[fp] == 1 else hashlib.sha256(f"{fp}\0{seen[fp]}".encode()).hexdigest())
    return out


def message_text(f: Finding) -> str:
    return f"{f.message}\nhint: {f.hint}" if f.hint else f.message


def rule_json(r: Rule) -> dict[str, Any]:
    fix = r.fix or r.summary
    return {
        "id": r.rule_id,
        "name": r.name,
        "shortDescription": {"text": r.summary},
        "fullDescription": {"text": r.doc},
        "help": {"text": fix, "markdown": f"**{r.rule_id} {r.name}**: {fix}\n\n{r.doc}"},
        "defaultConfiguration": {"level": LEVEL[r.severity]},
    }


def rule_of(f: Finding) -> Rule:
    """A finding's rule (one that is not registered, as a bare rule, rather than a crash)."""
    return RULES.get(f.rule) or Rule(f.rule_id, f.rule, f.severity, Stage.ANY, False, f"{f.rule}.")


def rules_of(entries: Sequence[Entry]) -> list[Rule]:
    """The rules that ran on any entry, and the rule of any finding (so every result has its rule), by id."""
    by_id = {r.rule_id: r for e in entries for r in e.rules}
    by_id.update({f.rule_id: rule_of(f) for e in entries for f in e.findings if f.rule_id not in by_id})
    return [by_id[k] for k in sorted(by_id)]


def result_json(f: Finding, index: int, fp: str) -> dict[str, Any]:
    physical: dict[str, Any] = {
        "artifactLocation": artifact_location(f.location.file),
        "region": {"startLine": max(1, f.location.line), "startColumn": max(1, f.location.column)},
    }
    out: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": index,
        "level": LEVEL[f.severity],
        "message": {"text": message_text(f)},
        "locations": [{"physicalLocation": physical}],
        "partialFingerprints": {"eqdesignFinding/v1": fp},
    }
    if f.location.spec_path:
        out["locations"][0]["logicalLocations"] = [{"fullyQualifiedName": f.location.spec_path}]
    return out


def notification(text: str, level: str = "error") -> dict[str, Any]:
    return {"level": level, "message": {"text": text}}


def sarif_log(
    entries: Sequence[Entry],
    usage_errors: Sequence[str] = (),
    notes: Sequence[str] = (),
    exit_code: int | None = None,
    successful: bool | None = None,
) -> dict[str, Any]:
    """The whole SARIF log of one command; ``exit_code`` defaults to the worst of the entries' and usage errors'."""
    rules = rules_of(entries)
    index = {r.rule_id: i for i, r in enumerate(rules)}
    findings = [f for e in entries for f in e.findings]
    results = [result_json(f, index[f.rule_id], fp) for f, fp in zip(findings, unique_fingerprints(findings), strict=True)]
    if exit_code is None:
        exit_code = max([int(e.exit_code) for e in entries] + [int(ExitCode.SPEC)] * bool(usage_errors), default=0)
    invocation: dict[str, Any] = {
        "executionSuccessful": exit_code < ExitCode.SPEC if successful is None else successful,
        "exitCode": exit_code,
    }
    notifications = [notification(p) for p in usage_errors] + [notification(f"skipped {n}", "note") for n in notes]
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    driver = {"name": "eqdesign", "version": __version__, "semanticVersion": __version__, "rules": [rule_json(r) for r in rules]}
    run = {
        "tool": {"driver": driver},
        "invocations": [invocation],
        "originalUriBaseIds": {SRCROOT: {"uri": srcroot_uri()}},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


class SarifReporter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def check(self, result: CheckResult) -> None:
        self.write(sarif_log(check_entries(result), result.usage_errors, result.skipped, int(result.exit_code)))

    def build(self, batch: BuildBatch) -> None:
        self.write(sarif_log(build_entries(batch), batch.usage_errors, exit_code=int(batch.exit_code)))

    def error(self, message: str, code: int) -> None:
        """The command could not start: a run without results whose invocation says why."""
        self.write(sarif_log([], [message], exit_code=code, successful=False))

    def write(self, log: dict[str, Any]) -> None:
        self.out.write(json.dumps(log, indent=2) + "\n")
