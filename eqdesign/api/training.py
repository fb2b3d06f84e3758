"""``train``: a spec built once, its compiled module trained on data (no escnn in the loop), compared with
plain-MLP baselines, its equivariance measured again on the trained weights, and, on ``save``, exported
with the trained weights, the data's hashes and the metrics in provenance, beside the run's reports.
`eqdesign train` runs the same steps."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..training.data import DataProblem, Dataset, load_data
from .building import Addition, Built, build, export_artifacts
from .errors import DataError, EquivarianceError
from .spec import SpecSource, load_spec

if TYPE_CHECKING:
    import torch

    from ..results import Verification
    from ..training.loop import Budget
    from ..training.outputs import ModelRun

BASELINES = ("none", "mlp", "mlp-augmented")
#: the group elements the augmented baseline draws from (a fixed pool, sampled once; see baselines.Augmenter)
AUGMENT_POOL = 1024
#: the callback of the progress bar: (model, step, total, loss)
OnProgress = Callable[[str, int, int, float], None]


@dataclass(frozen=True)
class Sets:
    train: Dataset
    val: Dataset
    test: Dataset | None


def read_sets(dims: tuple[int, int], data: str, val: float, val_data: str | None, test: str | None, seed: int) -> Sets:
    """The training, validation and test sets, each checked; the validation set is a seeded random
    ``val`` fraction of ``data`` unless ``val_data`` names a file. Raises :class:`DataError`."""
    try:
        whole = load_data(data, *dims)
        tested = load_data(test, *dims) if test is not None else None
        if val_data is not None:
            return Sets(whole, load_data(val_data, *dims), tested)
    except DataProblem as err:
        raise DataError(str(err)) from None
    held = round(len(whole) * val)
    if not 0 < val < 1 or held < 1 or held >= len(whole):
        raise DataError(
            f"{data}: --val {val:g} of {len(whole)} rows leaves no validation or no training row; give a fraction such as 0.1, or --val-data FILE"
        )
    order = np.random.default_rng(seed).permutation(len(whole))
    return Sets(whole.subset(order[held:], data), whole.subset(order[:held], f"{data} (held out)"), tested)


def train(
    spec: SpecSource | Built,
    data: str | os.PathLike[str],
    *,
    val: float = 0.1,
    val_data: str | os.PathLike[str] | None = None,
    test: str | os.PathLike[str] | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    batch: int = 64,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    patience: int = 10,
    seed: int = 0,
    device: str = "auto",
    baseline: str = "none",
    sizes: Sequence[int] = (),
    on_progress: OnProgress | None = None,
) -> Trained:
    """Train a spec's compiled model on ``data`` (a ``.npz`` with ``x`` and ``y``, or a ``.csv`` with columns
    ``x0..``, ``y0..``) as `eqdesign train` does, without writing anything (see :meth:`Trained.save`).

    The spec is built once (``spec`` may also be a :class:`Built`, reused as it is); the model and the
    ``baseline`` MLPs (``none``, ``mlp``: a plain MLP of the same parameter count, ``mlp-augmented``: the same
    trained on randomly transformed batches too) are trained alike: AdamW, warm-up then cosine, early stopping
    on the validation loss (``patience`` checks), best weights kept, everything seeded by ``seed``. The
    validation set is a ``val`` fraction of ``data`` unless ``val_data`` names a file. ``sizes`` (numbers of
    training rows, such as 100, 300, 1000) also trains fresh models and baselines on growing nested subsets
    of the training set, for the test error against the training set's size (``report["sizes"]``). Raises
    :class:`DataError` for data that cannot be used, before anything is built.

    >>> import numpy as np, tempfile
    >>> x = np.random.default_rng(0).normal(size=(256, 3)).astype(np.float32)  # a scalar s and a planar vector v
    >>> y = np.concatenate([x[:, :1] ** 2, x[:, :1] * x[:, 1:]], axis=1)  # s^2 and s v: equivariant
    >>> data = tempfile.mkdtemp() + "/gated.npz"
    >>> np.savez(data, x=x, y=y)
    >>> trained = train("specs/so2-gated.yaml", data, steps=30, baseline="mlp")
    >>> [model["name"] for model in trained.report["models"]]
    ['equivariant', 'mlp']
    >>> trained.ok, trained.report["equivariance"]["max_rel"] < 1e-4
    (True, True)
    """
    made = spec if isinstance(spec, Built) else None
    if baseline not in BASELINES:
        raise DataError(f"baseline {baseline!r}: choose one of {', '.join(BASELINES)}")
    sets = read_sets(_dims(spec), os.fspath(data), val, _path(val_data), _path(test), seed)
    _check_sizes(sizes, len(sets.train), os.fspath(data))
    _require_build()
    import torch  # only once the data passed: refusing bad data needs no torch

    from ..training.loop import Budget

    where = _device(device)  # a device that is not there is refused before the build
    built = made or build(spec, seed=seed, influence=False)  # type: ignore[arg-type]  # a Built is handled above
    budget = Budget(steps, epochs, batch, lr, weight_decay, patience=patience, seed=seed)
    runs = _train_all(built, sets, budget, where, baseline, on_progress)
    meta = _meta(built, sets, budget, where, baseline)
    if sizes:
        meta["sizes"] = _sizes(built, sets, budget, (where, baseline), sorted(sizes), on_progress)
    module = runs[0][1].to(torch.device("cpu")).eval()
    return Trained(built, module, [r for r, _ in runs], sets, meta, _measured(module, built, seed))


def _check_sizes(sizes: Sequence[int], rows: int, data: str) -> None:
    wrong = [n for n in sizes if not 1 <= n <= rows]
    if wrong or len(set(sizes)) != len(sizes):
        what = f"{', '.join(map(str, wrong))} not between 1 and the {rows} training rows" if wrong else "a size given twice"
        raise DataError(f"{data}: --sizes: {what}; give distinct sizes such as 100,300,1000")


def _sizes(
    built: Built, sets: Sets, budget: Budget, how: tuple[torch.device, str], sizes: list[int], on_progress: OnProgress | None
) -> list[dict[str, Any]]:
    """Each model's error (test, else validation) trained on the first n rows of one seeded permutation of
    the training set, for each size n: nested subsets, so that a larger set only adds rows."""
    order = np.random.default_rng(budget.seed).permutation(len(sets.train))
    table = []
    for n in sizes:
        subset = replace(sets, train=sets.train.subset(order[:n], sets.train.file))
        shown = (lambda m, s, t, loss, n=n: on_progress(f"{m}, {n} rows", s, t, loss)) if on_progress is not None else None
        runs = _train_all(built, subset, budget, how[0], how[1], shown)
        table.append({"rows": n, **{run.name: run.test_mse if run.test_mse is not None else run.val_mse for run, _ in runs}})
    return table


def _require_build() -> None:
    """Training builds (escnn) and trains (torch): without them, say how to install them (exit 2), not an
    import error deep inside."""
    from .errors import require

    require("train")


def _path(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)


def _dims(spec: SpecSource | Built) -> tuple[int, int]:
    """The layout's widths; a spec that does not resolve raises as ``build`` would."""
    if isinstance(spec, Built):
        return spec.layout["input_dim"], spec.layout["output_dim"]
    design = load_spec(spec)._checked.design
    if design is None:
        build(spec)  # raises BuildFailed with the findings
        raise AssertionError("unreachable")
    return design.input.dim, design.output.dim


