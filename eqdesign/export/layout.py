"""Where every input and output field lives in the compiled model's flat tensors, and in which basis."""

from __future__ import annotations

from typing import Any

from ..analysis.design import Design, FieldType


def _fields(t: FieldType) -> list[dict[str, Any]]:
    out, start = [], 0
    for f, m in t.entries:
        for _ in range(m):
            out.append({
                "field": f.name,
                "slice": [start, start + f.dim],
                "irreps": " + ".join(i.name for i in f.irreps),
                "basis": f.basis or "escnn irrep basis",
            })
            start += f.dim
    return out


def layout(design: Design) -> dict[str, Any]:
    return {
        "group": design.group.key,
        "input_dim": design.input.dim,
        "output_dim": design.output.dim,
        "input": _fields(design.input),
        "output": _fields(design.output),
        "dtype": "float32",
        "shape": "(batch, input_dim) -> (batch, output_dim)",
    }
