"""Finite groups: cyclic C_N, dihedral D_N, and the rotation groups of the octahedron and icosahedron.

Characters live on conjugacy classes (or on all elements for C_N and D_N, which is just as cheap).

Ideal reachability for a finite group is exact and needs no degree bound: a generic input x avoids the
finitely many proper fixed subspaces V^g, so its stabilizer is the kernel K of V, a normal subgroup. An
irrep c then has K-fixed vectors iff K acts trivially on it, i.e. chi_c(k) = dim c for every k with
chi_V(k) = dim V. (Equivalently, c occurs in Sym^k(V) for some k < |G|: polynomials of degree |G/K| - 1
interpolate any function on the orbit G/K.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from .group import FloatArray, Group, NamedRep, Quadrature
from .irreps import EscnnId, Irrep, id_pair

#: Points of the finite groups: element or class indices (C_N, class tables), or (reflection, rotation) for D_N.
IntArray: TypeAlias = npt.NDArray[np.int_]


class FiniteGroup(Group):
    finite = True
    _quadrature: Quadrature  # every element (or class) with its share of the Haar measure

    def irreps(self, max_freq: int | None = None) -> list[Irrep]:
        return [i for i in self._irreps() if max_freq is None or i.freq <= max_freq]

    def _irreps(self) -> list[Irrep]:
        raise NotImplementedError

    def irrep_by_name(self, name: str) -> Irrep | None:
        return next((i for i in self._irreps() if i.name == name), None)

    def example_names(self) -> list[str]:
        return [i.name for i in self._irreps()]

    def quadrature(self, degree: int = 0) -> Quadrature:
        return self._quadrature

    def reachable(self, source: Mapping[Irrep, int]) -> Callable[[Irrep], bool]:
        q = self.quadrature(0)
        dim_v = sum(i.dim * m for i, m in source.items())
        chi_v = sum((m * self.character(i, q.points) for i, m in source.items()), np.zeros_like(q.weights))
        kernel = np.abs(chi_v - dim_v) < 1e-9
        return lambda c: bool(np.all(np.abs(self.character(c, q.points)[kernel] - c.dim) < 1e-9))


class Cyclic(FiniteGroup):
    """C_N; irrep k (0 <= k <= N/2) is 2-dimensional and complex except for k = 0 and k = N/2."""

    escnn_factory = "cyclic_group"

    def __init__(self, n: int):
        self.n = n
        self.key, self.label, self.order, self.escnn_args = f"cyclic{n}", f"C{n}", n, (n,)
        self._quadrature = Quadrature(np.arange(n), np.full(n, 1.0 / n))

    def _irreps(self) -> list[Irrep]:
        n = self.n
        return [Irrep(self.key, (k,), str(k), 1 if 2 * k in (0, n) else 2, "R" if 2 * k in (0, n) else "C", k) for k in range(n // 2 + 1)]

    @property
    def vector(self) -> NamedRep | None:
        return NamedRep("vector", (self._irreps()[1],), "xy") if self.n >= 3 else None

    def character(self, irrep: Irrep, points: IntArray) -> FloatArray:
        k = irrep.freq
        angle = 2 * np.pi * k * points / self.n
        chi: FloatArray = np.cos(angle) * (1 if irrep.dim == 1 else 2)
        return chi

    def power(self, points: IntArray, j: int) -> IntArray:
        return (j * points) % self.n


class Dihedral(FiniteGroup):
    """D_N of order 2N. Irreps: ``0``, ``0-`` (the reflection sign), ``k`` for 0 < k < N/2, and for even N
    the 1-dimensional ``N/2`` and ``N/2-`` (the reflection acting as +(-1)^m or -(-1)^m on r^m)."""

    escnn_factory = "dihedral_group"

    def __init__(self, n: int):
        self.n = n
        self.key, self.label, self.order, self.escnn_args = f"dihedral{n}", f"D{n}", 2 * n, (n,)
        refl = np.repeat([0, 1], n)
        rot = np.tile(np.arange(n), 2)
        self._quadrature = Quadrature((refl, rot), np.full(2 * n, 1.0 / (2 * n)))

    def _irreps(self) -> list[Irrep]:
        n, key = self.n, self.key
        out = [Irrep(key, (0, 0), "0", 1, "R", 0), Irrep(key, (1, 0), "0-", 1, "R", 0)]
        out += [Irrep(key, (1, k), str(k), 2, "R", k) for k in range(1, (n + 1) // 2)]
        if n % 2 == 0:
            h = n // 2
            out += [Irrep(key, (0, h), f"{h}", 1, "R", h), Irrep(key, (1, h), f"{h}-", 1, "R", h)]
        return out

    @property
    def vector(self) -> NamedRep | None:
        return NamedRep("vector", (self._named("1"),), "xy") if self.n >= 3 else None

    def character(self, irrep: Irrep, points: tuple[IntArray, IntArray]) -> FloatArray:
        refl, rot = points
        j, k = id_pair(irrep.eid)
        angle = 2 * np.pi * k * rot / self.n
        chi: FloatArray
        if irrep.dim == 2:
            chi = np.where(refl > 0, 0.0, 2 * np.cos(angle))
        else:
            chi = np.cos(angle) * np.where(refl > 0, (-1.0) ** j, 1.0)
        return chi

    def power(self, points: tuple[IntArray, IntArray], j: int) -> tuple[IntArray, IntArray]:
        refl, rot = points
        if j % 2:
            return refl, np.where(refl > 0, rot, (j * rot) % self.n)
        return np.zeros_like(refl), np.where(refl > 0, 0, (j * rot) % self.n)


class ClassTableGroup(FiniteGroup):
    """A finite group given by its character table and, per class, the class of g^j for j mod the order."""

    classes: list[tuple[str, int, list[int]]]  # name, size, power map indexed by j % order
    table: list[tuple[EscnnId, str, int, int, list[float]]]  # escnn id, name, dim, frequency, characters

    def __init__(self) -> None:
        sizes = np.array([size for _, size, _ in self.classes], dtype=float)
        self.order = int(sizes.sum())
        self._quadrature = Quadrature(np.arange(len(sizes)), sizes / sizes.sum())
        self._char_table = {eid: np.array(values) for eid, _, _, _, values in self.table}

    def _irreps(self) -> list[Irrep]:
        return [Irrep(self.key, eid, name, dim, "R", freq) for eid, name, dim, freq, _ in self.table]

    @property
    def vector(self) -> NamedRep:
        return NamedRep("vector", (self._named("T1"),), "xyz")

    def character(self, irrep: Irrep, points: IntArray) -> FloatArray:
        return self._char_table[irrep.eid][points]

    def power(self, points: IntArray, j: int) -> IntArray:
        maps = [powers[j % len(powers)] for _, _, powers in self.classes]
        return np.array(maps)[points]


_PHI = (1 + 5**0.5) / 2


class Octa(ClassTableGroup):
    """The rotation group of the cube (S4). escnn ids: (0,) A1, (3,) A2, (2,) E, (1,) T1 (xyz), (-1,) T2."""

    key, label, escnn_factory = "octa", "Octahedral", "octa_group"
    # classes: identity, 8 third-turns, 3 face half-turns, 6 quarter-turns, 6 edge half-turns
    classes = [
        ("e", 1, [0]),
        ("C3", 8, [0, 1, 1]),
        ("C2", 3, [0, 2]),
        ("C4", 6, [0, 3, 2, 3]),
        ("C2'", 6, [0, 4]),
    ]
    table = [
        ((0,), "A1", 1, 0, [1, 1, 1, 1, 1]),
        ((1,), "T1", 3, 1, [3, 0, -1, 1, -1]),
        ((2,), "E", 2, 2, [2, -1, 2, 0, 0]),
        ((-1,), "T2", 3, 2, [3, 0, -1, -1, 1]),
        ((3,), "A2", 1, 3, [1, 1, 1, -1, -1]),
    ]


class Ico(ClassTableGroup):
    """The rotation group of the icosahedron (A5). escnn ids: (0,) A, (1,) T1 (xyz), (2,) H, (3,) T2, (4,) G.
    Frequencies follow escnn's band-limits, which take the ids (0,)..(L,)."""

    key, label, escnn_factory = "ico", "Icosahedral", "ico_group"
    # classes: identity, 12 fifth-turns (72 deg), 12 two-fifth-turns (144 deg), 20 third-turns, 15 half-turns
    classes = [
        ("e", 1, [0]),
        ("C5", 12, [0, 1, 2, 2, 1]),
        ("C5^2", 12, [0, 2, 1, 1, 2]),
        ("C3", 20, [0, 3, 3]),
        ("C2", 15, [0, 4]),
    ]
    table = [
        ((0,), "A", 1, 0, [1, 1, 1, 1, 1]),
        ((1,), "T1", 3, 1, [3, _PHI, 1 - _PHI, 0, -1]),
        ((2,), "H", 5, 2, [5, 0, 0, -1, 1]),
        ((4,), "G", 4, 4, [4, -1, -1, 1, 0]),
        ((3,), "T2", 3, 3, [3, 1 - _PHI, _PHI, 0, -1]),
    ]
