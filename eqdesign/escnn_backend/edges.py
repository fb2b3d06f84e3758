"""The model's edges: fixed maps between the columns a user holds and the irreps, in escnn's basis, that the
network computes with; and the representation of those columns, which the model is tested against.

Two kinds of field need one: a Cartesian tensor field, and an irrep field held in e3nn's real basis
(``basis: e3nn``), whose matrices differ from escnn's by an orthogonal change of basis per degree (for
l = 2 not even a signed permutation).

For a field with index symmetry Pi, the embedding E (3^k x dim) has orthonormal columns spanning the image
of Pi, and intertwines: R^(x k) E = E rho_irreps(R) for every group element R. The model reads E^T x (the
part of x with the field's symmetry: an antisymmetric part of a symmetric field's input is ignored) and
writes E y (a symmetric field's output is exactly symmetric). E is solved numerically from escnn's own
irrep matrices, so it holds in escnn's irrep basis whatever convention escnn uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..analysis.design import FieldType
from ..numerics.elements import pick_elements
from ..theory.cartesian import Cartesian
from ..theory.group import FloatArray
from ..theory.notation import Field
from .compat import BuildError, default_dtype
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


def _intertwiners(G: Any, target: Callable[[Any], FloatArray], irrep: Any, pi: FloatArray) -> FloatArray:
    """(copies, width, d): an orthonormal set of maps X from the irrep into the image of ``pi`` with
    target(g) X = X irrep(g): the null space of those equations at a few elements, orthonormalised (by
    Schur's lemma X_a^T X_b is a multiple of the identity)."""
    width, d = len(pi), irrep.size
    rows = [np.kron(np.eye(d), np.eye(width) - pi)]
    for g in _elements(G):
        rows.append(np.kron(np.eye(d), target(g)) - np.kron(np.asarray(irrep(g)).T, np.eye(width)))
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
    if field.e3nn:
        return _e3nn_change(G, field)
    c = field.cartesian
    assert c is not None
    pi = projector(c)
    std = standard_representation(G)
    columns, taken = [], dict[tuple[Any, ...], int]()
    for irrep in field.irreps:  # in the field's order, as escnn's direct sum of them lays them out
        maps = _intertwiners(G, lambda g: tensor_power(np.asarray(std(g)), c.rank), G.irrep(*irrep.eid), pi)
        k = taken[irrep.eid] = taken.get(irrep.eid, -1) + 1
        columns.append(maps[k])
    # projected once more: the rows of i j and j i become the same sums of the same numbers, so a symmetric
    # field's output is symmetric to the last bit (an antisymmetric one exactly antisymmetric)
    embedded: FloatArray = pi @ np.concatenate(columns, axis=1)
    if np.abs(embedded.T @ embedded - np.eye(field.dim)).max() > INTERTWINES:
        raise BuildError(f"the components of {field.name} could not be matched to its irreps")
    return embedded


def _e3nn_change(G: Any, field: Field) -> FloatArray:
    """The orthogonal map from escnn's basis of the irrep to e3nn's: unique up to sign (Schur's lemma), the
    sign chosen so that its largest entry is positive."""
    (irrep,) = field.irreps
    (change,) = _intertwiners(G, lambda g: e3nn_matrix(G, field, g), G.irrep(*irrep.eid), np.eye(irrep.dim))
    flat = change.reshape(-1)
    signed: FloatArray = change * np.sign(flat[np.argmax(np.abs(flat))])
    return signed


def e3nn_matrix(G: Any, field: Field, g: Any) -> FloatArray:
    """e3nn's own matrix of the field's irrep at ``g`` (o3.Irrep.D_from_matrix of g's 3x3 matrix in xyz)."""
    try:
        from e3nn import o3
    except ImportError:
        raise BuildError("basis: e3nn reads e3nn's own matrices when it builds: install e3nn (pip install e3nn)", ("basis",)) from None
    import torch

    (irrep,) = field.irreps
    l = irrep.freq
    odd = bool(irrep.eid[0]) if len(irrep.eid) == 2 else l % 2 == 1  # O(3) (j, l): inversion acts as (-1)^j
    rotation = torch.as_tensor(np.asarray(standard_representation(G)(g)), dtype=torch.float64)
    with default_dtype(torch.float64):  # e3nn computes its angles and matrices in the default dtype
        return np.asarray(o3.Irrep(l, -1 if odd else 1).D_from_matrix(rotation), dtype=np.float64)


def embedding(G: Any, t: FieldType) -> FloatArray | None:
    """(width, dim): a converted field's map on its columns (Cartesian, e3nn's basis), the identity on every
    other field's; None when no field needs one."""
    if not t.converted:
        return None
    blocks = [_embedding_of(G, f) if f.cartesian is not None or f.e3nn else np.eye(f.dim) for f, m in t.entries for _ in range(m)]
    out = np.zeros((t.width, t.dim))
    r = c = 0
    for block in blocks:
        out[r : r + block.shape[0], c : c + block.shape[1]] = block
        r, c = r + block.shape[0], c + block.shape[1]
    return out


def _column_matrix(G: Any, f: Field, g: Any) -> FloatArray:
    if f.cartesian is not None:
        return tensor_power(np.asarray(standard_representation(G)(g)), f.cartesian.rank)
    return e3nn_matrix(G, f, g) if f.e3nn else np.asarray(field_representation(G, f)(g))


def boundary_matrix(G: Any, t: FieldType, g: Any) -> FloatArray:
    """The representation of the model's columns at ``g``: R^(x k) on a Cartesian field's components, the
    field's own representation on every other field."""
    blocks = [_column_matrix(G, f, g) for f, m in t.entries for _ in range(m)]
    out = np.zeros((t.width, t.width))
    at = 0
    for block in blocks:
        out[at : at + len(block), at : at + len(block)] = block
        at += len(block)
    return out
