"""Every group eqdesign supports, by spec name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .circle import O2, SO2
from .finite import Cyclic, Dihedral, Ico, Octa
from .group import Group
from .product import cylinder, full_cylinder, full_ico, full_octa
from .spherical import O3, SO3


@dataclass(frozen=True)
class GroupKind:
    name: str
    summary: str
    make: Callable[..., Group]
    needs_n: bool = False


KINDS: dict[str, GroupKind] = {
    k.name: k
    for k in [
        GroupKind("so2", "planar rotations", SO2),
        GroupKind("o2", "planar rotations and reflections", O2),
        GroupKind("so3", "3D rotations", SO3),
        GroupKind("o3", "3D rotations and inversion", O3),
        GroupKind("cyclic", "N planar rotations, C_N (needs n)", Cyclic, True),
        GroupKind("dihedral", "N rotations and N reflections, D_N (needs n)", Dihedral, True),
        GroupKind("ico", "rotations of the icosahedron (60)", Ico),
        GroupKind("octa", "rotations of the octahedron (24)", Octa),
        GroupKind("full_ico", "icosahedron with inversion (120)", full_ico),
        GroupKind("full_octa", "octahedron with inversion (48)", full_octa),
        GroupKind("cylinder", "SO(2) about z, times the inversion", cylinder),
        GroupKind("full_cylinder", "O(2) about z (reflection = half-turn about x), times the inversion", full_cylinder),
    ]
}

_CACHE: dict[tuple[str, int | None], Group] = {}


def make_group(name: str, n: int | None = None) -> Group:
    """The group object for a spec's ``group`` entry. Callers validate ``name`` and ``n`` first."""
    key = (name, n if KINDS[name].needs_n else None)
    if key not in _CACHE:
        kind = KINDS[name]
        _CACHE[key] = kind.make(n) if kind.needs_n else kind.make()
    return _CACHE[key]


def parse_group_string(text: str) -> tuple[str, int | None] | None:
    """``so3`` -> (so3, None); ``c8``/``cyclic8`` -> (cyclic, 8); ``d6``/``dihedral6`` -> (dihedral, 6)."""
    text = text.strip().lower()
    if text in KINDS and not KINDS[text].needs_n:
        return text, None
    for prefix, kind in (("cyclic", "cyclic"), ("dihedral", "dihedral"), ("c", "cyclic"), ("d", "dihedral")):
        rest = text[len(prefix) :]
        if text.startswith(prefix) and rest.isascii() and rest.isdigit() and len(rest) <= 6:
            return kind, int(rest)
    return None