def _device(name: str) -> torch.device:
    import torch

    from .errors import EqdesignError

    if name not in ("auto", "cpu", "cuda"):
        raise EqdesignError(f"device {name!r}: choose auto, cpu or cuda")
    if name == "cuda" and not torch.cuda.is_available():
        raise EqdesignError("device cuda: torch sees no CUDA device here; use --device cpu (or auto)")
    return torch.device("cuda" if name != "cpu" and torch.cuda.is_available() else "cpu")


def _train_all(
    built: Built, sets: Sets, budget: Budget, device: torch.device, baseline: str, on_progress: OnProgress | None
) -> list[tuple[ModelRun, torch.nn.Module]]:
    """The model, then the baselines asked for, each trained the same way from the same seed."""
    from ..training.baselines import count, plain_mlp

    model = copy.deepcopy(built.module).to(device)
    runs = [_run("equivariant", model, sets, budget, None, on_progress)]
    dims, params = (built.layout["input_dim"], built.layout["output_dim"]), count(model)
    if baseline in ("mlp", "mlp-augmented"):
        runs.append(_run("mlp", plain_mlp(*dims, params, budget.seed).to(device), sets, budget, None, on_progress))
    if baseline == "mlp-augmented":
        augment = _augmenter(built, budget.seed).to(device)
        runs.append(_run("mlp-augmented", plain_mlp(*dims, params, budget.seed).to(device), sets, budget, augment, on_progress))
    return runs


