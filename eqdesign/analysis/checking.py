"""The check of one spec: read, resolve, analyse, apply the rules. Pure (never torch or escnn); `check`,
`build`, `init` and `design` all judge specs through here, so they never disagree."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exitcodes import ExitCode
from ..findings import SPEC_RULES, Finding, Location, Severity, count, make
from ..spec.load import LoadedSpec, load_spec, load_text
from .config import DEFAULT, Config
from .dataflow import Flow, analyse, ideal_influence, influence, sector_influence
from .design import Design
from .resolve import resolve
from .rules import run_checks
from .suppress import apply_rules, suppressed


@dataclass
class SpecResult:
    """`check` of one spec file."""

    file: str
    findings: list[Finding] = field(default_factory=list)
    loaded: LoadedSpec | None = None
    design: Design | None = None
    flow: Flow | None = None
    internal_error: str | None = None
    disabled: frozenset[str] = frozenset()  # rules the configuration or the spec's lint: turned off (by name)
    strict: bool = False  # the configuration says warnings fail

    @property
    def errors(self) -> int:
        return count(self.findings, Severity.ERROR)

    @property
    def warnings(self) -> int:
        return count(self.findings, Severity.WARNING)

    @property
    def spec_error(self) -> bool:
        return any(f.rule in SPEC_RULES for f in self.findings)

    def exit_code(self, strict: bool = False) -> ExitCode:
        if self.internal_error:
            return ExitCode.INTERNAL
        if self.spec_error:
            return ExitCode.SPEC
        return ExitCode.FINDINGS if self.errors or ((strict or self.strict) and self.warnings) else ExitCode.OK

    @property
    def influence(self) -> dict[str, list[str]]:
        return influence(self.design, self.flow) if self.design and self.flow else {}

    @property
    def ideal_influence(self) -> dict[str, list[str]]:
        return ideal_influence(self.design) if self.design else {}

    @property
    def hidden_symmetry(self) -> dict[str, Any] | None:
        """SO(3): the inversion its layers commute with, the layers that break it, and the influence per
        parity sector (natural: degree l with parity (-1)^l); None for other groups."""
        if self.design is None or self.flow is None or self.flow.parity is None:
            return None
        return {
            "inversion": "x -> -x, a degree-l field with parity (-1)^l",
            "broken_by": [f"hidden[{k}]" for k in self.flow.parity.breaking],
            "sectors": sector_influence(self.design, self.flow),
        }

    def all_findings(self) -> list[Finding]:
        """The findings, with the internal error (if any) as one more, so reporters show it like the others."""
        if not self.internal_error:
            return list(self.findings)
        hint = "please report this; rerun with EQDESIGN_DEBUG=1 for the traceback"
        return self.findings + [make("internal-error", self.internal_error, Location(self.file, 1, 1, ""), hint)]


def check_file(path: str | Path, config: Config = DEFAULT) -> SpecResult:
    """One spec file under one configuration."""
    return _checked(SpecResult(str(path), disabled=config.disabled, strict=config.strict), config, lambda: load_spec(path, config.tests))


def check_text(text: str, name: str, config: Config = DEFAULT) -> SpecResult:
    """A spec given as text; ``name`` stands for its file in the findings' locations."""
    result = SpecResult(name, disabled=config.disabled, strict=config.strict)
    return _checked(result, config, lambda: load_text(text, name, config.tests))


def check_loaded(loaded: LoadedSpec, config: Config = DEFAULT) -> SpecResult:
    """A spec already read (the public API's Spec)."""
    return _checked(SpecResult(loaded.file, disabled=config.disabled, strict=config.strict), config, lambda: loaded)


def _checked(result: SpecResult, config: Config, read: Callable[[], LoadedSpec | list[Finding]]) -> SpecResult:
    try:
        _check_into(result, read())
        if result.loaded is not None:
            result.findings = apply_rules(result.loaded, config, result.findings)
            result.disabled |= suppressed(result.loaded)
    except Exception as err:  # noqa: BLE001 - "cannot continue" is reported, never shown as a traceback
        if os.environ.get("EQDESIGN_DEBUG"):
            raise
        result.internal_error = f"{type(err).__name__}: {err}"
    result.findings.sort(key=lambda f: (f.location.line, f.location.column, f.rule_id))
    return result


def _check_into(result: SpecResult, loaded: LoadedSpec | list[Finding]) -> None:
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
    result.findings.extend(run_checks(loaded, design, flow))
