"""``design``: the architecture search of `eqdesign design`, and the measuring of its best candidates
(``--measure``), which builds them."""

from __future__ import annotations

import functools
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..analysis.search import Ask, Candidate, DesignResult, Measure, run_search
from ..analysis.starter import InitResult, starter
from .errors import DataError, DesignError, require

T = TypeVar("T")

__all__ = [
    "Ask",
    "Candidate",
    "DesignResult",
    "InitResult",
    "Measure",
    "design",
    "measure_in_processes",
    "measure_one",
    "run_search",
    "starter",
    "train_in_processes",
]


#: training steps of each candidate under design --data: a short budget, enough to rank them
DESIGN_STEPS = 300


def _in_processes(fn: Callable[[str], T], texts: list[str], jobs: int) -> list[T]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fresh interpreters: a fork of a process whose torch threads hold locks can wait on them for ever
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=spawn) as pool:
        return list(pool.map(fn, texts))


def measure_in_processes(top: int, jobs: int) -> Measure:
    """Build the first ``top`` candidates in ``jobs`` processes; each gets its measured error and speed."""

    def run(ranked: list[Candidate]) -> None:
        chosen = ranked[:top]
        for c, (error, seconds) in zip(chosen, _in_processes(measure_one, [c.text for c in chosen], jobs), strict=True):
            c.measured_error, c.seconds_per_batch = error, seconds

    return run


def train_in_processes(data: str, top: int, jobs: int, steps: int = DESIGN_STEPS) -> Measure:
    """Train the first ``top`` candidates briefly on ``data`` in ``jobs`` processes (the data checked here
    first: :class:`DataError`); each gets its validation loss, and the search ranks by it."""

    def run(ranked: list[Candidate]) -> str:
        from ..report.locations import portable_name
        from ..training.data import DataProblem, load_data

        chosen, design = ranked[:top], ranked[0].result.design
        assert design is not None
        try:
            checked = load_data(data, design.input.dim, design.output.dim)
        except DataProblem as err:
            raise DataError(str(err)) from None
        for c, loss in zip(
            chosen, _in_processes(functools.partial(train_one, data=data, steps=steps), [c.text for c in chosen], jobs), strict=True
        ):
            c.val_loss = loss
        return f"{steps} training steps on {portable_name(data)} (SHA-256 {checked.sha256[:16]}...)"

    return run


def train_one(text: str, data: str, steps: int) -> float | None:
    """The validation loss of one candidate trained on ``data`` (seed 0), None where it cannot be trained."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from .errors import EqdesignError
    from .training import train

    try:
        return float(train(text, data, steps=steps).report["models"][0]["val_mse"])
    except EqdesignError:
        return None


def measure_one(text: str) -> tuple[float | None, float | None]:
    """(the build's largest relative equivariance error, seconds of one forward of its exported inference
    artifact, NAME.pt2, at batch 512), None where the build fails. One build, in a worker process: torch and
    escnn are imported here only."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from ..analysis.checking import check_text
    from .building import run_build, write_artifacts

    with tempfile.TemporaryDirectory(prefix="eqdesign-measure-") as folder:
        build, made = run_build(check_text(text, str(Path(folder) / "candidate.yaml")), influence=False)
        if made is not None:
            write_artifacts(build, made, Path(folder) / "out")
        exported = [a for a in build.artifacts if a.endswith(".pt2")]
        if not build.ok or not build.equivariance or not exported or build.check.design is None:
            return None, None
        error = max(float(e["max_rel"]) for e in build.equivariance if e.get("max_rel") is not None)
        return error, _speed(exported[0], build.check.design.input.width)


def _speed(artifact: str, input_dim: int) -> float:
    """The median of five timed forwards of an exported model (one untimed first)."""
    import torch

    model = torch.export.load(artifact).module()
    x = torch.randn(512, input_dim)
    times = []
    with torch.no_grad():
        model(x)
        for _ in range(5):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return sorted(times)[2]


def design(
    *,
    group: str = "so3",
    input: str,
    output: str,
    params: int = 50_000,
    tolerance: float = 0.02,
    layers: int | None = None,
    name: str | None = None,
    measure: int = 0,
    jobs: int = 1,
    data: str | os.PathLike[str] | None = None,
) -> list[Candidate]:
    """Search architectures from ``input`` to ``output`` (irreps strings, as in specs) over ``group`` within
    ``params`` parameters, as `eqdesign design` does; the candidates that pass, best first.

    The first candidate's ``text`` is the commented spec `eqdesign design` writes (checked again); the
    others' are plain. ``measure``: build the best that many and rank them by measured error, then speed.
    ``data`` (a file `eqdesign train` reads): train the best ``measure`` (3 if 0) briefly on it and rank
    them by validation loss, then parameters; each candidate's ``val_loss`` holds its loss. Raises
    :class:`DesignError` for a bad ask, or where no architecture reaches the output, :class:`DataError` for
    data that cannot be used.

    >>> best = design(group="so2", input="1x vector", output="1x 0", params=2_000)[0]
    >>> best.params <= 2_000, best.exact
    (True, True)
    >>> load_spec(best.text).output
    '1x 0'
    """
    if measure:
        require("design --measure")
    ask = Ask(group, input, output, params, tolerance, layers, name)
    result = run_search(ask, _measure(measure, jobs, data))
    if not result.ok:
        raise DesignError([_keyword(m) for m in result.messages] + [f"{family}: {why}" for family, why in result.rejected])
    return result.ranked


def _measure(top: int, jobs: int, data: str | os.PathLike[str] | None) -> Measure | None:
    if data is not None:
        return train_in_processes(os.fspath(data), top or 3, jobs)
    return measure_in_processes(top, jobs) if top else None


def _keyword(message: str) -> str:
    """A message of the search names the command line's options (--params); here they are keywords."""
    return re.sub(r"(^|/)--([a-z]+)", r"\1\2", message)
