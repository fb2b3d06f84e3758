"""``build``: check, build with escnn, compile to plain torch, test equivariance and agreement, measure
influence; and, for a build that passed, write its artifacts. `eqdesign build` runs the same steps."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..analysis.checking import SpecResult, check_loaded
from ..analysis.design import Design
from ..exitcodes import ExitCode
from ..findings import Finding, Location
from ..interrupts import stop_if_pending
from ..results import BuildResult
from .checking import CheckReport
from .errors import BuildFailed, require
from .spec import Spec, SpecSource, load_spec

if TYPE_CHECKING:  # torch and escnn are imported only once a build starts
    import torch

    from ..escnn_backend.model import EscnnModel
    from ..export.modules import CompiledModel
    from ..numerics.influence import Measurement
    from ..numerics.suite import EquivarianceReport

T = TypeVar("T")

#: called with the name of each step as it starts
Progress = Callable[[str], None]


@dataclass(frozen=True)
class Made:
    """What a build that passed made, as tested: enough to write its artifacts."""

    compiled32: CompiledModel
    element_names: list[str]
    reps: tuple[torch.Tensor, torch.Tensor]
    exact: bool
    grid_points: str


def run_build(check: SpecResult, progress: Progress = lambda _: None, influence: bool = True) -> tuple[BuildResult, Made | None]:
    """Build a checked spec and test it; what it made, only where every test passed."""
    result = BuildResult(check)
    if check.exit_code() != ExitCode.OK:
        result.fail("eqdesign check reports errors: fix them first (nothing was built)", check.exit_code(), rule=None)
        return result, None
    try:
        made = _build(result, progress, influence)
    except Exception as err:  # noqa: BLE001 - one spec's failure never stops the batch
        stop_if_pending()  # escnn swallowed the exception raised for a signal, then failed: interrupted, not a defect
        _build_failed(result, err)
        return result, None
    stop_if_pending()  # a signal whose exception escnn swallowed: nothing is written after it
    return result, made if not result.failures else None


def _build_failed(result: BuildResult, err: Exception) -> None:
    from ..escnn_backend.compat import BuildError

    if os.environ.get("EQDESIGN_DEBUG"):
        raise err
    if isinstance(err, BuildError) and result.check.loaded is not None:
        where = result.check.loaded.at(err.path) if err.path else Location(result.check.file, 1, 1, "")
        result.fail(f"{where}: escnn cannot build this design: {err}", at=where)
    else:
        result.fail(
            f"internal error while building: {type(err).__name__}: {err} (rerun with EQDESIGN_DEBUG=1; please report this)",
            ExitCode.INTERNAL,
            rule="internal-error",
        )


def _timed(result: BuildResult, label: str, progress: Progress, fn: Callable[[], T]) -> T:
    progress(label)
    start = time.perf_counter()
    value = fn()
    result.timings[label] = round(time.perf_counter() - start, 3)
    return value


def _build(result: BuildResult, progress: Progress, influence: bool) -> Made | None:
    import torch

    from ..analysis.cost import cost_totals
    from ..escnn_backend import probes
    from ..escnn_backend.autogrid import choose_grids, grid_points, grid_records
    from ..escnn_backend.builder import build_escnn
    from ..escnn_backend.lower import compile_model
    from ..export.layout import field_slices
    from ..numerics.elements import pick_elements
    from ..numerics.gridsearch import auto_layers
    from ..numerics.suite import run_suite
    from ..numerics.tolerances import AGREEMENT
    from ..report.jsonfmt import probe_json

    checked = result.check.design
    assert checked is not None
    design, tests = checked, checked.spec.tests
    model = _timed(result, "building the escnn model (grids, bases)", progress, lambda: build_escnn(design, torch.float64, seed=tests.seed))
    result.notes.extend(model.notes)
    elements = pick_elements(model.G, tests.samples, tests.seed)
    found = None
    if auto_layers(design):
        design, found = _timed(result, "choosing grids (grid: auto)", progress, lambda: choose_grids(model, elements))
    result.grids = grid_records(model, found)
    result.cost = cost_totals(design)
    if found is not None and found.failure:
        result.fail(f"{result.check.file}: {found.failure}", rule="not-equivariant")
        return None
    c64, c32 = _timed(
        result, "compiling to plain torch", progress, lambda: (compile_model(model, torch.float64), compile_model(model, torch.float32))
    )
    result.agreement = _agreement(model, c32, tests.seed)
    if not result.agreement <= AGREEMENT:  # written so that NaN fails too
        result.fail(f"the compiled module differs from escnn by {result.agreement:.1e} relative (> {AGREEMENT:.0e})")
    if probes.batch_normalized(design):  # training mode too: batch statistics, and running ones updated alike
        trained = probes.training_agreement(model, c64, tests.seed)
        result.notes.append(f"training mode (batch statistics, running statistics updated): compiled vs escnn {trained:.1e} relative")
        if not trained <= AGREEMENT:
            result.fail(f"in training mode the compiled module differs from escnn by {trained:.1e} relative (> {AGREEMENT:.0e})")
    names = probes.element_names(elements)

    def suite() -> EquivarianceReport:
        return run_suite(
            design,
            probes.layer_cases(design, model, c64, elements),
            probes.model_cases(model, c64, c32, elements),
            field_slices(design.output),
            names,
        )

    report = _timed(result, f"testing equivariance on {len(elements)} group elements", progress, suite)
    result.equivariance = [probe_json(r) for r in report.results]
    for failure in report.failures:
        result.fail(failure, rule="not-equivariant")
    if influence:
        _timed(result, "measuring influence from Jacobians", progress, lambda: _influence(result, probes.measure(design, model)))
    if result.failures:
        return None
    reps = probes.end_representations(model, elements, torch.float64)
    return Made(c32, names, reps, report.exact, json.dumps(grid_points(model)))


def warm_escnn(design: Design) -> None:
    """Build a design's escnn model once (float64, as a build does), which fills escnn's caches."""
    import torch

    from ..escnn_backend.builder import build_escnn

    build_escnn(design, torch.float64, seed=design.spec.tests.seed)


def _agreement(model: EscnnModel, compiled32: CompiledModel, seed: int) -> float:
    import torch

    x = torch.randn(64, model.in_width, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        ref = model(x.double()).float()
        out = compiled32(x)
    return float((out - ref).norm() / ref.norm().clamp_min(1e-30))


def _influence(result: BuildResult, m: Measurement) -> None:
    static = result.check.influence
    leaks = [{"output": b.output, "input": b.input, "rel": b.rel, "rel_refined": b.rel_refined} for b in m.leaks()]
    result.influence = {"measured": m.influence, "static": static, "leakage": leaks}
    for out, measured in m.influence.items():
        if sorted(measured) != sorted(static.get(out, [])):
            result.fail(
                f"measured influence of output {out} is {measured or 'nothing'}, but check says {static.get(out) or 'nothing'}: please report this"
            )


def provenance(result: BuildResult) -> dict[str, Any]:
    from importlib.metadata import version

    import numpy
    import torch

    from .. import __version__
    from ..report.locations import portable_name

    assert result.check.loaded is not None and result.check.design is not None
    text = result.check.loaded.text
    return {
        "eqdesign": __version__,
        "torch": torch.__version__,
        "escnn": version("escnn"),
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "spec_file": portable_name(result.check.file),  # no machine path: builds reproduce across machines
        "spec_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "seed": result.check.design.spec.tests.seed,
        "created": _created(),
    }


def _created() -> str:
    """The build time, or SOURCE_DATE_EPOCH where it is set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    stamp = int(epoch) if epoch.isdigit() else time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def write_artifacts(result: BuildResult, made: Made, out_dir: Path, progress: Progress = lambda _: None) -> None:
    """NAME.pt, NAME.pt2, NAME.report.json and NAME.md of a build that passed, in ``out_dir``; a failure to
    write is the build's failure, as any other (the batch goes on)."""
    try:
        export_artifacts(result, made, out_dir, progress)
    except Exception as err:  # noqa: BLE001 - one spec's failure never stops the batch
        stop_if_pending()
        _build_failed(result, err)


