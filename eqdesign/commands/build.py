"""`eqdesign build`: check, build with escnn, compile, test, measure influence, and only then write.

``build_specs`` is the one core function the CLI calls; it returns a BuildBatch that reporters format.
A spec that escnn cannot build fails alone (exit 1, located); the rest of the batch goes on.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..analysis.config import DEFAULT, Config
from ..exitcodes import ExitCode
from ..findings import Finding, Location
from ..interrupts import stop_if_pending
from ..results import BuildBatch, BuildResult, SpecResult
from .check import check_file, configured, spec_files

if TYPE_CHECKING:  # torch and escnn are imported only once a build starts
    import torch

    from ..escnn_backend.model import EscnnModel
    from ..export.modules import CompiledModel
    from ..numerics.influence import Measurement
    from ..numerics.suite import EquivarianceReport

T = TypeVar("T")

Progress = Callable[[str], None]
ProgressFactory = Callable[[str], AbstractContextManager[Progress]]


@dataclass(frozen=True)
class BuildOptions:
    influence: bool = True  # measure influence from Jacobians
    write: bool = True  # False: build and test, write nothing (a gate, such as the pre-commit hook)
    config: str | None = None  # an explicit configuration file (else the nearest to each spec)
    isolated: bool = False  # read no configuration
    specs_only: bool = False  # skip YAML files that declare no group


def build_specs(patterns: Sequence[str], out: str | None, progress: ProgressFactory, options: BuildOptions = BuildOptions()) -> BuildBatch:
    found = spec_files(patterns, options.specs_only)
    batch = BuildBatch([], list(found.problems))
    blocked = _blocked_folder(out) if out is not None else None
    if blocked is not None:
        batch.usage_errors.append(f"{out}: the output folder (-o) cannot be made: {blocked} is a file; name a folder")
        return batch
    seen: dict[tuple[str, str], str] = {}
    for path in found.files:
        governing = configured(path, options.config, options.isolated)
        with progress(path) as step:
            result = build_spec(path, out, step, options, governing)
        _claim_name(result, out, seen)
        batch.builds.append(result)
    return batch


def _blocked_folder(out: str) -> str | None:
    """The file that stands where the output folder, or one of the folders above it, would be."""
    for folder in (Path(out), *Path(out).parents):
        if folder.exists():
            return None if folder.is_dir() else str(folder)
    return None


def _claim_name(result: BuildResult, out: str | None, seen: dict[tuple[str, str], str]) -> None:
    """Two specs of one name would write the same artifacts: the second one is refused (before writing)."""
    design = result.check.design
    if design is None:
        return
    key = (os.path.abspath(out or os.path.dirname(result.check.file) or "."), design.spec.name)
    if key in seen and result.ok:
        result.fail(f"another spec of this command, {seen[key]}, has the same name {design.spec.name!r}; rename one", ExitCode.SPEC)
    seen.setdefault(key, result.check.file)


def build_spec(
    path: str,
    out_dir: str | None,
    progress: Progress = lambda s: None,
    options: BuildOptions = BuildOptions(),
    config: Config | Finding = DEFAULT,
) -> BuildResult:
    """Check (under the same configuration `check` would use), build, test, and write if all passed."""
    check = check_file(path, config) if isinstance(config, Config) else SpecResult(path, [config])
    result = BuildResult(check)
    if check.exit_code() != ExitCode.OK:
        result.fail("eqdesign check reports errors: fix them first (nothing was built)", check.exit_code(), rule=None)
        return result
    try:
        _build(result, Path(out_dir) if out_dir else Path(path).parent, progress, options)
    except Exception as err:  # noqa: BLE001 - one spec's failure never stops the batch
        stop_if_pending()  # escnn swallowed the exception raised for a signal, then failed: interrupted, not a defect
        _build_failed(result, err)
    return result


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


def _build(result: BuildResult, out_dir: Path, progress: Progress, options: BuildOptions) -> None:
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
        return
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
    if options.influence:
        _timed(result, "measuring influence from Jacobians", progress, lambda: _influence(result, probes.measure(design, model)))
    stop_if_pending()  # a signal whose exception escnn swallowed: nothing is written after it
    if result.failures or not options.write:
        return
    with warnings.catch_warnings():  # torch.export's notes on CPU-only weights are not the user's concern
        warnings.simplefilter("ignore")
        reps = probes.end_representations(model, elements, torch.float64)
        points = json.dumps(grid_points(model))
        _timed(
            result,
            "exporting TorchScript and torch.export",
            progress,
            lambda: _export(result, out_dir, c32, names, reps, report.exact, points),
        )


def _agreement(model: EscnnModel, compiled32: CompiledModel, seed: int) -> float:
    import torch

    x = torch.randn(64, model.in_type.size, generator=torch.Generator().manual_seed(seed + 1))
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


def _export(
    result: BuildResult,
    out_dir: Path,
    compiled32: CompiledModel,
    element_names: list[str],
    reps: tuple[torch.Tensor, torch.Tensor],
    exact: bool,
    grid_points: str,
) -> None:
    from ..export.artifacts import representations_payload, save_artifacts, with_hashes
    from ..export.layout import layout
    from ..numerics.tolerances import artifact_tolerance
    from ..report.jsonfmt import build_report
    from ..report.markdown import markdown_report

    design = result.check.design
    assert design is not None and result.check.loaded is not None
    name = design.spec.name
    tolerance = artifact_tolerance(exact, design.spec.tests.tolerance)
    result.artifacts = [str(out_dir / f"{name}{ext}") for ext in (".pt", ".pt2", ".report.json", ".md")]
    report_json = json.dumps(build_report(result, portable=True), indent=2)
    extras = {
        "spec.yaml": result.check.loaded.text,
        "report.json": report_json,
        "layout.json": json.dumps(layout(design), indent=2),
        "representations.json": representations_payload(element_names, reps[0], reps[1], tolerance, exact),
        "grids.json": grid_points,
    }
    extras = with_hashes(extras, provenance(result))
    save_artifacts(out_dir, name, compiled32, extras, {f"{name}.report.json": report_json, f"{name}.md": markdown_report(result)})
