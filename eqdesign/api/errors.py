"""The exceptions of the public API. Each carries what the command line would report: located findings,
a build's report, or the measured equivariance error."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..extras import missing_extra
from ..findings import Finding
from ..report.concise import finding_line

if TYPE_CHECKING:
    from .building import BuildReport


class EqdesignError(Exception):
    """The base of every error eqdesign raises on purpose."""


def _lines(findings: Sequence[Finding]) -> str:
    return "\n".join(finding_line(f) + (f" (hint: {f.hint})" if f.hint else "") for f in findings)


class SpecError(EqdesignError, ValueError):
    """A spec that cannot be read or resolved; ``findings`` are the located findings `eqdesign check` shows
    (file, line, column, rule, message and hint each)."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        super().__init__(_lines(self.findings) or "the spec could not be read")


class DesignError(EqdesignError, ValueError):
    """An ask `design` cannot answer: a bad option (``messages`` say which), or an output no architecture
    can reach within the budget."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


class BuildFailed(EqdesignError):
    """A build that failed its tests, or that escnn could not make: ``report`` holds every verdict."""

    def __init__(self, report: BuildReport) -> None:
        self.report = report
        errors = [f for f in report.check.findings if f.severity.value == "error"]
        super().__init__("\n".join(report.failures[:1] + ([_lines(errors)] if errors else [])) or "the build failed")


class MissingExtra(EqdesignError, ImportError):
    """A function that needs what the check-only install leaves out (torch, escnn); the message gives the
    commands that install it."""


def require(command: str) -> None:
    """Raise MissingExtra where ``command`` (as extras.NEEDS names it) cannot run in this environment."""
    problem = missing_extra(command)
    if problem is not None:
        raise MissingExtra(problem)


class EquivarianceError(EqdesignError, AssertionError):
    """A module that is not equivariant within the tolerance: ``max_rel`` is the largest relative error
    measured, at group element ``element`` (its index among the sampled ones)."""

    def __init__(self, message: str, max_rel: float, element: int) -> None:
        self.max_rel, self.element = max_rel, element
        super().__init__(message)


class DataError(EqdesignError, ValueError):
    """Training data that cannot be used: the message names the file, and the rows or lines at fault."""


class TrainingFailed(EqdesignError):
    """A training run whose trained model is no longer equivariant within the tolerance, or whose exported
    artifacts fail verification."""