@dataclass(frozen=True)
class Addition:
    """What an export adds to a build's artifacts: keys of provenance.json (a training run's data hashes and
    metrics, say), and more files written with them, all or none."""

    provenance: dict[str, Any]
    files: dict[str, str | bytes]


def export_artifacts(
    result: BuildResult, made: Made, out_dir: Path, progress: Progress = lambda _: None, addition: Addition | None = None
) -> None:
    """Export ``made.compiled32`` with the build's extras (and ``addition``): the model as built, or trained
    weights in a copy of ``made`` (its parameters are Schur coefficients: still equivariant, as the
    representations stored beside them let `eqdesign verify` check)."""
    with warnings.catch_warnings():  # torch.export's notes on CPU-only weights are not the user's concern
        warnings.simplefilter("ignore")
        _timed(result, "exporting TorchScript and torch.export", progress, lambda: _export(result, out_dir, made, addition))


def _export(result: BuildResult, out_dir: Path, made: Made, addition: Addition | None = None) -> None:
    from ..export.artifacts import representations_payload, save_artifacts, with_hashes
    from ..export.layout import layout
    from ..numerics.tolerances import artifact_tolerance
    from ..report.jsonfmt import build_report
    from ..report.markdown import markdown_report

    design = result.check.design
    assert design is not None and result.check.loaded is not None
    name = design.spec.name
    tolerance = artifact_tolerance(made.exact, design.spec.tests.tolerance)
    result.artifacts = [str(out_dir / f"{name}{ext}") for ext in (".pt", ".pt2", *_onnx_written(result, name), ".report.json", ".md")]
    report_json = json.dumps(build_report(result, portable=True), indent=2)
    extras = {
        "spec.yaml": result.check.loaded.text,
        "report.json": report_json,
        "layout.json": json.dumps(layout(design), indent=2),
        "representations.json": representations_payload(made.element_names, made.reps[0], made.reps[1], tolerance, made.exact),
        "grids.json": made.grid_points,
    }
    added = addition or Addition({}, {})
    extras = with_hashes(extras, dict(provenance(result), **added.provenance))
    files: dict[str, str | bytes] = {f"{name}.report.json": report_json, f"{name}.md": markdown_report(result), **added.files}
    save_artifacts(out_dir, name, made.compiled32, extras, files)
    result.artifacts += [str(out_dir / f) for f in added.files]


