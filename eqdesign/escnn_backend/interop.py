"""escnn interop: the irreps string of an escnn FieldType (so that a spec's input and output can be given as
the field types an escnn network already has), and a compiled model run on GeometricTensors, so that it
drops into an escnn SequentialModule.

Only representations eqdesign can write are mapped: direct sums of irreps in escnn's own basis (a change of
basis that is the identity), and the group's standard vector representation (``vector``, in the natural
coordinates eqdesign gives it). Any other is refused with the reason: eqdesign would lay out its columns in
another basis than the field type's, and the composition would silently stop being equivariant.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from escnn import nn as enn

from ..theory.group import Group
from ..theory.notation import Field
from ..theory.registry import KINDS, make_group
from .types import escnn_group, field_representation

#: group elements on which a representation is compared with eqdesign's
_SAMPLES = 6
#: the largest frequency searched for an irrep's name
_MAX_FREQ = 12


class InteropError(ValueError):
    """A field type eqdesign cannot map; the message names the representation and why."""


def group_entry(G: Any) -> tuple[Group, str | dict[str, Any]]:
    """eqdesign's group for escnn's group ``G``, and the spec's ``group`` entry that names it."""
    order = getattr(G, "N", None)
    for name, kind in KINDS.items():
        if kind.needs_n and not isinstance(order, int):
            continue
        ours = make_group(name, order if kind.needs_n else None)
        if escnn_group(ours).name == G.name:
            return ours, ({"name": name, "n": order} if kind.needs_n else name)
    raise InteropError(f"escnn's group {G.name} is none of eqdesign's groups ({', '.join(KINDS)})")


def irreps_string(field_type: Any) -> str:
    """The spec's irreps string of an escnn FieldType: its representations in order, runs of one name
    counted (``"2x vector + 1x 0"``)."""
    group, _ = group_entry(field_type.fibergroup)
    names = [name for rep in field_type.representations for name in _names(group, field_type.fibergroup, rep)]
    runs: list[list[Any]] = []
    for name in names:
        if runs and runs[-1][1] == name:
            runs[-1][0] += 1
        else:
            runs.append([1, name])
    return " + ".join(f"{count}x {name}" for count, name in runs)


def _names(group: Group, G: Any, rep: Any) -> list[str]:
    """eqdesign's field names for one escnn representation (several for a direct sum)."""
    vector = group.vector
    if vector is not None and _same(G, rep, field_representation(G, Field("vector", vector.irreps, vector.basis))):
        return ["vector"]
    if not np.allclose(rep.change_of_basis, np.eye(rep.size), atol=1e-9):
        raise InteropError(
            f"the representation {rep.name!r} is not a direct sum of irreps in escnn's basis (its change of basis is not the "
            "identity) nor the standard vector representation: eqdesign maps only those (decompose it with escnn first)"
        )
    by_id = {repr(tuple(i.eid)): i for i in group.irreps(None if group.finite else _MAX_FREQ)}
    names = []
    for eid in rep.irreps:
        irrep = by_id.get(repr(tuple(eid)))
        if irrep is None:
            raise InteropError(f"the irrep {eid} of {rep.name!r} is not among eqdesign's irreps of {group.label}")
        names.append(irrep.name)
    return names


def _same(G: Any, rep: Any, ours: Any) -> bool:
    """Whether two representations of G give the same matrices on sampled elements."""
    if rep.size != ours.size:
        return False
    return all(np.allclose(rep(g), ours(g), atol=1e-8) for g in (G.sample() for _ in range(_SAMPLES)))


class EscnnWrapped(enn.EquivariantModule):  # type: ignore[misc]  # escnn is untyped: its base classes are Any to mypy
    """A compiled model on GeometricTensors: ``in_type`` in, ``out_type`` out, the model's columns in the field
    types' order (as ``irreps_string`` writes them)."""

    def __init__(self, module: torch.nn.Module, in_type: Any, out_type: Any) -> None:
        super().__init__()
        self.in_type, self.out_type, self.module = in_type, out_type, module

    def forward(self, x: Any) -> Any:
        assert x.type == self.in_type, f"the input's field type is not {self.in_type}"
        return enn.GeometricTensor(self.module(x.tensor.to(torch.float32)).to(x.tensor.dtype), self.out_type)

    def evaluate_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (input_shape[0], self.out_type.size)
