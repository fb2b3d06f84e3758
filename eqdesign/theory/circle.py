"""SO(2) and O(2), and the generic-stabilizer rule shared by every group whose identity component is a circle.

Ideal reachability (see THEORY.md): an irrep c can be produced from an input V iff c has a vector fixed by
H = Stab(x) for a generic x in V. For circle-type groups (SO(2), O(2) and their products with C2, the
cylinder groups) H is computed exactly here:

* its rotations form C_g, g the gcd of the non-zero frequencies present (all of SO(2) when there are none);
* a coset "rotation times C2 generator" lies in H iff some angle makes every field of V fixed; the angle
  can be searched among multiples of pi/g;
* a coset of reflections lies in H iff V holds at most one 2-dimensional field, since a reflection fixes
  a generic vector for one angle only and two generic vectors never agree on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .group import FloatArray, GridKind, Group, NamedRep, Quadrature, Quotient
from .irreps import Irrep, id_pair
from .quadrature import Space


@dataclass(frozen=True)
class CircleLaw:
    """How an irrep of a circle-type group transforms: frequency, reflection sign (1-dim only), C2 sign."""

    freq: int
    det: int = 1
    par: int = 1

    @property
    def two_dim(self) -> bool:
        return self.freq > 0


def _coset_member(laws: list[CircleLaw], s: int, e: int, g: int) -> float | None:
    """A representative angle of the coset (reflection s, C2 power e) inside H, or None if H misses it."""
    if any(not law.two_dim and law.det**s * law.par**e != 1 for law in laws):
        return None
    two = [law for law in laws if law.two_dim]
    if s == 1:
        return 0.0 if len(two) <= 1 else None
    if not two:
        return 0.0
    for a in range(2 * g):
        theta = math.pi * a / g
        if all(_rotation_is_identity(law.freq * theta, law.par**e) for law in two):
            return theta
    return None


def _rotation_is_identity(angle: float, sign: int) -> bool:
    total = angle + (math.pi if sign < 0 else 0.0)
    return abs(math.remainder(total, 2 * math.pi)) < 1e-9


def circle_reachable(
    source: Mapping[Irrep, int], law: Callable[[Irrep], CircleLaw], cosets: list[tuple[int, int]]
) -> Callable[[Irrep], bool]:
    """The ideal-reachability predicate for a circle-type group with the given non-identity cosets."""
    laws = [law(i) for i, m in source.items() if m > 0 for _ in range(min(m, 2))]
    freqs = [x.freq for x in laws if x.two_dim]
    g = math.gcd(*freqs) if freqs else 0
    members = {c: _coset_member(laws, *c, g or 1) for c in cosets}
    present = {c: theta for c, theta in members.items() if theta is not None}

    def fixed(c: Irrep) -> bool:
        x = law(c)
        if x.two_dim:
            if g == 0 or x.freq % g:
                return False
            return all(_rotation_is_identity(x.freq * th, x.par**e) for (s, e), th in present.items() if s == 0)
        return all(x.det**s * x.par**e == 1 for (s, e) in present)

    return fixed


class SO2(Group):
    key = "so2"
    label = "SO(2)"
    escnn_factory = "so2_group"

    def irreps(self, max_freq: int | None = None) -> list[Irrep]:
        top = 4 if max_freq is None else max_freq
        return [self._irrep(k) for k in range(top + 1)]

    def _irrep(self, k: int) -> Irrep:
        return Irrep("so2", (k,), str(k), 1 if k == 0 else 2, "R" if k == 0 else "C", k)

    def irrep_by_name(self, name: str) -> Irrep | None:
        return self._irrep(int(name)) if name.isdigit() else None

    @property
    def vector(self) -> NamedRep:
        return NamedRep("vector", (self._irrep(1),), "xy")

    def quadrature(self, degree: int) -> Quadrature:
        m = degree + 2
        return Quadrature(2 * np.pi * np.arange(m) / m, np.full(m, 1.0 / m))

    def character(self, irrep: Irrep, points: FloatArray) -> FloatArray:
        k = irrep.freq
        return np.ones_like(points) if k == 0 else 2 * np.cos(k * points)

    def power(self, points: FloatArray, j: int) -> FloatArray:
        return j * points

    def grid_types(self) -> dict[str, GridKind]:
        return {"regular": GridKind(lambda n: n, "n", circle=True), "rand": GridKind(lambda n: n, "n", circle=True)}

    def quadrature_space(self, quotient: str | None) -> tuple[Space, bool] | None:
        return ("circle", False) if quotient is None else None

    def reachable(self, source: Mapping[Irrep, int]) -> Callable[[Irrep], bool]:
        return circle_reachable(source, lambda i: CircleLaw(i.freq), [])


class O2(Group):
    """O(2): the trivial irrep ``0``, the determinant ``0-``, and the 2-dimensional ``k`` for k >= 1."""

    key = "o2"
    label = "O(2)"
    escnn_factory = "o2_group"

    def irreps(self, max_freq: int | None = None) -> list[Irrep]:
        top = 4 if max_freq is None else max_freq
        return [self._irrep(0, 0), self._irrep(1, 0)] + [self._irrep(1, k) for k in range(1, top + 1)]

    def _irrep(self, j: int, k: int) -> Irrep:
        name = str(k) if k else ("0" if j == 0 else "0-")
        return Irrep("o2", (j, k), name, 2 if k else 1, "R", k)

    def irrep_by_name(self, name: str) -> Irrep | None:
        if name == "0":
            return self._irrep(0, 0)
        if name == "0-":
            return self._irrep(1, 0)
        return self._irrep(1, int(name)) if name.isdigit() else None

    @property
    def vector(self) -> NamedRep:
        return NamedRep("vector", (self._irrep(1, 1),), "xy")

    def quadrature(self, degree: int) -> Quadrature:
        m = degree + 2
        theta = np.concatenate([2 * np.pi * np.arange(m) / m, [0.0]])
        refl = np.concatenate([np.zeros(m), [1.0]])
        return Quadrature((refl, theta), np.concatenate([np.full(m, 0.5 / m), [0.5]]))

    def character(self, irrep: Irrep, points: tuple[FloatArray, FloatArray]) -> FloatArray:
        refl, theta = points
        j, k = id_pair(irrep.eid)
        chi: FloatArray
        if k == 0:
            chi = np.where(refl > 0, (-1.0) ** j, 1.0)
        else:
            chi = np.where(refl > 0, 0.0, 2 * np.cos(k * theta))
        return chi

    def power(self, points: tuple[FloatArray, FloatArray], j: int) -> tuple[FloatArray, FloatArray]:
        refl, theta = points
        odd = j % 2 == 1
        return (refl if odd else np.zeros_like(refl), np.where(refl > 0, theta if odd else 0.0, j * theta))

    def law(self, irrep: Irrep) -> CircleLaw:
        j, k = id_pair(irrep.eid)
        return CircleLaw(k, -1 if (k == 0 and j == 1) else 1)

    def quotients(self) -> dict[str, Quotient]:
        # O(2)/{1, reflection}: the circle. It fixes the trivial irrep and one line of every 2-dim irrep.
        return {"circle": Quotient("circle", (0.0, 1), lambda i: 1 if i.eid != (1, 0) else 0)}

    def grid_types(self) -> dict[str, GridKind]:
        # escnn's O2.grid: "regular" takes n rotations and the n reflections with them; "rand" n elements in all
        return {"regular": GridKind(lambda n: 2 * n, "2n", circle=True), "rand": GridKind(lambda n: n, "n", circle=True)}

    def quotient_grid_types(self, name: str) -> dict[str, GridKind]:
        return {"regular": GridKind(lambda n: n, "n", circle=True)}  # n rotations, one per point of the circle

    def quadrature_space(self, quotient: str | None) -> tuple[Space, bool] | None:
        # the regular representation samples rotations and reflections; the circle quotient, rotations
        spaces: dict[str | None, tuple[Space, bool]] = {None: ("circle", True), "circle": ("circle", False)}
        return spaces.get(quotient)

    def reachable(self, source: Mapping[Irrep, int]) -> Callable[[Irrep], bool]:
        return circle_reachable(source, self.law, [(1, 0)])