def _onnx_written(result: BuildResult, name: str) -> tuple[str, ...]:
    """(".onnx",) where the ONNX exporter and onnxruntime are installed; else a note on how to add them."""
    from ..export.onnxfile import missing
    from ..extras import onnx_hint

    absent = missing()
    if not absent:
        return (".onnx",)
    result.notes.append(f"no {name}.onnx written: {onnx_hint(absent)}")
    return ()


# -- the public API ---------------------------------------------------------------------------------------


class BuildReport:
    """The verdicts of one build: ``ok``, ``failures`` (one line each), the equivariance measured per
    probe, the compiled module's agreement with escnn, the grids and the cost as built. ``as_dict()`` is
    the report stored in the artifacts (NAME.report.json), ``str()`` the human report of `eqdesign build`."""

    def __init__(self, result: BuildResult) -> None:
        self._result = result

    ok = property(lambda self: self._result.ok, doc="Whether every test passed.")
    failures = property(lambda self: list(self._result.failures), doc="What failed, one line each.")
    equivariance = property(lambda self: list(self._result.equivariance), doc="Each probe's relative equivariance error.")
    agreement = property(lambda self: self._result.agreement, doc="The float32 module against escnn, relative.")
    notes = property(lambda self: list(self._result.notes))
    artifacts = property(lambda self: list(self._result.artifacts), doc="The files written by the last save.")

    @property
    def check(self) -> CheckReport:
        return CheckReport(self._result.check)

    @property
    def findings(self) -> list[Finding]:
        return self._result.all_findings()

    @property
    def max_equivariance_error(self) -> float | None:
        errors = [e["max_rel"] for e in self._result.equivariance if e.get("max_rel") is not None]
        return max(errors) if errors else None

    def as_dict(self) -> dict[str, Any]:
        from ..report.jsonfmt import build_report

        return build_report(self._result)

    def __str__(self) -> str:
        import io

        from ..report.human import HumanReporter

        out = io.StringIO()
        HumanReporter(out).build_result(self._result)
        return out.getvalue()

    def __repr__(self) -> str:
        return f"BuildReport(ok={self.ok}, max_equivariance_error={self.max_equivariance_error}, failures={len(self.failures)})"


