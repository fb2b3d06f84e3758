"""Groups of the form C2 x G, as escnn builds them: full_ico, full_octa and the cylinder groups. In all
of them the C2 factor is the inversion x -> -x of R^3, as in escnn's gspaces; in the full cylinder, O(2)'s
reflection is escnn's half-turn about a horizontal axis.

escnn ids are ((c2 id,), inner id, 0). Names append the inversion sign to the inner name: ``g``/``u`` for
the full polyhedral groups (as chemists write A1g, T1u), ``e``/``o`` for the cylinders (as for O(3)).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from .circle import O2, SO2, CircleLaw, circle_reachable
from .finite import FiniteGroup, Ico, Octa
from .group import FloatArray, GridKind, Group, NamedRep, Points, Quadrature
from .irreps import Irrep


class C2Product(Group):
    suffixes = ("e", "o")

    def __init__(self, inner: Group, key: str, label: str, factory: str, args: tuple[int, ...] = ()):
        self.inner, self.key, self.label = inner, key, label
        self.escnn_factory, self.escnn_args = factory, args
        self.finite = inner.finite
        self.order = 2 * inner.order if inner.order else None

    def _wrap(self, j: int, inner: Irrep) -> Irrep:
        return Irrep(self.key, ((j,), inner.eid, 0), inner.name + self.suffixes[j], inner.dim, inner.kind, inner.freq)

    def _unwrap(self, irrep: Irrep) -> tuple[int, Irrep]:
        c2, eid, _ = irrep.eid  # ((j,), inner id, 0)
        j = c2[0] if isinstance(c2, tuple) and len(c2) == 1 else None
        if not isinstance(j, int):
            raise TypeError(f"not an irrep id of {self.label}: {irrep.eid!r}")
        inner = next(i for i in self.inner.irreps(irrep.freq) if i.eid == eid)
        return j, inner

    def irreps(self, max_freq: int | None = None) -> list[Irrep]:
        return [self._wrap(j, i) for i in self.inner.irreps(max_freq) for j in (0, 1)]

    def irrep_by_name(self, name: str) -> Irrep | None:
        if not name or name[-1] not in self.suffixes:
            return None
        inner = self.inner.irrep_by_name(name[:-1])
        return self._wrap(self.suffixes.index(name[-1]), inner) if inner else None

    def example_names(self) -> list[str]:
        return [self._wrap(j, i).name for i in self.inner.irreps(2) for j in (0, 1)]

    @property
    def vector(self) -> NamedRep | None:
        inner = self.inner.vector
        if inner is None:
            return None
        if inner.basis == "xyz":  # inversion flips all three coordinates
            return NamedRep("vector", tuple(self._wrap(1, i) for i in inner.irreps), "xyz")
        # cylinders: xy turns with the inner group, z is fixed by rotations (flipped by O(2)'s half-turn),
        # and the inversion flips all three
        return NamedRep("vector", tuple(self._wrap(1, i) for i in inner.irreps) + (self._wrap(1, self._z_irrep()),), "xyz")

    def _z_irrep(self) -> Irrep:
        # O(2)'s reflection is a half-turn about a horizontal axis in escnn's full cylinder: it flips z
        return self.inner._named("0-") if isinstance(self.inner, O2) else self.inner.trivial

    def quadrature(self, degree: int) -> Quadrature:
        q = self.inner.quadrature(degree)
        n = len(q.weights)
        eps = np.repeat([0, 1], n)
        pts = _tile(q.points)
        return Quadrature((eps, pts), np.concatenate([q.weights, q.weights]) / 2)

    def character(self, irrep: Irrep, points: tuple[FloatArray, Points]) -> FloatArray:
        eps, pts = points
        j, inner = self._unwrap(irrep)
        return np.where(eps > 0, (-1.0) ** j, 1.0) * self.inner.character(inner, pts)

    def power(self, points: tuple[FloatArray, Points], j: int) -> tuple[FloatArray, Points]:
        eps, pts = points
        return (eps if j % 2 else np.zeros_like(eps), self.inner.power(pts, j))

    def grid_types(self) -> dict[str, GridKind]:
        return {}

    def reachable(self, source: Mapping[Irrep, int]) -> Callable[[Irrep], bool]:
        if self.finite:
            return FiniteGroup.reachable(self, source)  # type: ignore[arg-type]
        return circle_reachable(source, self._law, self._cosets())

    def _law(self, irrep: Irrep) -> CircleLaw:
        j, inner = self._unwrap(irrep)
        base = self.inner.law(inner) if isinstance(self.inner, O2) else CircleLaw(inner.freq)
        return CircleLaw(base.freq, base.det, (-1) ** j)

    def _cosets(self) -> list[tuple[int, int]]:
        return [(0, 1), (1, 0), (1, 1)] if isinstance(self.inner, O2) else [(0, 1)]


class FullPolyhedral(C2Product):
    suffixes = ("g", "u")


def _tile(points: Points) -> Points:
    if isinstance(points, tuple):
        return tuple(np.concatenate([p, p]) for p in points)
    return np.concatenate([points, points])


def full_ico() -> Group:
    return FullPolyhedral(Ico(), "full_ico", "Full icosahedral (Ih)", "full_ico_group")


def full_octa() -> Group:
    return FullPolyhedral(Octa(), "full_octa", "Full octahedral (Oh)", "full_octa_group")


def cylinder(max_freq: int = 4) -> Group:
    return C2Product(SO2(), "cylinder", "Cylinder SO(2) x C2", "cylinder_group", (max_freq,))


def full_cylinder(max_freq: int = 4) -> Group:
    return C2Product(O2(), "full_cylinder", "Full cylinder O(2) x C2", "full_cylinder_group", (max_freq,))
