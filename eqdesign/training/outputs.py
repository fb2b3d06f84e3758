"""A training run's reports: the learning curves as CSV, a versioned JSON report, a Markdown one, and the
plot of the curves (PNG and SVG) where matplotlib is installed. Every file depends on the run's numbers
alone (no times, no machine paths), so two runs with the same seed write the same bytes."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from ..report.jsonfmt import finite
from .loop import Fit

#: the version of NAME.train.json's layout
REPORT_VERSION = 1
PLOT_HINT = "install matplotlib (pip install 'eqdesign[train]') to get the plot; the curves are in the CSV"


@dataclass(frozen=True)
class ModelRun:
    """One trained model: its name (equivariant, mlp, mlp-augmented), size, training and errors."""

    name: str
    params: int
    fit: Fit
    val_mse: float
    test_mse: float | None
    note: str = ""


def curves_csv(runs: list[ModelRun]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["model", "step", "train_loss", "val_loss", "lr"])
    for run in runs:
        for row in run.fit.curve:
            writer.writerow([run.name, int(row["step"]), repr(row["train_loss"]), repr(row["val_loss"]), repr(row["lr"])])
    return out.getvalue()


def ratios(runs: list[ModelRun]) -> dict[str, float | None]:
    """Each baseline's error over the equivariant model's (test error where there is a test set, else
    validation): above 1, the symmetry paid off."""
    first = runs[0]
    key = _judged(first)
    ours = getattr(first, key)
    return {run.name: (getattr(run, key) / ours if ours else None) for run in runs[1:]}


def _judged(run: ModelRun) -> str:
    return "test_mse" if run.test_mse is not None else "val_mse"


def model_json(run: ModelRun) -> dict[str, Any]:
    fit = run.fit
    return {
        "name": run.name,
        "params": run.params,
        "steps": fit.steps,
        "best_step": fit.best_step,
        "stopped_early": fit.stopped_early,
        "val_mse": run.val_mse,
        "test_mse": run.test_mse,
        **({"note": run.note} if run.note else {}),
    }


def report_json(meta: dict[str, Any], runs: list[ModelRun]) -> dict[str, Any]:
    return {
        "kind": "eqdesign-train",
        "version": REPORT_VERSION,
        **meta,
        "models": [model_json(r) for r in runs],
        "ratios": {"judged_on": "test" if runs[0].test_mse is not None else "validation", **ratios(runs)},
        "curves": {r.name: r.fit.curve for r in runs},
    }


def markdown(report: dict[str, Any]) -> str:
    judged = report["ratios"]["judged_on"]
    lines = [f"# Training {report['name']}", "", f"Data: {report['data']['train']['rows']} training rows, judged on the {judged} set.", ""]
    lines += ["| model | params | steps | best step | validation MSE | test MSE | error / equivariant |", "|---|---|---|---|---|---|---|"]
    for model in report["models"]:
        ratio = report["ratios"].get(model["name"], 1.0)
        lines.append(
            f"| {model['name']} | {model['params']} | {model['steps']} | {model['best_step']} | {_num(model['val_mse'])} "
            f"| {_num(model['test_mse'])} | {_num(ratio, '.3g')} |"
        )
    lines += [
        "",
        f"Equivariance of the trained model: {_num(report['equivariance']['max_rel'])} (tolerance {report['equivariance']['tolerance']:.0e}).",
    ]
    lines += ["", report["plot"], ""]
    if "sizes" in report:
        lines += _sizes_table(report["sizes"], judged)
    return "\n".join(lines)


def _sizes_table(table: list[dict[str, Any]], judged: str) -> list[str]:
    models = [k for k in table[0] if k != "rows"]
    lines = [f"Data efficiency ({judged} MSE against the training rows):", "", "| rows | " + " | ".join(models) + " |"]
    lines.append("|---|" + "---|" * len(models))
    lines += [f"| {row['rows']} | " + " | ".join(_num(row[m]) for m in models) + " |" for row in table]
    return [*lines, ""]


def _num(value: float | None, spec: str = ".3e") -> str:
    return "-" if value is None else format(value, spec)


def _pyplot() -> Any:
    """matplotlib's pyplot, drawing off screen with reproducible SVG ids; None where it is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # never a window, whatever the environment asks
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    matplotlib.rcParams["svg.hashsalt"] = "eqdesign"  # SVG ids from a fixed salt: the same run, the same bytes
    return plt


def plot(runs: list[ModelRun], title: str) -> dict[str, bytes] | None:
    """The curves as PNG and SVG, or None without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return None
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for index, run in enumerate(runs):
        steps = [row["step"] for row in run.fit.curve]
        colour = f"C{index}"
        axes.plot(steps, [row["train_loss"] for row in run.fit.curve], color=colour, linestyle="--", alpha=0.6, label=f"{run.name} (train)")
        axes.plot(steps, [row["val_loss"] for row in run.fit.curve], color=colour, label=f"{run.name} (validation)")
    axes.set(xlabel="step", ylabel="mean squared error", yscale="log", title=title)
    return _finished(plt, figure, axes)


def _finished(plt: Any, figure: Any, axes: Any) -> dict[str, bytes]:
    axes.legend()
    figure.tight_layout()
    out = {kind: _saved(figure, kind) for kind in ("png", "svg")}
    plt.close(figure)
    return out


def sizes_csv(table: list[dict[str, Any]]) -> str:
    """The error of each model for each training-set size: one row per size."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    models = [k for k in table[0] if k != "rows"]
    writer.writerow(["rows", *models])
    for row in table:
        writer.writerow([row["rows"], *(repr(row[m]) for m in models)])
    return out.getvalue()


def plot_sizes(table: list[dict[str, Any]], judged: str, name: str) -> dict[str, bytes] | None:
    """Error against training-set size, log-log, one line per model (PNG and SVG; None without matplotlib)."""
    plt = _pyplot()
    if plt is None:
        return None
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for model in (k for k in table[0] if k != "rows"):
        axes.plot([row["rows"] for row in table], [row[model] for row in table], marker="o", label=model)
    axes.set(xlabel="training rows", ylabel=f"{judged} mean squared error", xscale="log", yscale="log", title=f"{name}: data efficiency")
    return _finished(plt, figure, axes)


def _saved(figure: Any, kind: str) -> bytes:
    buffer = io.BytesIO()
    metadata = {"Date": None} if kind == "svg" else {"Software": None}
    figure.savefig(buffer, format=kind, metadata=metadata, dpi=120)
    return buffer.getvalue()


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(finite(report), indent=2, allow_nan=False) + "\n"
