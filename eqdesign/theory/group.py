"""The group interface of the theory layer, and everything that follows from characters alone.

Each group supplies its irreps, their characters on a quadrature of class functions, and the power map
g -> g^j. Tensor products, symmetric and antisymmetric squares and symmetric powers are then computed here
once for every group, by character inner products.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from .irreps import Irrep, content
from .quadrature import Space

#: Real values on quadrature points: weights, characters.
FloatArray: TypeAlias = npt.NDArray[np.float64]
#: A group-specific description of quadrature points (an array, or a tuple of arrays and such tuples);
#: only the group that made the points reads them, so the shared interface leaves them open.
Points: TypeAlias = Any


@dataclass(frozen=True)
class Quadrature:
    """Points and weights such that sum(w * f(p)) is the Haar average of class functions up to some degree."""

    points: Points
    weights: FloatArray


@dataclass(frozen=True)
class NamedRep:
    """A named representation such as ``vector``: its irrep content and the basis its coordinates use."""

    name: str
    irreps: tuple[Irrep, ...]
    basis: str

    @property
    def dim(self) -> int:
        return sum(i.dim for i in self.irreps)


@dataclass(frozen=True)
class ParityField:
    """A field named with a declared inversion parity (``1e``, ``pseudovector``): plain irreps for the model,
    a parity (+1 even, -1 odd) per irrep for the analysis of hidden symmetries."""

    irreps: tuple[Irrep, ...]
    parity: tuple[int, ...]
    basis: str = ""


@dataclass(frozen=True)
class Quotient:
    """A homogeneous space G/K usable by quotient Fourier nonlinearities."""

    name: str  # "sphere" or "circle"
    escnn_subgroup: Any  # the subgroup id escnn expects
    fixed: Callable[[Irrep], int]  # dim of the K-fixed space of an irrep


@dataclass(frozen=True)
class GridKind:
    """One escnn grid type: how many points escnn samples for a given ``n``, and which ``n`` it takes."""

    points: Callable[[int], int]
    size: str  # the count for messages, e.g. "24n" or "60"
    takes_n: bool = True  # False for the fixed point sets (ico, cube, tetra), where escnn ignores n
    min_n: int = 1  # smallest n escnn samples without failing (or producing NaN points)
    circle: bool = False  # points on a circle: cheap, and oversampled more (see analysis.resolve)


class Group(ABC):
    key: str  # stable machine name, e.g. "so3" or "cyclic8"
    label: str  # human name, e.g. "SO(3)" or "C8"
    finite: bool = False
    order: int | None = None
    escnn_factory: str = ""  # name of the escnn.group factory
    escnn_args: tuple[int, ...] = ()

    # -- irreps -----------------------------------------------------------------------------------------
    @abstractmethod
    def irreps(self, max_freq: int | None = None) -> list[Irrep]:
        """Irreps with frequency <= max_freq (all irreps of a finite group when None)."""

    @abstractmethod
    def irrep_by_name(self, name: str) -> Irrep | None:
        """The irrep with this canonical name (or accepted alias), else None."""

    def _named(self, name: str) -> Irrep:
        """An irrep the group is known to have, by name (for the group's own definitions)."""
        irrep = self.irrep_by_name(name)
        if irrep is None:
            raise KeyError(f"{self.label} has no irrep {name!r}")
        return irrep

    def example_names(self) -> list[str]:
        return [i.name for i in self.irreps(3)]

    def parity_field(self, name: str) -> ParityField | None:
        """A field with a declared parity, for groups whose networks hide an inversion (see analysis.parity)."""
        return None

    def parity_examples(self) -> list[str]:
        return []

    @property
    def trivial(self) -> Irrep:
        return self.irreps(0)[0]

    @property
    @abstractmethod
    def vector(self) -> NamedRep | None:
        """The standard representation in natural coordinates, when the group has one."""

    # -- characters -------------------------------------------------------------------------------------
    @abstractmethod
    def quadrature(self, degree: int) -> Quadrature:
        """Exact for class functions whose frequencies are all <= degree."""

    @abstractmethod
    def character(self, irrep: Irrep, points: Points) -> FloatArray: ...

    @abstractmethod
    def power(self, points: Points, j: int) -> Points: ...

    # -- representations used by the spec ---------------------------------------------------------------
    def regular(self, band_limit: int | None) -> Counter[Irrep]:
        """The (band-limited) regular representation: each irrep dim/e times, as escnn builds it."""
        return content((i, i.dim // i.endo) for i in self.irreps(band_limit))

    def quotients(self) -> dict[str, Quotient]:
        return {}

    def quotient(self, name: str, band_limit: int) -> Counter[Irrep]:
        q = self.quotients()[name]
        return content((i, q.fixed(i) // i.endo) for i in self.irreps(band_limit))

    def grid_types(self) -> dict[str, GridKind]:
        """escnn's grid types for Fourier layers on the group; finite groups use all their elements."""
        return {}

    def quadrature_space(self, quotient: str | None) -> tuple[Space, bool] | None:
        """Where the weighted rules of ``grid: auto`` live for a Fourier layer (on ``quotient``, or on the
        group itself): the space, and whether the reflection or inversion doubles it. None: no such rules."""
        return None

    def quotient_grid_types(self, name: str) -> dict[str, GridKind]:
        """escnn's grid types for quotient Fourier layers on the quotient ``name``, as eqdesign builds them."""
        return {}

    # -- ideal reachability -----------------------------------------------------------------------------
    @abstractmethod
    def reachable(self, source: Mapping[Irrep, int]) -> Callable[[Irrep], bool]:
        """Predicate: can some equivariant map of an input with this content produce a non-zero irrep?"""

    def fixed_dim(self, source: Mapping[Irrep, int], c: Irrep) -> int:
        """An upper bound on dim c^H, H the generic stabilizer of ``source``: how many independent real
        directions of c the features at one generic input can span. Groups refine it where it is known."""
        return c.dim if self.reachable(source)(c) else 0

    # -- derived from characters ------------------------------------------------------------------------
    def _chars(self, irrep: Irrep, q: Quadrature) -> FloatArray:
        return self.character(irrep, q.points)

    def _candidates(self, max_freq: int) -> list[Irrep]:
        # Frequencies add under tensor products only for the continuous groups.
        return self.irreps(None if self.finite else max_freq)

    def decompose(self, chi: Callable[[Quadrature], FloatArray], max_freq: int) -> Counter[Irrep]:
        """Irrep content of the representation whose character chi takes a quadrature."""
        q = self.quadrature(2 * max_freq + 2)
        values = chi(q)
        out: Counter[Irrep] = Counter()
        for irrep in self._candidates(max_freq):
            inner = float(np.real(np.sum(q.weights * values * self._chars(irrep, q))))
            mult = inner / irrep.endo
            if round(mult) != 0:
                out[irrep] = int(round(mult))
        return out

    def tensor(self, a: Irrep, b: Irrep) -> Counter[Irrep]:
        """Clebsch-Gordan series of a x b."""
        return self.decompose(lambda q: self._chars(a, q) * self._chars(b, q), a.freq + b.freq)

    def _square(self, a: Irrep, sign: int) -> Counter[Irrep]:
        def chi(q: Quadrature) -> FloatArray:
            x = self._chars(a, q)
            square: FloatArray = (x * x + sign * self.character(a, self.power(q.points, 2))) / 2
            return square

        return self.decompose(chi, 2 * a.freq)

    def sym2(self, a: Irrep) -> Counter[Irrep]:
        """Symmetric square: what a field multiplied by itself can hold."""
        return self._square(a, +1)

    def alt2(self, a: Irrep) -> Counter[Irrep]:
        """Antisymmetric square: what needs two independent copies (the cross product, for example)."""
        return self._square(a, -1)

    def sym_power_chars(self, source: Mapping[Irrep, int], k: int, q: Quadrature) -> list[FloatArray]:
        """chi of Sym^0..Sym^k of ``source`` on the quadrature, by the power-sum (Newton) recursion."""
        zero = np.zeros_like(q.weights)
        # psums[j] = chi_source(g^j), the j-th power sum
        psums = {j: sum((m * self.character(i, self.power(q.points, j)) for i, m in source.items()), zero) for j in range(1, k + 1)}
        chis: list[FloatArray] = [np.ones_like(q.weights, dtype=float)]
        for n in range(1, k + 1):
            chis.append(sum((psums[j] * chis[n - j] for j in range(1, n + 1)), zero) / n)
        return chis

    def sym_power(self, source: Mapping[Irrep, int], k: int, max_freq: int) -> Counter[Irrep]:
        top = max((i.freq for i in source), default=0) * k + max_freq
        q = self.quadrature(top + 2)
        chi = self.sym_power_chars(source, k, q)[k]
        out: Counter[Irrep] = Counter()
        for irrep in self._candidates(max_freq):
            mult = float(np.sum(q.weights * chi * self._chars(irrep, q))) / irrep.endo
            if round(mult):
                out[irrep] = int(round(mult))
        return out

    def __repr__(self) -> str:
        return f"<{self.label}>"
