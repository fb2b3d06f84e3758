"""`eqdesign train`'s report on the terminal (a table of the models' errors and where the run was written)
and under --format json (the run's report, with the verdict)."""

from __future__ import annotations

from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

#: the version of `eqdesign train --format json`'s document
SCHEMA_VERSION = 1


def train_json(code: int, errors: list[str], outcome: Any) -> dict[str, Any]:
    """The verdict, the files written and the run's report (``outcome``: a commands.train.TrainOutcome, or
    None for a usage error)."""
    trained = outcome.trained if outcome is not None else None
    return {
        "schema_version": SCHEMA_VERSION,
        "ok": code == 0,
        "exit_code": int(code),
        "errors": errors,
        "written": outcome.written if outcome is not None else [],
        "report": trained.report if trained is not None else None,
    }


def train_human(trained: Any, written: list[str], out: TextIO) -> None:
    report = trained.report
    console = Console(file=out, highlight=False, soft_wrap=True, markup=False, width=None if out.isatty() else 120)
    judged = report["ratios"]["judged_on"]
    table = Table(title=f"{report['name']}: mean squared errors (ratio: a model's {judged} error over the equivariant model's)")
    for column in ("model", "params", "steps", "best step", "val MSE", "test MSE", "ratio"):
        table.add_column(column)
    for model in report["models"]:
        ratio = report["ratios"].get(model["name"], 1.0)
        cells = (_num(model["val_mse"]), _num(model["test_mse"]), "-" if ratio is None else f"{ratio:.3g}")
        table.add_row(model["name"], str(model["params"]), str(model["steps"]), str(model["best_step"]), *cells)
    console.print(table)
    eq = report["equivariance"]
    console.print(f"equivariance of the trained model: {eq['max_rel']:.2e} (tolerance {eq['tolerance']:.0e})")
    console.print(report["plot"])
    if written:
        console.print(f"wrote {len(written)} files in {_folder(written)}: {', '.join(p.rsplit('/', 1)[-1] for p in written)}")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3e}"


def _folder(paths: list[str]) -> str:
    return paths[0].rsplit("/", 1)[0] if "/" in paths[0] else "."
