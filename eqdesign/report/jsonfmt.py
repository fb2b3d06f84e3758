"""Machine-readable reports. Each layout is versioned; fields are only ever added within a version.

Every number is finite or null: a NaN or infinite measurement becomes null beside a failing verdict, so the
output is always strict JSON.
"""

from __future__ import annotations

import json
import math
import os
from typing import TYPE_CHECKING, Any, TextIO, overload

from .. import __version__
from ..analysis.cost import cost_json, cost_of
from ..analysis.design import Design, FieldType, Grid, Linear, Nonlinear
from ..findings import Finding
from ..results import BuildBatch, BuildResult, CheckResult, SpecResult, VerifyBatch
from .locations import portable_name

if TYPE_CHECKING:  # numerics imports torch, which `check` never does
    from ..numerics.equivariance import ProbeResult

SCHEMA_VERSION = 1  # the check report, and each build's report (NAME.report.json)
BUILD_BATCH_VERSION = 2  # `build --format json`: one document for the batch (version 1 printed one per spec)
VERIFY_VERSION = 2  # `verify --format json`: a document with models[] (version 1 printed a bare list)


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "rule_id": f.rule_id,
        "rule": f.rule,
        "severity": f.severity.value,
        "message": f.message,
        "file": f.location.file,
        "line": f.location.line,
        "column": f.location.column,
        "spec_path": f.location.spec_path,
        "hint": f.hint,
    }


def type_json(t: FieldType) -> dict[str, Any]:
    out: dict[str, Any] = {"fields": t.describe(), "irreps": t.irreps_string(), "dim": t.dim}
    if t.cartesian:  # Cartesian tensor fields: the model's columns hold all their components
        out["columns"] = t.width
    return out


def layer_json(layer: Linear | Nonlinear) -> dict[str, Any]:
    if isinstance(layer, Linear):
        return {
            "kind": "linear",
            "index": layer.index,
            "in": type_json(layer.in_type),
            "out": type_json(layer.out_type),
            "blocks": [
                {
                    "irrep": b.irrep.name,
                    "type": b.irrep.type_name,
                    "dim": b.irrep.dim,
                    "m_in": b.m_in,
                    "m_out": b.m_out,
                    "params_per_block": b.irrep.endo,
                    "params": b.params,
                }
                for b in layer.blocks
            ],
            "bias": layer.bias,
            "params": layer.params,
        }
    out = {
        "kind": layer.kind,
        "nonlinearity": layer.activation,
        "hidden_index": layer.index,
        "in": type_json(layer.in_type),
        "out": type_json(layer.out_type),
        "params": layer.params,
    }
    if layer.band_limit is not None:
        out["band_limit"] = layer.band_limit
    if layer.grid is not None:
        out["grid"] = grid_json(layer.grid)
    if layer.quotient:
        out["quotient"] = layer.quotient
    if layer.norm is not None:
        out["norm"] = {"kind": layer.norm, "params": layer.norm_params, "running_stats": layer.norm_stats}
    return out


def grid_json(grid: Grid) -> dict[str, Any]:
    out: dict[str, Any] = {"type": grid.type, "n": grid.n, "points": grid.points, "coefficients": grid.coefficients}
    if grid.rule is not None:
        out["rule"] = {"family": grid.rule.family, "degree": grid.rule.degree, "weighted": True}
    if grid.max_points is not None:
        out["max_points"] = grid.max_points
    return out


def design_json(design: Design) -> dict[str, Any]:
    g = design.group
    return {
        "name": design.spec.name,
        "group": {"name": g.key, "label": g.label},
        "params": design.params,
        **({"basis": design.spec.basis} if design.spec.basis != "escnn" else {}),
        "input": type_json(design.input),
        "output": type_json(design.output),
        "layers": [layer_json(x) for x in design.layers],
    }


def spec_json(s: SpecResult, strict: bool) -> dict[str, Any]:
    findings = s.all_findings()
    out: dict[str, Any] = {"file": s.file, "ok": s.exit_code(strict) == 0, "exit_code": int(s.exit_code(strict))}
    if s.design is not None:
        out.update(design_json(s.design))
        out["mixing"] = (
            [
                {"layer": f"hidden[{layer.index}]", "nonlinearity": layer.activation, "couples": couples}
                for layer, couples in zip(s.design.hidden, s.flow.mixing, strict=True)
            ]
            if s.flow is not None
            else []  # the analysis itself failed: an internal error, among the findings
        )
        out["cost"] = cost_json(cost_of(s.design))
        out["influence"] = s.influence
        out["ideal_influence"] = s.ideal_influence
        if s.hidden_symmetry is not None:
            out["hidden_symmetry"] = s.hidden_symmetry
    else:
        out.update({"group": None, "params": None, "layers": []})
    out["findings"] = [finding_json(f) for f in findings]
    return out


