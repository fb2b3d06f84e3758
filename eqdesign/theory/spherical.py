"""SO(3) and O(3).

Characters depend on the rotation angle only, so the Haar average of a class function is an average over
the angle with Weyl's density (1 - cos t) / (2 pi); a uniform grid of M angles integrates it exactly for
trigonometric degree below M.

Ideal reachability uses the generic stabilizer H of the input, which is known in closed form:

* SO(3): H is SO(3) for scalars only, SO(2) for exactly one vector (l = 1), the Klein group D2 for exactly
  one l = 2 field (it fixes every l except 1), and trivial otherwise (l >= 3 fields, or two fields of
  degree >= 1).
* O(3) = SO(3) x {1, inversion}: H contains an element (R, inversion) iff some rotation R fixes every
  even field and negates every odd one. That happens with no odd field at all (R = 1: only even outputs),
  with exactly one polar vector (R a half-turn about a perpendicular axis: natural parity l -> (-1)^l),
  and with exactly two polar vectors and no other non-scalar field (R the half-turn about their normal:
  everything but the pseudoscalar). A pseudoscalar input, or a generic odd field of degree >= 2, rules
  it out, and then H is a group of rotations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np

from .group import FloatArray, GridKind, Group, NamedRep, ParityField, Quadrature, Quotient
from .irreps import Irrep, id_pair
from .quadrature import Space

# Point counts of escnn's SO3.grid (O3.grid repeats each point with the inversion, except "rand") and of
# sphere_grid; tests/test_static_refusal.py compares them with escnn. escnn's hopf and fibonacci SO(3) grids
# give "about n" points and its random sphere grid takes no seed, so eqdesign offers neither.
_SO3_GRIDS = {
    "thomson": GridKind(lambda n: n, "n"),
    "thomson_cube": GridKind(lambda n: 24 * n, "24n"),
    "ico": GridKind(lambda n: 60, "60", takes_n=False),
    "cube": GridKind(lambda n: 24, "24", takes_n=False),
    "tetra": GridKind(lambda n: 12, "12", takes_n=False),
    "rand": GridKind(lambda n: n, "n"),
}
_SPHERE_GRIDS = {
    "thomson": GridKind(lambda n: n, "n"),
    "thomson_cube": GridKind(lambda n: 24 * n, "24n"),
    "ico": GridKind(lambda n: 30, "30", takes_n=False),  # the orbit of the z axis: the icosahedron's edge centres
    "cube": GridKind(lambda n: 6, "6", takes_n=False),
    "tetra": GridKind(lambda n: 6, "6", takes_n=False),  # z is a 2-fold axis of the tetrahedral group
    "fibonacci": GridKind(lambda n: n, "n", min_n=2),  # escnn divides by n - 1
}


def _with_inversion(grids: dict[str, GridKind]) -> dict[str, GridKind]:
    """O3.grid: every SO(3) point twice (with and without the inversion), but "rand" draws n elements of O(3)."""

    def doubled(k: GridKind) -> GridKind:
        coeff, var = (k.size[:-1] or "1", "n") if k.size.endswith("n") else (k.size, "")
        return replace(k, points=lambda n: 2 * k.points(n), size=f"{2 * int(coeff)}{var}")

    return {name: (k if name == "rand" else doubled(k)) for name, k in grids.items()}


def _angle_quadrature(degree: int) -> tuple[FloatArray, FloatArray]:
    m = degree + 3
    theta = 2 * np.pi * np.arange(m) / m
    return theta, (1 - np.cos(theta)) / m


def _chi_l(l: int, theta: FloatArray) -> FloatArray:
    return 1 + sum((2 * np.cos(m * theta) for m in range(1, l + 1)), np.zeros_like(theta))


def _so3_stabilizer(degrees: Mapping[int, int]) -> str:
    """Generic stabilizer type in SO(3) of a representation with ``degrees[l]`` copies of degree l."""
    nonscalar = {l: m for l, m in degrees.items() if l > 0 and m > 0}
    total = sum(nonscalar.values())
    if total == 0:
        return "SO3"
    if total == 1 and 1 in nonscalar:
        return "SO2"
    if total == 1 and 2 in nonscalar:
        return "D2"
    return "trivial"


def _so3_fixed_dim(stab: str, l: int) -> int:
    """dim of the H-fixed subspace of degree l: one line for SO(2), the D2 character average for D2."""
    if stab == "SO3":
        return 1 if l == 0 else 0
    if stab == "SO2":
        return 1
    if stab == "D2":
        sign = 1 if l % 2 == 0 else -1  # (-1)^l
        return (2 * l + 1 + 3 * sign) // 4
    return 2 * l + 1


def _so3_fixed(stab: str, l: int) -> bool:
    return _so3_fixed_dim(stab, l) > 0


def _degrees(source: Mapping[Irrep, int]) -> dict[int, int]:
    degrees: dict[int, int] = {}
    for irrep, m in source.items():
        if m > 0:
            degrees[irrep.freq] = degrees.get(irrep.freq, 0) + m
    return degrees


class SO3(Group):
    key = "so3"
    label = "SO(3)"
    escnn_factory = "so3_group"

    def irreps(self, max_freq: int | None = None) -> list[Irrep]:
        top = 4 if max_freq is None else max_freq
        return [self._irrep(l) for l in range(top + 1)]

    def _irrep(self, l: int) -> Irrep:
        return Irrep("so3", (l,), str(l), 2 * l + 1, "R", l)

    def irrep_by_name(self, name: str) -> Irrep | None:
        return self._irrep(int(name)) if name.isdigit() else None

    @property
    def vector(self) -> NamedRep:
        return NamedRep("vector", (self._irrep(1),), "xyz")

    def parity_field(self, name: str) -> ParityField | None:
        """``1_even``, ``2_odd`` (a degree with the parity under x -> -x the quantity has), ``pseudovector`` or
        ``axial_vector`` (even, in xyz), ``polar_vector`` (odd, in xyz) and ``pseudoscalar``: the SO(3) irrep
        for the model, the parity for the analysis. (O(3)'s names, 1e or 1o, stay O(3)'s.)"""
        aliases = {"pseudovector": ("1_even", "xyz"), "axial_vector": ("1_even", "xyz"), "polar_vector": ("1_odd", "xyz")}
        spelled, basis = aliases.get(name, ("0_odd", "") if name == "pseudoscalar" else (name, ""))
        degree, _, sign = spelled.partition("_")
        if not degree.isdigit() or len(degree) > 6 or sign not in ("even", "odd"):
            return None
        return ParityField((self._irrep(int(degree)),), (1 if sign == "even" else -1,), basis)

    def parity_examples(self) -> list[str]:
        return ["pseudovector", "axial_vector", "polar_vector", "pseudoscalar", "2_odd"]

    def quadrature(self, degree: int) -> Quadrature:
        return Quadrature(*_angle_quadrature(degree))

    def character(self, irrep: Irrep, points: FloatArray) -> FloatArray:
        return _chi_l(irrep.freq, points)

    def power(self, points: FloatArray, j: int) -> FloatArray:
        return j * points

    def quotients(self) -> dict[str, Quotient]:
        return {"sphere": Quotient("sphere", (False, -1), lambda i: 1)}

    def grid_types(self) -> dict[str, GridKind]:
        return dict(_SO3_GRIDS)

    def quotient_grid_types(self, name: str) -> dict[str, GridKind]:
        return dict(_SPHERE_GRIDS)

    def quadrature_space(self, quotient: str | None) -> tuple[Space, bool] | None:
        spaces: dict[str | None, tuple[Space, bool]] = {None: ("so3", False), "sphere": ("sphere", False)}
        return spaces.get(quotient)

    def reachable(self, source: Mapping[Irrep, int]) -> Callable[[Irrep], bool]:
        stab = _so3_stabilizer(_degrees(source))
        return lambda c: _so3_fixed(stab, c.freq)

    def fixed_dim(self, source: Mapping[Irrep, int], c: Irrep) -> int:
        return _so3_fixed_dim(_so3_stabilizer(_degrees(source)), c.freq)


def _parity_name(j: int, l: int) -> str:
    return f"{l}{'o' if j else 'e'}"


def _natural_parity(irrep: Irrep) -> bool:
    """Whether an O(3) irrep has the parity (-1)^l of the spherical harmonics: 0e, 1o, 2e, ..."""
    j, l = id_pair(irrep.eid)
    return j == l % 2


class O3(Group):
    """O(3) irreps (j, l): inversion acts as (-1)^j. Named e3nn-style: 1o is the polar vector."""

    key = "o3"
    label = "O(3)"
    escnn_factory = "o3_group"
    nicknames = {"0o": "pseudoscalar", "1e": "pseudovector", "1o": "polar vector"}

    def irreps(self, max_freq: int | None = None) -> list[Irrep]:
        top = 4 if max_freq is None else max_freq
        return [self._irrep(j, l) for l in range(top + 1) for j in (0, 1)]

    def _irrep(self, j: int, l: int) -> Irrep:
        return Irrep("o3", (j, l), _parity_name(j, l), 2 * l + 1, "R", l)

    def irrep_by_name(self, name: str) -> Irrep | None:
        if len(name) >= 2 and name[:-1].isdigit() and name[-1] in "eo":
            return self._irrep(1 if name[-1] == "o" else 0, int(name[:-1]))
        return None

    def example_names(self) -> list[str]:
        return ["0e", "0o", "1o", "1e", "2e", "2o"]

    @property
    def vector(self) -> NamedRep:
        return NamedRep("vector", (self._irrep(1, 1),), "xyz")

    def quadrature(self, degree: int) -> Quadrature:
        theta, w = _angle_quadrature(degree)
        inv = np.concatenate([np.zeros_like(theta), np.ones_like(theta)])
        return Quadrature((inv, np.concatenate([theta, theta])), np.concatenate([w, w]) / 2)

    def character(self, irrep: Irrep, points: tuple[FloatArray, FloatArray]) -> FloatArray:
        inv, theta = points
        j, l = id_pair(irrep.eid)
        return np.where(inv > 0, (-1.0) ** j, 1.0) * _chi_l(l, theta)

    def power(self, points: tuple[FloatArray, FloatArray], j: int) -> tuple[FloatArray, FloatArray]:
        inv, theta = points
        return (inv if j % 2 else np.zeros_like(inv), j * theta)

    def quotients(self) -> dict[str, Quotient]:
        # O(3)/O(2) (escnn's "cone" subgroup): one copy of each natural-parity harmonic 0e, 1o, 2e, ...
        return {"sphere": Quotient("sphere", ("cone", -1), lambda i: 1 if _natural_parity(i) else 0)}

    def grid_types(self) -> dict[str, GridKind]:
        return _with_inversion(_SO3_GRIDS)

    def quotient_grid_types(self, name: str) -> dict[str, GridKind]:
        # O(3)/O(2) is the sphere itself: escnn's O3.sphere_grid samples as many points as SO(3)'s
        return dict(_SPHERE_GRIDS)

    def quadrature_space(self, quotient: str | None) -> tuple[Space, bool] | None:
        # the sphere rules are closed under the antipodal map already: the inversion needs no doubling there
        spaces: dict[str | None, tuple[Space, bool]] = {None: ("so3", True), "sphere": ("sphere", False)}
        return spaces.get(quotient)

    def reachable(self, source: Mapping[Irrep, int]) -> Callable[[Irrep], bool]:
        present = {id_pair(i.eid): m for i, m in source.items() if m > 0}
        stab = _so3_stabilizer(_degrees(source))
        parity = _inversion_rule(present)
        return lambda c: _so3_fixed(stab, id_pair(c.eid)[1]) and parity(*id_pair(c.eid))

    def fixed_dim(self, source: Mapping[Irrep, int], c: Irrep) -> int:
        if not self.reachable(source)(c):
            return 0
        j, l = id_pair(c.eid)
        if _two_polar_vectors({id_pair(i.eid): m for i, m in source.items() if m > 0}):
            # H = {1, mirror through the vectors' plane}: the mirror acts on (j, l) as (-1)^(j + m) on the
            # harmonic of order m about the normal, so the fixed directions are the m = j (mod 2).
            return sum(1 for m in range(-l, l + 1) if (m - j) % 2 == 0)
        # Otherwise the rotation part of H bounds it; inversion elements can only shrink it further.
        return _so3_fixed_dim(_so3_stabilizer(_degrees(source)), l)


def _inversion_rule(present: Mapping[tuple[int, int], int]) -> Callable[[int, int], bool]:
    """Which parities survive the (rotation x inversion) elements of the generic stabilizer."""
    odd = {l: m for (j, l), m in present.items() if j == 1}
    even_nonscalar = sum(m for (j, l), m in present.items() if j == 0 and l > 0)
    if 0 in odd:  # a pseudoscalar input: no element with inversion fixes it
        return lambda j, l: True
    if not odd:
        return lambda j, l: j == 0
    if set(odd) == {1} and even_nonscalar == 0 and odd[1] == 1:
        return lambda j, l: j == l % 2
    if _two_polar_vectors(present):
        return lambda j, l: not (l == 0 and j == 1)
    return lambda j, l: True


def _two_polar_vectors(present: Mapping[tuple[int, int], int]) -> bool:
    """Exactly two polar vectors and no other field but even scalars."""
    others = {eid: m for eid, m in present.items() if eid not in ((1, 1), (0, 0))}
    return present.get((1, 1), 0) == 2 and not others
