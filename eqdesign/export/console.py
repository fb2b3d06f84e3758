"""Console side of `build` and `verify`: progress on stderr, verdicts on stdout."""

from __future__ import annotations

import json
import sys
import time
from typing import Callable, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..analysis.pipeline import EXIT_FINDINGS, EXIT_OK, EXIT_SPEC


class StepProgress:
    """A spinner with the current step on stderr; each finished step is printed with its duration."""

    def __init__(self, label: str) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.label = label
        self.step, self.started = "", 0.0
        self.status = None

    def __enter__(self) -> "StepProgress":
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

    def __exit__(self, *exc) -> None:
        self._finish()
        self.status.__exit__(*exc)


def build_reporter(fmt: str, out: TextIO) -> Callable:
    if fmt == "json":
        from .pipeline import build_report

        return lambda result: out.write(json.dumps(build_report(result), indent=2) + "\n")
    console = Console(file=out, highlight=False, width=None if out.isatty() else 120)

    def human(result) -> None:
        from ..report.human import HumanReporter

        check = result.check
        if check.design is None or check.exit_code() != EXIT_OK:
            HumanReporter(out).spec(check, strict=False)
        _equivariance_table(console, result)
        for failure in result.failures:
            console.print(Text(f"{check.file}: error: {failure}", style="bold red"), soft_wrap=True)
        for note in result.notes:
            console.print(Text(f"note: {note}", style="dim"), soft_wrap=True)
        if result.ok:
            console.print(Text(f"{check.file}: built and verified; wrote " + ", ".join(result.artifacts), style="bold green"), soft_wrap=True)
        else:
            console.print(Text(f"{check.file}: build failed (exit {result.exit_code}); nothing was written", style="bold red"))

    return human


def _equivariance_table(console: Console, result) -> None:
    if not result.equivariance:
        return
    t = Table(title="Equivariance (relative error on random group elements)", title_justify="left")
    for col in ("probe", "exact", "max", "mean"):
        t.add_column(col, justify="right" if col in ("max", "mean") else "left")
    for e in result.equivariance:
        t.add_row(e["name"], "yes" if e["exact"] else "no", f"{e['max_rel']:.1e}", f"{e['mean_rel']:.1e}")
    console.print(t)
    infl = result.influence
    if infl:
        console.print(Text("Influence measured from Jacobians: " + json.dumps(infl["measured"]) + ("" if infl["measured"] == infl["static"] else f"; check said {json.dumps(infl['static'])}")))
    if result.agreement is not None:
        console.print(Text(f"Compiled module vs escnn (float32, same weights): {result.agreement:.1e} relative"))


def verify_paths(paths: list[str], fmt: str, out: TextIO) -> int:
    from .artifacts import verify

    code, results = EXIT_OK, []
    for path in paths:
        try:
            v = verify(path)
        except (OSError, RuntimeError, ValueError, KeyError) as err:
            print(f"error: {path}: cannot read it as an eqdesign model: {err}", file=sys.stderr)
            code = max(code, EXIT_SPEC)
            continue
        results.append(v)
        code = max(code, EXIT_OK if v.ok else EXIT_FINDINGS)
    if fmt == "json":
        out.write(json.dumps([v.as_json() for v in results], indent=2) + "\n")
    else:
        for v in results:
            style = "bold green" if v.ok else "bold red"
            Console(file=out, highlight=False).print(Text(f"{v.path}: {v.message}", style=style), soft_wrap=True)
    return code
