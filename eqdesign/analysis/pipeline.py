"""`eqdesign check`: the one core function the CLI calls, and the result objects reporters format."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..findings import SPEC_RULES, Finding, Location, Severity
from ..spec.load import LoadedSpec, load_spec
from .dataflow import Flow, analyse, ideal_influence, influence
from .design import Design
from .resolve import resolve
from .rules import DESIGN_RULES, FLOW_RULES

EXIT_OK, EXIT_FINDINGS, EXIT_SPEC, EXIT_INTERNAL = 0, 1, 2, 3


@dataclass
class SpecResult:
    file: str
    findings: list[Finding] = field(default_factory=list)
    loaded: LoadedSpec | None = None
    design: Design | None = None
    flow: Flow | None = None
    internal_error: str | None = None

    @property
    def errors(self) -> int:
        return sum(f.severity == Severity.ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == Severity.WARNING for f in self.findings)

    @property
    def spec_error(self) -> bool:
        return any(f.rule in SPEC_RULES for f in self.findings)

    def exit_code(self, strict: bool = False) -> int:
        if self.internal_error:
            return EXIT_INTERNAL
        if self.spec_error:
            return EXIT_SPEC
        return EXIT_FINDINGS if self.errors or (strict and self.warnings) else EXIT_OK

    @property
    def influence(self) -> dict[str, list[str]]:
        return influence(self.design, self.flow) if self.design and self.flow else {}

    @property
    def ideal_influence(self) -> dict[str, list[str]]:
        return ideal_influence(self.design) if self.design else {}


@dataclass
class CheckResult:
    specs: list[SpecResult]
    strict: bool = False
    usage_errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        codes = [s.exit_code(self.strict) for s in self.specs] + ([EXIT_SPEC] if self.usage_errors else [])
        return max(codes, default=EXIT_OK)


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


def expand_paths(patterns: list[str]) -> tuple[list[str], list[str]]:
    """Files, directories (every *.yaml / *.yml below) and globs -> spec files, and unusable arguments."""
    files: list[str] = []
    problems: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
        if not matches or not all(os.path.exists(m) for m in matches):
            problems.append(f"{pattern}: no such file or directory")
            continue
        for m in matches:
            files.extend(_spec_files(m))
    return list(dict.fromkeys(files)), problems


def _spec_files(path: str) -> list[str]:
    if os.path.isdir(path):
        found = [str(p) for p in Path(path).rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
        return sorted(found)
    return [path]


def check_paths(patterns: list[str], strict: bool = False) -> CheckResult:
    files, problems = expand_paths(patterns)
    if not files and not problems:
        problems.append("no spec files found in " + ", ".join(patterns))
    return CheckResult([check_file(f) for f in files], strict, problems)


def internal_finding(result: SpecResult) -> Finding:
    """The internal error as a finding-shaped record, so reporters can show it like the others."""
    return Finding("EQ000", "internal-error", Severity.ERROR, result.internal_error or "", Location(result.file, 1, 1, ""),
                   "please report this; rerun with EQDESIGN_DEBUG=1 for the traceback")
