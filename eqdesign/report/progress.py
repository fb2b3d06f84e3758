"""Progress of long commands on stderr: a spinner with the current step, each finished step timed."""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.text import Text

from ..findings import printable


class StepProgress:
    def __init__(self, label: str) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.label = label
        self.step, self.started = "", 0.0
        self.status: Any = None

    def __enter__(self) -> StepProgress:
        if not self.console.is_terminal:  # no spinner in a log: say which spec the timed steps belong to
            self.console.print(Text(printable(self.label), style="bold"), soft_wrap=True)
        self.status = self.console.status(f"{self.label}: starting")
        self.status.__enter__()
        return self

    def __call__(self, step: str) -> None:
        self._finish()
        self.step, self.started = step, time.perf_counter()
        self.status.update(f"{self.label}: {step} ...")

    def _finish(self) -> None:
        if self.step:
            self.console.print(Text(f"  {self.step}: {time.perf_counter() - self.started:.1f} s", style="dim"))

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self._finish()
        self.status.__exit__(kind, err, tb)


class TrainBar:
    """A progress bar per trained model, with its last batch's loss and its steps per second; on stderr, and
    only where stdout is a terminal (never in a log, nor under --format json: ``enabled``)."""

    def __init__(self, enabled: bool) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeRemainingColumn(),
        )
        self.progress = Progress(*columns, console=Console(stderr=True), disable=not enabled, transient=False)
        self.tasks: dict[str, Any] = {}
        self.started: dict[str, float] = {}

    def __enter__(self) -> TrainBar:
        self.progress.__enter__()
        return self

    def __call__(self, model: str, step: int, total: int, loss: float) -> None:
        if model not in self.tasks:
            self.tasks[model] = self.progress.add_task(model, total=total, stats="")
            self.started[model] = time.perf_counter()
        rate = step / max(1e-9, time.perf_counter() - self.started[model])
        self.progress.update(self.tasks[model], completed=step, stats=f"loss {loss:.3e}  {rate:,.0f} steps/s")

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.__exit__(kind, err, tb)
