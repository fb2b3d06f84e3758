"""`eqdesign design`: the ask from the command line, the search (analysis.search, measured through
api.designing with --measure), the spec written to a new file or printed, and the report."""

from __future__ import annotations

from ..api.designing import Ask, DesignResult, Measure, measure_in_processes, run_search, train_in_processes
from ..api.errors import DataError
from ..exitcodes import ExitCode
from ..outfiles import write_new

__all__ = ["Ask", "DesignResult", "design", "measure_in_processes"]


def design(ask: Ask, refused: list[str], measure: tuple[int, int] | None, file: str | None, data: str | None = None) -> DesignResult:
    """Search unless the command line was refused (``refused``: its usage errors), then write ``file``
    (``measure``: top and jobs of --measure, or of --data, which trains them on that file)."""
    if refused:  # before the search: --measure builds candidates, minutes of work for a path never written
        return DesignResult(ask, ExitCode.SPEC, messages=refused)
    try:
        result = run_search(ask, _measure(measure, data))
    except DataError as err:
        return DesignResult(ask, ExitCode.SPEC, messages=[str(err)])
    problem = write_new(file, result.text, "design") if result.ok and file is not None else None
    if problem is not None:
        result.messages.append(problem)
        result.exit_code = ExitCode.SPEC
    return result


def _measure(measure: tuple[int, int] | None, data: str | None) -> Measure | None:
    if measure is None:
        return None
    return train_in_processes(data, *measure) if data is not None else measure_in_processes(*measure)