def _augmenter(built: Built, seed: int) -> Any:
    import torch

    from ..escnn_backend.probes import design_representations
    from ..training.baselines import Augmenter

    design = built._result.check.design
    assert design is not None
    _, rho_in, rho_out = design_representations(design, AUGMENT_POOL, seed + 2, torch.float32)
    return Augmenter(rho_in, rho_out)


def _run(
    name: str, module: torch.nn.Module, sets: Sets, budget: Budget, augment: Any, on_progress: OnProgress | None
) -> tuple[ModelRun, torch.nn.Module]:
    from ..training.baselines import count
    from ..training.loop import Split, as_tensors, fit, mse
    from ..training.outputs import ModelRun

    device = next(module.parameters()).device
    split = Split(*as_tensors(sets.train.x, sets.train.y, device), *as_tensors(sets.val.x, sets.val.y, device))
    step = (lambda s, t, loss: on_progress(name, s, t, loss)) if on_progress is not None else None
    fitted = fit(module, split, budget, augment, step)
    test = mse(module, *as_tensors(sets.test.x, sets.test.y, device)) if sets.test is not None else None
    note = f"batches moved by random group elements from a fixed pool of {augment.elements}" if augment is not None else ""
    return ModelRun(name, count(module), fitted, fitted.best_val, test, note), module


@dataclass(frozen=True)
class Measured:
    """The trained model's equivariance error against the tolerance its build was held to."""

    max_rel: float
    tolerance: float
    exact: bool

    @property
    def ok(self) -> bool:
        return self.max_rel <= self.tolerance


def _measured(module: torch.nn.Module, built: Built, seed: int) -> Measured:
    import torch

    from .equivariance import _representations, assert_equivariant

    tolerance = _representations(built, 16, seed, torch.float32)[3]
    try:
        error = assert_equivariant(module, built, seed=seed)
    except EquivarianceError as err:
        error = err.max_rel
    return Measured(error, tolerance, built._made.exact)


def _meta(built: Built, sets: Sets, budget: Budget, device: torch.device, baseline: str) -> dict[str, Any]:
    from dataclasses import asdict

    from ..report.locations import portable_name

    def described(data: Dataset | None) -> dict[str, Any] | None:
        return None if data is None else {"file": portable_name(data.file), "sha256": data.sha256, "rows": len(data)}

    return {
        "name": built.name,
        "device": device.type,
        "baseline": baseline,
        "budget": asdict(budget),
        "data": {"train": described(sets.train), "val": described(sets.val), "test": described(sets.test)},
    }


