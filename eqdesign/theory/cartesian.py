"""Cartesian tensor fields: a rank-k tensor of 3-D vectors, with an index symmetry, as the user holds it.

A field such as ``sym_matrix`` (``cartesian(ij=ji)``) is given and returned as all 3^k components in row-major
order, exactly what ``T.reshape(-1, 3**k)`` gives. The symmetry formula follows e3nn's notation: index
orderings joined by ``=``, a ``-`` before one for antisymmetry (``ij=-ji``, ``ijk=jik=ikj``). The orderings
generate a group of signed index permutations; the tensors they leave unchanged form the field's space, the
image of the projector Pi = mean(sign * P_sigma). Its irreps follow from characters alone: the trace of
P_sigma R^(x k) is the product, over the cycles of sigma, of tr(R^len), so no 3^k matrix is ever formed here.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from .group import FloatArray, Group
from .irreps import Irrep
from .spherical import SO3

#: the highest rank a formula may have (81 components)
MAX_RANK = 4
#: named rank-2 fields: their formula, and whether the trace is removed
NAMED: dict[str, tuple[str, bool]] = {
    "matrix": ("ij", False),
    "sym_matrix": ("ij=ji", False),
    "traceless_sym_matrix": ("ij=ji", True),
    "antisym_matrix": ("ij=-ji", False),
}
GROUPS = ("so3", "o3")
_FORMULA = re.compile(r"^cartesian\((?P<formula>[^()]*)\)$")

#: a signed permutation of tensor indices: (sign, sigma) with (P_sigma T)[i_1..i_k] = T[i_sigma(1)..i_sigma(k)]
Signed = tuple[int, tuple[int, ...]]


@dataclass(frozen=True)
class Cartesian:
    """A Cartesian tensor field: its rank, the signed index permutations that fix it, whether its trace is
    removed, and its irreps (each (irrep, parity under x -> -x), in order of degree)."""

    formula: str
    rank: int
    symmetries: tuple[Signed, ...]
    traceless: bool
    irreps: tuple[Irrep, ...]
    parity: tuple[int, ...]

    @property
    def width(self) -> int:
        return int(3**self.rank)

    @property
    def basis(self) -> str:
        """How layout.json and the reports name the components."""
        shape = "x".join("3" * self.rank)
        return f"cartesian {self.formula}{', traceless' if self.traceless else ''}: {shape} row-major (T.reshape(-1, {self.width}))"


def is_cartesian_name(name: str) -> bool:
    return name in NAMED or name.startswith("cartesian(")


def parse_cartesian(group: Group, name: str) -> Cartesian | str:
    """The field a Cartesian name stands for on ``group``, or why it cannot be one."""
    if group.key not in GROUPS:
        return f"Cartesian tensor fields are defined for SO(3) and O(3), not {group.label}"
    formula, traceless = NAMED.get(name, ("", False))
    if not formula:
        match = _FORMULA.match(name)
        if match is None:
            return f"cannot read {name!r} as cartesian(FORMULA), e.g. cartesian(ij=ji)"
        formula = match.group("formula").replace(" ", "")
    symmetries = _symmetries(formula)
    if isinstance(symmetries, str):
        return symmetries
    rank = len(symmetries[0][1])
    counts = _decomposition(rank, symmetries, traceless)
    if not counts:
        return f"the index symmetry {formula} leaves no tensor but zero (a permutation would equal its own negative)"
    return _field(group, formula, rank, symmetries, traceless, counts)


def _field(group: Group, formula: str, rank: int, symmetries: tuple[Signed, ...], traceless: bool, counts: Counter[int]) -> Cartesian:
    """SO(3): plain degrees, each with the declared parity (-1)^rank (a tensor of polar vectors); O(3): the
    irreps of that parity."""
    sign = -1 if rank % 2 else 1
    irreps = tuple(_irrep(group, l, rank) for l in sorted(counts) for _ in range(counts[l]))
    parity = (sign,) * len(irreps) if group.key == "so3" else ()  # O(3)'s irreps carry their parity
    return Cartesian(formula, rank, symmetries, traceless, irreps, parity)


def _irrep(group: Group, l: int, rank: int) -> Irrep:
    name = str(l) if group.key == "so3" else f"{l}{'o' if rank % 2 else 'e'}"
    irrep = group.irrep_by_name(name)
    assert irrep is not None
    return irrep


def _symmetries(formula: str) -> tuple[Signed, ...] | str:
    """The group of signed permutations the formula's orderings generate (the identity first)."""
    parts = formula.split("=")
    first = parts[0]
    if not re.fullmatch(f"[a-z]{{1,{MAX_RANK}}}", first) or len(set(first)) != len(first):
        return f"{formula!r}: the first ordering must be 1 to {MAX_RANK} distinct lower-case index letters, as in ij=ji"
    generators: list[Signed] = []
    for part in parts[1:]:
        sign, letters = (-1, part[1:]) if part.startswith("-") else (1, part)
        if sorted(letters) != sorted(first):
            return f"{formula!r}: {part!r} is not an ordering of the indices {first!r}"
        generators.append((sign, tuple(first.index(c) for c in letters)))
    return _closure(len(first), generators)


def _closure(rank: int, generators: list[Signed]) -> tuple[Signed, ...]:
    identity: Signed = (1, tuple(range(rank)))
    found = {identity}
    frontier = [identity]
    while frontier:
        s, p = frontier.pop()
        for t, q in generators:
            new = (s * t, tuple(p[i] for i in q))
            if new not in found:
                found.add(new)
                frontier.append(new)
    return (identity, *sorted(found - {identity}))


def _cycles(sigma: tuple[int, ...]) -> list[int]:
    seen, lengths = set(), []
    for start in range(len(sigma)):
        length, i = 0, start
        while i not in seen:
            seen.add(i)
            i, length = sigma[i], length + 1
        if length:
            lengths.append(length)
    return lengths


def _rotation_trace(theta: FloatArray, power: int) -> FloatArray:
    """tr(R^power) for a rotation by theta."""
    out: FloatArray = 1 + 2 * np.cos(power * theta)
    return out


def _decomposition(rank: int, symmetries: tuple[Signed, ...], traceless: bool) -> Counter[int]:
    """Multiplicity of each degree l in the field's space, by the character inner product over SO(3)."""
    so3 = SO3()
    q = so3.quadrature(2 * rank + 2)
    theta = q.points
    chi = sum(s * math.prod((_rotation_trace(theta, c) for c in _cycles(p)), start=np.ones_like(theta)) for s, p in symmetries) / len(
        symmetries
    )
    counts: Counter[int] = Counter()
    for l in range(rank + 1):
        m = round(float(np.sum(q.weights * chi * so3.character(so3.irreps(l)[l], theta))))  # an integer, up to rounding
        if m:
            counts[l] = m
    if traceless and counts[0]:
        counts[0] -= 1
    return +counts
