"""SpecResult: what the check of one spec found. Apart from the checking itself, so that the results and
the reporters read it without importing the check functions (the rule table is complete without them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..exitcodes import ExitCode
from ..findings import SPEC_RULES, Finding, FindingTotals, Location, make
from ..spec.load import LoadedSpec
from .dataflow import Flow, ideal_influence, influence, sector_influence
from .design import Design


@dataclass
class SpecResult(FindingTotals):
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