class Trained:
    """A training run: ``module`` is the trained model (best weights, CPU, evaluation mode), ``report`` the
    run's report (what NAME.train.json holds: every model's errors, the ratios, the curves, the trained
    model's equivariance), ``ok`` whether it is still equivariant within its build's tolerance.

    ``save(folder)`` exports the trained model as NAME.pt and NAME.pt2 (the data's hashes and the metrics in
    provenance), with the build's reports, the run's reports, the curves (CSV, and PNG and SVG with
    matplotlib) and the last weights, all written at once; then verifies the two artifacts."""

    def __init__(
        self, built: Built, module: torch.nn.Module, runs: list[ModelRun], sets: Sets, meta: dict[str, Any], measured: Measured
    ) -> None:
        from ..training.outputs import PLOT_HINT, plot, report_json

        self.built, self.module, self.runs, self.measured = built, module, runs, measured
        self.plot = plot(runs, f"{built.name}: training and validation loss")
        name = built.name
        drawn = f"The curves are plotted in {name}.curves.png and {name}.curves.svg." if self.plot else PLOT_HINT
        equivariance = {"max_rel": measured.max_rel, "tolerance": measured.tolerance, "exact": measured.exact}
        self.report: dict[str, Any] = report_json(dict(meta, equivariance=equivariance, plot=drawn), runs)
        self.verifications: list[Verification] = []

    @property
    def ok(self) -> bool:
        return self.measured.ok

    @property
    def failure(self) -> str | None:
        m = self.measured
        if m.ok:
            return None
        kind = "exactly equivariant layers" if m.exact else "sampled layers"
        return f"the trained model is not equivariant: relative error {m.max_rel:.2e} above its tolerance {m.tolerance:.0e} ({kind}); nothing was written"

    def files(self) -> dict[str, str | bytes]:
        """The run's files (beside the artifacts), by name."""
        from ..training.outputs import curves_csv, dumps, markdown, plot_sizes, sizes_csv

        name = self.built.name
        files: dict[str, str | bytes] = {
            f"{name}.train.json": dumps(self.report),
            f"{name}.train.md": markdown(self.report),
            f"{name}.curves.csv": curves_csv(self.runs),
            f"{name}.last-weights.pth": _state_bytes(self.runs[0].fit.last_state),
        }
        for kind, data in (self.plot or {}).items():
            files[f"{name}.curves.{kind}"] = data
        if "sizes" in self.report:
            files[f"{name}.sizes.csv"] = sizes_csv(self.report["sizes"])
            for kind, data in (plot_sizes(self.report["sizes"], self.report["ratios"]["judged_on"], name) or {}).items():
                files[f"{name}.sizes.{kind}"] = data
        return files

    def save(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Write the run in ``folder`` (made if missing), then verify NAME.pt and NAME.pt2; returns the paths.
        Raises :class:`TrainingFailed` (writing nothing) where the trained model is not equivariant."""
        from .errors import TrainingFailed
        from .loading import verify

        if self.failure is not None:
            raise TrainingFailed(self.failure)
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        result = copy.copy(self.built._result)  # the build's record keeps its own list of artifacts
        made = replace(self.built._made, compiled32=self.module)  # type: ignore[arg-type]  # a trained copy of the CompiledModel
        export_artifacts(result, made, out, addition=Addition({"training": self._provenance()}, self.files()))
        self.verifications = [verify(out / f"{self.built.name}{ext}") for ext in (".pt", ".pt2")]
        failed = [v.message for v in self.verifications if not v.ok]
        if failed:
            raise TrainingFailed("the exported trained model fails verification: " + "; ".join(failed))
        return [Path(a) for a in result.artifacts]

    def _provenance(self) -> dict[str, Any]:
        metrics = {run.name: {"val_mse": run.val_mse, "test_mse": run.test_mse, "params": run.params} for run in self.runs}
        return {
            "data": self.report["data"],
            "metrics": metrics,
            "equivariance": self.report["equivariance"],
            "budget": self.report["budget"],
        }

    def __repr__(self) -> str:
        errors = ", ".join(f"{r.name}={r.test_mse if r.test_mse is not None else r.val_mse:.3e}" for r in self.runs)
        return f"Trained(name={self.built.name!r}, ok={self.ok}, {errors})"


def _state_bytes(state: dict[str, torch.Tensor]) -> bytes:
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({k: v.cpu() for k, v in state.items()}, buffer)
    return buffer.getvalue()