def check_json(result: CheckResult) -> dict[str, Any]:
    specs = [spec_json(s, result.strict) for s in result.specs]
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "eqdesign", "version": __version__},
        "summary": {
            "specs": len(specs),
            "errors": sum(s.errors + bool(s.internal_error) for s in result.specs),
            "warnings": sum(s.warnings for s in result.specs),
            "exit_code": int(result.exit_code),
            "skipped": len(result.skipped),
        },
        "specs": specs,
        "usage_errors": result.usage_errors,
        "skipped": result.skipped,
    }


@overload
def finite(x: dict[str, Any]) -> dict[str, Any]: ...


@overload
def finite(x: Any) -> Any: ...


def finite(x: Any) -> Any:
    """Floats that JSON can carry: NaN and infinities become None."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite(v) for v in x]
    return x


def probe_json(r: ProbeResult) -> dict[str, Any]:
    return finite(
        {
            "name": r.name,
            "exact": r.exact,
            "finite": r.finite,
            "max_rel": r.max_rel,
            "mean_rel": r.mean_rel,
            "per_field": {k: {"max_rel": v[0], "mean_rel": v[1]} for k, v in r.per_field.items()},
        }
    )


def build_report(result: BuildResult, portable: bool = False) -> dict[str, Any]:
    """The report of one build. ``portable``: as stored in the artifacts, without what differs between two
    runs of the same build (timings, the output folder)."""
    tests = result.check.design.spec.tests if result.check.design else None
    spec = spec_json(result.check, strict=False)
    if portable:  # the spec file as the repository names it, not where this machine keeps it
        _rename_file(spec, result.check.file, portable_name(result.check.file))
    return finite(
        {
            "schema_version": SCHEMA_VERSION,
            "spec": spec,
            "tests": tests.model_dump() if tests else None,
            "build": {
                "ok": result.ok,
                "exit_code": int(result.exit_code),
                "failures": result.failures,
                "agreement_compiled_vs_escnn": result.agreement,
                "equivariance": result.equivariance,
                "grids": result.grids,
                "cost_as_built": result.cost,
                "influence": result.influence,
                "artifacts": [os.path.basename(a) for a in result.artifacts] if portable else result.artifacts,
                "timings_s": {} if portable else result.timings,
                "notes": result.notes,
            },
        }
    )


def _rename_file(spec: dict[str, Any], file: str, name: str) -> None:
    spec["file"] = name
    for finding in spec["findings"]:
        if finding["file"] == file:
            finding["file"] = name


def build_batch_json(batch: BuildBatch) -> dict[str, Any]:
    return {
        "schema_version": BUILD_BATCH_VERSION,
        "tool": {"name": "eqdesign", "version": __version__},
        "summary": {"specs": len(batch.builds), "built": sum(b.ok for b in batch.builds), "exit_code": int(batch.exit_code)},
        "builds": [build_report(b) for b in batch.builds],
        "usage_errors": batch.usage_errors,
    }


def verify_json(batch: VerifyBatch) -> dict[str, Any]:
    return finite(
        {
            "schema_version": VERIFY_VERSION,
            "summary": {"models": len(batch.results), "ok": sum(v.ok for v in batch.results), "exit_code": int(batch.exit_code)},
            "models": [v.as_json() for v in batch.results],
        }
    )


class JsonReporter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def check(self, result: CheckResult) -> None:
        self.data(check_json(result))

    def build(self, batch: BuildBatch) -> None:
        self.data(build_batch_json(batch))

    def verify(self, batch: VerifyBatch) -> None:
        self.data(verify_json(batch))

    def cache(self, result: Any) -> None:
        self.data(result.as_json())

    def error(self, message: str, code: int) -> None:
        self.data({"schema_version": 1, "error": message, "exit_code": code})

    def data(self, payload: Any) -> None:
        json.dump(finite(payload), self.out, indent=2, allow_nan=False)
        self.out.write("\n")
