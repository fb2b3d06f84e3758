"""`eqdesign design`: the ask from the command line, the search (analysis.search, measured through
api.designing with --measure), the spec written to a new file or printed, and the report."""

from __future__ import annotations

from ..api.designing import Ask, DesignResult, measure_in_processes, run_search
from ..exitcodes import ExitCode
from ..outfiles import write_new

__all__ = ["Ask", "DesignResult", "design", "measure_in_processes"]


def design(ask: Ask, refused: list[str], measure: tuple[int, int] | None, file: str | None) -> DesignResult:
    """Search unless the command line was refused (``refused``: its usage errors), then write ``file``
    (``measure``: top and jobs of --measure)."""
    if refused:  # before the search: --measure builds candidates, minutes of work for a path never written
        return DesignResult(ask, ExitCode.SPEC, messages=refused)
    result = run_search(ask, measure_in_processes(*measure) if measure else None)
    problem = write_new(file, result.text, "design") if result.ok and file is not None else None
    if problem is not None:
        result.messages.append(problem)
        result.exit_code = ExitCode.SPEC
    return result
