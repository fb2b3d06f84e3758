"""Where every input and output field lives in the compiled model's flat tensors, and in which basis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..analysis.design import Design, FieldType
from ..theory.notation import Field


def _fields(t: FieldType) -> Iterator[tuple[str, Field, int]]:
    """(label, field, start) of every field copy; repeated fields are labelled name#k."""
    start, counts = 0, dict[str, int]()
    for f, m in t.entries:
        for _ in range(m):
            k = counts[f.name] = counts.get(f.name, 0) + 1
            yield (f"{f.name}#{k}" if m > 1 or k > 1 else f.name), f, start
            start += f.width


def field_slices(t: FieldType) -> list[tuple[str, int, int]]:
    """(label, start, stop) of every field copy, in the model's columns (a Cartesian tensor takes 3^rank)."""
    return [(label, start, start + f.width) for label, f, start in _fields(t)]


def _layout(t: FieldType) -> list[dict[str, Any]]:
    return [
        {
            "field": f.name,
            "slice": [start, start + f.width],
            "irreps": " + ".join(i.name for i in f.irreps),
            "basis": f.basis or ("e3nn's real basis (o3.Irrep.D_from_matrix)" if f.e3nn else "escnn irrep basis"),
            # a declared parity under x -> -x (SO(3)'s pseudovector, say): the model treats the field as its irreps
            **({"parity": ["even" if p > 0 else "odd" for p in f.parity]} if f.parity else {}),
        }
        for _, f, start in _fields(t)
    ]


def layout(design: Design) -> dict[str, Any]:
    return {
        "group": design.group.key,
        "input_dim": design.input.width,
        "output_dim": design.output.width,
        "input": _layout(design.input),
        "output": _layout(design.output),
        "dtype": "float32",
        "shape": "(batch, input_dim) -> (batch, output_dim)",
    }
