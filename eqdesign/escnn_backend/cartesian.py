"""Cartesian tensor fields at the model's edges: the fixed maps between the 3^k components a user holds and
the irreps the network computes with, and the Cartesian representation the model is tested against.

For a field with index symmetry Pi, the embedding E (3^k x dim) has orthonormal columns spanning the image
of Pi, and intertwines: R^(x k) E = E rho_irreps(R) for every group element R. The model reads E^T x (the
part of x with the field's symmetry: an antisymmetric part of a symmetric field's input is ignored) and
writes E y (a symmetric field's output is exactly symmetric). E is solved numerically from escnn's own
irrep matrices, so it holds in escnn's irrep basis whatever convention escnn uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..analysis.design import FieldType
from ..numerics.elements import pick_elements
from ..theory.cartesian import Cartesian
from ..theory.group import FloatArray
from ..theory.notation import Field
from .compat import BuildError
from .types import field_representation, standard_representation

#: a solved embedding must intertwine to this (float64, entries of order 1)
INTERTWINES = 1e-9


def tensor_power(vector: FloatArray, rank: int) -> FloatArray:
    """R^(x rank): how the 3^rank row-major components of a rank-k tensor of vectors transform."""
    out = np.ones((1, 1))
    for _ in range(rank):
        out = np.kron(out, vector)
    return out


def projector(c: Cartesian) -> FloatArray:
    """Pi = mean over the signed index permutations of sign * P_sigma, less the trace for a traceless field."""
    width = c.width
    index = np.arange(width).reshape((3,) * c.rank)
    pi = np.zeros((width, width))
    for sign, sigma in c.symmetries:
        moved = np.transpose(index, sigma).reshape(-1)  # (P_sigma T)[i] = T[moved[i]]
        pi[np.arange(width), moved] += sign
    pi /= len(c.symmetries)
    if c.traceless:
        trace = np.eye(3).reshape(-1) / np.sqrt(3)
        pi -= np.outer(trace, trace)
    return pi


def _elements(G: Any) -> list[Any]:
    """Elements that pin every intertwiner down: seeded random rotations (escnn's testing elements alone lie
    in a finite subgroup, under which degree 2 splits), and the testing elements, which hold the inversion."""
    return pick_elements(G, 4, seed=0)


def _intertwiners(G: Any, c: Cartesian, irrep: Any, pi: FloatArray) -> FloatArray:
    """(copies, width, d): an orthonormal set of maps from the irrep into the field's Cartesian space."""
    std = standard_representation(G)
    width, d = c.width, irrep.size
    rows = [np.kron(np.eye(d), np.eye(width) - pi)]
    for g in _elements(G):
        rows.append(np.kron(np.eye(d), tensor_power(np.asarray(std(g)), c.rank)) - np.kron(np.asarray(irrep(g)).T, np.eye(width)))
    _, s, vt = np.linalg.svd(np.concatenate(rows))
    null = vt[np.sum(s > 1e-8) :]
    maps = null.reshape(len(null), d, width).transpose(0, 2, 1)  # vec(X) stacks X's columns
    gram = np.einsum("awi,bwi->ab", maps, maps) / d
    w, v = np.linalg.eigh(gram)
    orthonormal: FloatArray = np.einsum("ab,bwi->awi", (v / np.sqrt(w)).T, maps)
    return orthonormal


#: embeddings solved so far, by group name and field (escnn's groups are not hashable)
_SOLVED: dict[tuple[str, Field], FloatArray] = {}


def _embedding_of(G: Any, field: Field) -> FloatArray:
    key = (str(G.name), field)
    if key not in _SOLVED:
        _SOLVED[key] = _solve(G, field)
    return _SOLVED[key]


def _solve(G: Any, field: Field) -> FloatArray:
    c = field.cartesian
    assert c is not None
    pi = projector(c)
    columns, taken = [], dict[tuple[Any, ...], int]()
    for irrep in field.irreps:  # in the field's order, as escnn's direct sum of them lays them out
        maps = _intertwiners(G, c, G.irrep(*irrep.eid), pi)
        k = taken[irrep.eid] = taken.get(irrep.eid, -1) + 1
        columns.append(maps[k])
    # projected once more: the rows of i j and j i become the same sums of the same numbers, so a symmetric
    # field's output is symmetric to the last bit (an antisymmetric one exactly antisymmetric)
    embedded: FloatArray = pi @ np.concatenate(columns, axis=1)
    if np.abs(embedded.T @ embedded - np.eye(field.dim)).max() > INTERTWINES:
        raise BuildError(f"the components of {field.name} could not be matched to its irreps")
    return embedded


def embedding(G: Any, t: FieldType) -> FloatArray | None:
    """(width, dim): a Cartesian field's E on its columns, the identity on every other field's; None when
    the field type holds no Cartesian field."""
    if not t.cartesian:
        return None
    blocks = [_embedding_of(G, f) if f.cartesian is not None else np.eye(f.dim) for f, m in t.entries for _ in range(m)]
    out = np.zeros((t.width, t.dim))
    r = c = 0
    for block in blocks:
        out[r : r + block.shape[0], c : c + block.shape[1]] = block
        r, c = r + block.shape[0], c + block.shape[1]
    return out


def boundary_matrix(G: Any, t: FieldType, g: Any) -> FloatArray:
    """The representation of the model's columns at ``g``: R^(x k) on a Cartesian field's components, the
    field's own representation on every other field."""
    std = standard_representation(G)
    blocks = [
        tensor_power(np.asarray(std(g)), f.cartesian.rank) if f.cartesian is not None else np.asarray(field_representation(G, f)(g))
        for f, m in t.entries
        for _ in range(m)
    ]
    out = np.zeros((t.width, t.width))
    at = 0
    for block in blocks:
        out[at : at + len(block), at : at + len(block)] = block
        at += len(block)
    return out
