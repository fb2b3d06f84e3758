"""Machine-readable reports. The layout is versioned by SCHEMA_VERSION; fields are only ever added."""

from __future__ import annotations

import json
from typing import Any, TextIO

from .. import __version__
from ..analysis.design import Design, FieldType, Linear, Nonlinear
from ..analysis.pipeline import CheckResult, SpecResult, internal_finding
from ..findings import Finding

SCHEMA_VERSION = 1


def finding_json(f: Finding) -> dict[str, Any]:
    return {
        "rule_id": f.rule_id, "rule": f.rule, "severity": f.severity.value, "message": f.message,
        "file": f.location.file, "line": f.location.line, "column": f.location.column,
        "spec_path": f.location.spec_path, "hint": f.hint,
    }


def type_json(t: FieldType) -> dict[str, Any]:
    return {"fields": t.describe(), "irreps": t.irreps_string(), "dim": t.dim}


def layer_json(layer: Linear | Nonlinear) -> dict[str, Any]:
    if isinstance(layer, Linear):
        return {
            "kind": "linear", "index": layer.index, "in": type_json(layer.in_type), "out": type_json(layer.out_type),
            "blocks": [
                {"irrep": b.irrep.name, "type": b.irrep.type_name, "dim": b.irrep.dim, "m_in": b.m_in, "m_out": b.m_out,
                 "params_per_block": b.irrep.endo, "params": b.params}
                for b in layer.blocks
            ],
            "bias": layer.bias, "params": layer.params,
        }
    out = {"kind": layer.kind, "nonlinearity": layer.activation, "hidden_index": layer.index,
           "in": type_json(layer.in_type), "out": type_json(layer.out_type), "params": layer.params}
    if layer.band_limit is not None:
        out["band_limit"] = layer.band_limit
    if layer.grid is not None:
        out["grid"] = {"type": layer.grid.type, "n": layer.grid.n, "points": layer.grid.points, "coefficients": layer.grid.coefficients}
    if layer.quotient:
        out["quotient"] = layer.quotient
    return out


def design_json(design: Design) -> dict[str, Any]:
    g = design.group
    return {
        "name": design.spec.name,
        "group": {"name": g.key, "label": g.label},
        "params": design.params,
        "input": type_json(design.input),
        "output": type_json(design.output),
        "layers": [layer_json(x) for x in design.layers],
    }


def spec_json(s: SpecResult, strict: bool) -> dict[str, Any]:
    findings = s.findings + ([internal_finding(s)] if s.internal_error else [])
    out: dict[str, Any] = {"file": s.file, "ok": s.exit_code(strict) == 0, "exit_code": s.exit_code(strict)}
    if s.design is not None:
        out.update(design_json(s.design))
        out["mixing"] = [
            {"layer": f"hidden[{layer.index}]", "nonlinearity": layer.activation, "couples": couples}
            for layer, couples in zip(s.design.hidden, s.flow.mixing)
        ]
        out["influence"] = s.influence
        out["ideal_influence"] = s.ideal_influence
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
            "exit_code": result.exit_code,
        },
        "specs": specs,
        "usage_errors": result.usage_errors,
    }


class JsonReporter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def check(self, result: CheckResult) -> None:
        json.dump(check_json(result), self.out, indent=2)
        self.out.write("\n")

    def data(self, payload: Any) -> None:
        json.dump(payload, self.out, indent=2)
        self.out.write("\n")
