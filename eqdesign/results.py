"""The results that commands return and reporters read. Each knows its own exit code. (SpecResult, the
check of one spec, lives with the checking in analysis: design searches by it.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .analysis.checked import SpecResult
from .exitcodes import ExitCode
from .findings import Finding, Location, make

__all__ = ["BuildBatch", "BuildResult", "CheckResult", "SpecResult", "Verification", "VerifyBatch"]


@dataclass
class CheckResult:
    specs: list[SpecResult]
    strict: bool = False
    usage_errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: reason" for every path not read

    @property
    def exit_code(self) -> ExitCode:
        codes = [s.exit_code(self.strict) for s in self.specs] + ([ExitCode.SPEC] if self.usage_errors else [])
        return max(codes, default=ExitCode.OK)


@dataclass
class BuildResult:
    """`build` of one spec: the check, the numerical verdicts, and the artifacts written (only on success)."""

    check: SpecResult
    exit_code: ExitCode = ExitCode.OK
    failures: list[str] = field(default_factory=list)
    equivariance: list[dict[str, Any]] = field(default_factory=list)
    influence: dict[str, Any] = field(default_factory=dict)
    agreement: float | None = None
    artifacts: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    grids: list[dict[str, Any]] = field(default_factory=list)  # what each Fourier layer samples (auto: what was tried)
    cost: dict[str, int] = field(default_factory=dict)  # totals per sample of analysis.cost, on the grids as built
    verdicts: list[Finding] = field(default_factory=list)  # the failures as findings, for the CI formats

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK

    def fail(self, message: str, code: ExitCode = ExitCode.FINDINGS, rule: str | None = "build-failed", at: Location | None = None) -> None:
        """Record a failure; ``rule`` names the finding it becomes (None: the check's findings already say it),
        located at ``at`` or, by default, at the spec's ``tests`` (the settings the verdict was judged by)."""
        self.failures.append(message)
        self.exit_code = max(self.exit_code, code)
        if rule is not None:
            self.verdicts.append(make(rule, message, at or self._tests_location()))

    def _tests_location(self) -> Location:
        loaded = self.check.loaded  # without a tests section, the top of the spec
        return loaded.at(("tests",), key=True) if loaded is not None else Location(self.check.file, 1, 1, "")

    def all_findings(self) -> list[Finding]:
        return self.check.all_findings() + self.verdicts


@dataclass
class BuildBatch:
    builds: list[BuildResult]
    usage_errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        codes = [b.exit_code for b in self.builds] + ([ExitCode.SPEC] if self.usage_errors else [])
        return max(codes, default=ExitCode.OK)


def verdict_code(readable: bool, ok: bool) -> ExitCode:
    """The exit code of verify's and export's verdicts: 2 unreadable, 1 failed, 0 passed."""
    if not readable:
        return ExitCode.SPEC
    return ExitCode.OK if ok else ExitCode.FINDINGS


@dataclass
class Verification:
    """`verify` of one artifact."""

    path: str
    ok: bool
    max_rel: float | None
    tolerance: float | None
    elements: int
    worst_element: str
    message: str
    readable: bool = True  # False: the file could not be read as an eqdesign artifact (exit 2)

    @property
    def exit_code(self) -> ExitCode:
        return verdict_code(self.readable, self.ok)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class VerifyBatch:
    results: list[Verification]

    @property
    def exit_code(self) -> ExitCode:
        return max((v.exit_code for v in self.results), default=ExitCode.OK)


@dataclass
class ExportOutcome:
    """`export` of one trained NAME.pt: the file written (None where nothing was), the equivariance measured
    with its weights, and the verdict."""

    source: str
    target: str | None
    ok: bool
    message: str
    max_rel: float | None = None
    readable: bool = True  # False: the source cannot be read as an eqdesign model, or the output cannot be written (exit 2)

    @property
    def exit_code(self) -> ExitCode:
        return verdict_code(self.readable, self.ok)
