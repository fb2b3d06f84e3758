"""`eqdesign check`: read, resolve and analyse specs; never imports torch or escnn."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..analysis.dataflow import analyse
from ..analysis.resolve import resolve
from ..analysis.rules import DESIGN_RULES, FLOW_RULES
from ..results import CheckResult, SpecResult
from ..spec.discover import discover
from ..spec.load import load_spec


def check_file(path: str | Path) -> SpecResult:
    result = SpecResult(str(path))
    try:
        _check_into(result)
    except Exception as err:  # noqa: BLE001 - "cannot continue" is reported, never shown as a traceback
        if os.environ.get("EQDESIGN_DEBUG"):
            raise
        result.internal_error = f"{type(err).__name__}: {err}"
    return result


def _check_into(result: SpecResult) -> None:
    loaded = load_spec(result.file)
    if isinstance(loaded, list):
        result.findings = loaded
        return
    result.loaded = loaded
    resolution = resolve(loaded)
    result.findings.extend(resolution.findings)
    if resolution.design is None:
        return
    design = result.design = resolution.design
    flow = result.flow = analyse(design)
    for rule_fn in DESIGN_RULES + FLOW_RULES:
        result.findings.extend(rule_fn(loaded, design, flow))
    result.findings.sort(key=lambda f: (f.location.line, f.location.column, f.rule_id))


def check_paths(patterns: Sequence[str], strict: bool = False) -> CheckResult:
    found = discover(patterns)
    skipped = [f"{s.path}: {s.reason}" for s in found.skipped]
    return CheckResult([check_file(f) for f in found.files], strict, list(found.problems), skipped)
