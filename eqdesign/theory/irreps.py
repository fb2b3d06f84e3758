"""Irreducible representations and multiplicity contents, independent of any group implementation.

An irrep is a plain value: the group it belongs to, escnn's id for it, one canonical name, its real dimension,
its type (real, complex or quaternionic) and the frequency used for band-limiting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

#: Free parameters of one Schur block, by irrep type: dim End_G(psi).
ENDOMORPHISM_DIM = {"R": 1, "C": 2, "H": 4}
TYPE_NAMES = {"R": "real", "C": "complex", "H": "quaternionic"}

#: escnn's id of an irrep: integers, nested for product groups, e.g. ``(1,)``, ``(0, 2)`` or ``((1,), (0, 2), 0)``.
EscnnId: TypeAlias = tuple["int | EscnnId", ...]


@dataclass(frozen=True)
class Irrep:
    group: str
    eid: EscnnId = field(compare=True)
    name: str = field(compare=False)
    dim: int = field(compare=False)
    kind: str = field(compare=False, default="R")
    freq: int = field(compare=False, default=0)

    @property
    def endo(self) -> int:
        """Number of free parameters of one Schur block between two copies of this irrep."""
        return ENDOMORPHISM_DIM[self.kind]

    @property
    def type_name(self) -> str:
        return TYPE_NAMES[self.kind]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Irrep({self.group}:{self.name})"


Content: TypeAlias = Counter[Irrep]  # how many copies of each irrep a representation holds


def id_pair(eid: EscnnId) -> tuple[int, int]:
    """The two integers of a flat ``(j, k)`` id, as the O(2), O(3) and dihedral irreps have."""
    j, k = eid
    if not isinstance(j, int) or not isinstance(k, int):
        raise TypeError(f"expected an id of two integers, got {eid!r}")
    return j, k


def content(pairs: Iterable[tuple[Irrep, int]] | Mapping[Irrep, int]) -> Counter[Irrep]:
    """Build a multiplicity Counter, dropping zero entries."""
    items = pairs.items() if isinstance(pairs, Mapping) else pairs
    out: Counter[Irrep] = Counter()
    for irrep, mult in items:
        if mult:
            out[irrep] += mult
    return out


def sort_key(irrep: Irrep) -> tuple[int, str]:
    return (irrep.freq, repr(irrep.eid))


def sorted_irreps(irreps: Iterable[Irrep]) -> list[Irrep]:
    return sorted(set(irreps), key=sort_key)


def dimension(c: Mapping[Irrep, int]) -> int:
    return sum(irrep.dim * mult for irrep, mult in c.items())


def format_content(c: Mapping[Irrep, int]) -> str:
    """e3nn-style string, e.g. ``2x0e + 1x1o``; ``0`` for the zero representation."""
    parts = [f"{c[i]}x{i.name}" for i in sorted_irreps(c) if c[i]]
    return " + ".join(parts) if parts else "0"
