"""`eqdesign build`: check, build with escnn, compile, test, measure influence, and only then write.

``build_spec`` is the one core function the CLI calls; it returns a BuildResult that reporters format.
"""

from __future__ import annotations

import hashlib
import json
import platform
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..analysis.pipeline import EXIT_FINDINGS, EXIT_OK, SpecResult, check_file

Progress = Callable[[str], None]


@dataclass
class BuildResult:
    check: SpecResult
    exit_code: int = EXIT_OK
    failures: list[str] = field(default_factory=list)
    equivariance: list[dict[str, Any]] = field(default_factory=list)
    influence: dict[str, Any] = field(default_factory=dict)
    agreement: Optional[float] = None
    artifacts: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK


AGREEMENT_TOLERANCE = 1e-5  # compiled float32 module against escnn with the same weights


def build_spec(path: str, out_dir: Optional[str], progress: Progress = lambda s: None, influence: bool = True) -> BuildResult:
    check = check_file(path)
    result = BuildResult(check)
    if check.exit_code() != EXIT_OK:
        result.exit_code = check.exit_code()
        result.failures.append("eqdesign check reports errors: fix them first (nothing was built)")
        return result
    _build(result, Path(out_dir) if out_dir else Path(path).parent, progress, influence)
    return result


def _timed(result: BuildResult, label: str, progress: Progress, fn: Callable[[], Any]) -> Any:
    progress(label)
    start = time.perf_counter()
    value = fn()
    result.timings[label] = round(time.perf_counter() - start, 3)
    return value


def _build(result: BuildResult, out_dir: Path, progress: Progress, with_influence: bool) -> None:
    import torch

    from ..build.escnn_model import build_escnn
    from .compile import compile_model
    from .testing import pick_elements, run_equivariance

    design = result.check.design
    tests = design.spec.tests
    model = _timed(result, "building the escnn model (grids, bases)", progress, lambda: build_escnn(design, torch.float64, seed=tests.seed))
    model.reinitialize(tests.seed)
    model.eval()
    result.notes.extend(model.notes)
    c64, c32 = _timed(result, "compiling to plain torch", progress, lambda: (compile_model(model, torch.float64), compile_model(model, torch.float32)))
    result.agreement = _agreement(model, c32, tests.seed)
    if result.agreement > AGREEMENT_TOLERANCE:
        result.failures.append(f"the compiled module differs from escnn by {result.agreement:.1e} relative (> {AGREEMENT_TOLERANCE:.0e})")
    elements = pick_elements(model.G, tests.samples, tests.seed)
    report = _timed(result, f"testing equivariance on {len(elements)} group elements", progress, lambda: run_equivariance(design, model, c64, c32, elements))
    result.equivariance = [_probe_json(r, report) for r in report.results]
    result.failures.extend(report.failures)
    if with_influence:
        _timed(result, "measuring influence from Jacobians", progress, lambda: _influence(result, design, model))
    if result.failures:
        result.exit_code = EXIT_FINDINGS
        return
    with warnings.catch_warnings():  # torch.export's notes on CPU-only weights are not the user's concern
        warnings.simplefilter("ignore")
        _timed(result, "exporting TorchScript and torch.export", progress, lambda: _export(result, out_dir, model, c32, elements, report))


def _agreement(model, compiled32, seed: int) -> float:
    import torch

    x = torch.randn(64, model.in_type.size, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        ref = model(x.double()).float()
        out = compiled32(x)
    return float((out - ref).norm() / ref.norm().clamp_min(1e-30))


def _probe_json(r, report) -> dict[str, Any]:
    return {"name": r.name, "exact": r.exact, "max_rel": r.max_rel, "mean_rel": r.mean_rel,
            "per_field": {k: {"max_rel": v[0], "mean_rel": v[1]} for k, v in r.per_field.items()}}


def _influence(result: BuildResult, design, model) -> None:
    from ..build.influence import measure_influence

    m = measure_influence(design)
    static = result.check.influence
    leaks = [{"output": b.output, "input": b.input, "rel": b.rel, "rel_refined": b.rel_refined} for b in m.leaks()]
    result.influence = {"measured": m.influence, "static": static, "leakage": leaks}
    for out, measured in m.influence.items():
        if sorted(measured) != sorted(static.get(out, [])):
            result.failures.append(f"measured influence of output {out} is {measured or 'nothing'}, but check says {static.get(out) or 'nothing'}: please report this")


def build_report(result: BuildResult) -> dict[str, Any]:
    from ..report.jsonfmt import spec_json

    spec = spec_json(result.check, strict=False)
    tests = result.check.design.spec.tests if result.check.design else None
    return {
        "schema_version": 1,
        "spec": spec,
        "tests": tests.model_dump() if tests else None,
        "build": {
            "ok": result.ok, "exit_code": result.exit_code, "failures": result.failures,
            "agreement_compiled_vs_escnn": result.agreement, "equivariance": result.equivariance,
            "influence": result.influence, "artifacts": result.artifacts, "timings_s": result.timings, "notes": result.notes,
        },
    }


def provenance(result: BuildResult) -> dict[str, Any]:
    from importlib.metadata import version

    import numpy
    import torch

    from .. import __version__

    text = result.check.loaded.text
    return {
        "eqdesign": __version__, "torch": torch.__version__, "escnn": version("escnn"),
        "numpy": numpy.__version__, "python": platform.python_version(),
        "spec_file": result.check.file, "spec_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "seed": result.check.design.spec.tests.seed, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _export(result: BuildResult, out_dir: Path, model, compiled32, elements, report) -> None:
    import torch

    from .artifacts import representations_payload, write_atomically
    from .layout import layout
    from .markdown import markdown_report
    from .testing import rep_stack

    design = result.check.design
    name = design.spec.name
    scripted = torch.jit.script(compiled32)
    example = torch.randn(2, model.in_type.size)
    exported = torch.export.export(compiled32, (example,), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}})
    exact = all(r.exact for r in report.results)
    reps = representations_payload(elements, rep_stack(model.in_type, elements, torch.float64), rep_stack(model.out_type, elements, torch.float64),
                                   _verify_tolerance(exact, design.spec.tests.tolerance), exact)
    result.artifacts = [str(out_dir / f"{name}{ext}") for ext in (".pt", ".pt2", ".report.json", ".md")]
    report_json = json.dumps(build_report(result), indent=2)
    extras = {"spec.yaml": result.check.loaded.text, "report.json": report_json, "provenance.json": json.dumps(provenance(result), indent=2),
              "layout.json": json.dumps(layout(design), indent=2), "representations.json": reps}
    write_atomically(out_dir, {
        f"{name}.pt": lambda p: torch.jit.save(scripted, str(p), _extra_files=extras),
        f"{name}.pt2": lambda p: torch.export.save(exported, str(p)),
        f"{name}.report.json": lambda p: p.write_text(report_json),
        f"{name}.md": lambda p: p.write_text(markdown_report(result)),
    })


def _verify_tolerance(exact: bool, tolerance: float) -> float:
    # the saved module runs in float32
    return 1e-5 if exact else tolerance