class Built:
    """A spec built and tested. ``module`` is the trainable compiled model (float32, plain torch: its
    parameters are the Schur coefficients of every layer, so any update keeps it equivariant). ``layout``
    says which input and output columns hold which field; ``report`` holds the verdicts.

    ``save(folder)`` writes the artifacts `eqdesign build` writes, of the model as it was built and tested
    (training ``module`` afterwards does not change what ``save`` writes)."""

    def __init__(self, result: BuildResult, made: Made) -> None:
        from ..export.layout import layout

        assert result.check.design is not None
        self.report = BuildReport(result)
        self.layout: dict[str, Any] = layout(result.check.design)
        self.module = copy.deepcopy(made.compiled32)
        self._result, self._made = result, made

    @property
    def tolerance(self) -> float:
        """The spec's ``tests.tolerance``: what sampled Fourier layers are held to."""
        assert self._result.check.design is not None
        return self._result.check.design.spec.tests.tolerance

    @property
    def name(self) -> str:
        assert self._result.check.design is not None
        return self._result.check.design.spec.name

    def save(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Write NAME.pt (TorchScript, trainable), NAME.pt2 (torch.export), NAME.report.json and NAME.md in
        ``folder`` (made if missing); returns their paths."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        export_artifacts(self._result, self._made, out)
        return [Path(a) for a in self._result.artifacts]

    def __repr__(self) -> str:
        return f"Built(name={self.name!r}, ok={self.report.ok}, params={sum(p.numel() for p in self.module.parameters())})"


def build(spec: SpecSource, *, seed: int | None = None, influence: bool = True, progress: Progress | None = None) -> Built:
    """Build a spec and test it as `eqdesign build` does (without writing anything: see :meth:`Built.save`).

    ``seed`` replaces the spec's ``tests.seed`` (the weights' initialisation and the sampled group
    elements); ``influence``: also measure each output's influence from Jacobians; ``progress`` is called
    with each step's name. Raises :class:`SpecError` for a spec that cannot be read, and
    :class:`BuildFailed` (``.report`` attached) for one that check fails, escnn cannot build or the tests
    fail.

    >>> built = build("specs/so2-gated.yaml", influence=False)
    >>> built.report.ok, built.layout["input_dim"], built.layout["output_dim"]
    (True, 3, 3)
    >>> y = built.module(torch.randn(8, 3))  # a trainable torch.nn.Module
    >>> tuple(y.shape)
    (8, 3)
    """
    require("build")
    loaded = load_spec(spec)
    checked = loaded._checked if seed is None else _reseeded(loaded, seed)
    result, made = run_build(checked, progress or (lambda _: None), influence)
    if made is None:
        raise BuildFailed(BuildReport(result))
    return Built(result, made)


def _reseeded(spec: Spec, seed: int) -> SpecResult:
    from dataclasses import replace

    model = spec.model
    tests = model.tests.model_copy(update={"seed": seed})
    return check_loaded(replace(spec._loaded, spec=model.model_copy(update={"tests": tests})), spec._config)
