"""`eqdesign train`: the output folder checked first, then the data (api.training reads and checks it before
anything is built), then the build, the training, and the run written whole, or nothing at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..api.errors import BuildFailed, EqdesignError, TrainingFailed
from ..api.training import OnProgress, Trained, train
from ..exitcodes import ExitCode
from ..findings import printable
from ..outfiles import folder_problem


@dataclass(frozen=True)
class TrainAsk:
    """The command line's options, as the API takes them (``options``: its keyword arguments)."""

    spec: str
    data: str
    out: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainOutcome:
    exit_code: int
    errors: list[str]
    trained: Trained | None = None
    written: list[str] = field(default_factory=list)


def run_train(ask: TrainAsk, on_progress: OnProgress | None) -> TrainOutcome:
    problem = folder_problem(ask.out, "-o", example="runs/model")
    if problem is not None:
        return TrainOutcome(ExitCode.SPEC, [problem])
    try:
        trained = train(ask.spec, ask.data, on_progress=on_progress, **ask.options)
    except BuildFailed as err:
        return TrainOutcome(ExitCode.FINDINGS, [f"{printable(ask.spec)}: the spec does not build: {err}"])
    except EqdesignError as err:  # data, spec or option problems, found before any training
        return TrainOutcome(ExitCode.SPEC, [str(err)])
    return _saved(trained, ask.out)


def _saved(trained: Trained, out: str) -> TrainOutcome:
    try:
        paths = trained.save(out)
    except TrainingFailed as err:
        return TrainOutcome(ExitCode.FINDINGS, [str(err)], trained)
    except OSError as err:
        return TrainOutcome(ExitCode.SPEC, [f"cannot write the run in {printable(out)}: {err.strerror or err}"], trained)
    return TrainOutcome(ExitCode.OK, [], trained, [str(Path(p)) for p in paths])
