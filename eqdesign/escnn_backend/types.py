"""Field types: the escnn representation of every field of a design."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ..analysis.design import Design, FieldType
from ..theory.group import Group
from ..theory.irreps import EscnnId, Irrep
from ..theory.notation import Field
from .compat import egroup, quiet


def design_irreps(design: Design) -> set[Irrep]:
    """Every irrep that occurs anywhere in the design."""
    out: set[Irrep] = set()
    for t in _field_types(design):
        out |= set(t.content())
    for nl in design.hidden:
        out |= set(nl.channel)
    return out


def _field_types(design: Design) -> list[FieldType]:
    types = [design.input, design.output]
    for nl in design.hidden:
        types += [nl.in_type, nl.out_type]
    return types


def escnn_group(group: Group, max_freq: int = 2) -> Any:
    """The escnn group object (a process-wide singleton in escnn) for one of our groups."""
    factory = getattr(egroup, group.escnn_factory)
    with quiet():
        if group.finite:
            return factory(*group.escnn_args)
        return factory(max(max_freq, 1))


def standard_representation(G: Any) -> Any:
    """escnn's standard representation where the group has one (a method on some groups, a property on others)."""
    sr = getattr(type(G), "standard_representation", None)
    if sr is None:
        return None
    try:
        rep = G.standard_representation
        # a Representation is callable too (on group elements): call only the method form
        return rep if isinstance(rep, egroup.Representation) else rep()
    except (NotImplementedError, AttributeError, TypeError):
        return None


def field_representation(G: Any, f: Field) -> Any:
    """The escnn representation of one field: an irrep, the standard representation, or a direct sum."""
    eids = [tuple(i.eid) for i in f.irreps]
    if f.basis and f.cartesian is None:  # a named representation in natural coordinates: the vector, or SO(3)'s pseudovector
        std = standard_representation(G) or _product_vector(G, eids)
        if std is not None and sorted(map(repr, std.irreps)) == sorted(map(repr, eids)):
            return std
    if len(eids) == 1:
        return G.irrep(*eids[0])
    return egroup.directsum([G.irrep(*e) for e in eids])


def _product_vector(G: Any, eids: list[EscnnId]) -> Any:
    """full_ico/full_octa (C2 x polyhedral): the vector in xyz coordinates, i.e. the irrep (-1) x T1 in the
    basis of the polyhedral group's standard representation (escnn has no standard representation here)."""
    inner_group = getattr(G, "G2", None)
    inner = standard_representation(inner_group) if inner_group is not None else None
    if inner is None or len(eids) != 1 or len(inner.irreps) != 1 or eids[0][1] != tuple(inner.irreps[0]):
        return None
    irrep = G.irrep(*eids[0])
    # escnn's change_basis allows no nonlinearity unless told; the change of basis is orthogonal, so norm
    # and gated nonlinearities stay equivariant on the vector
    allowed = sorted({"norm", "gated"} & set(irrep.supported_nonlinearities))
    return egroup.change_basis(irrep, inner.change_of_basis, "eqdesign_vector", supported_nonlinearities=allowed)


def escnn_type(gspace: Any, t: FieldType) -> Any:
    G = gspace.fibergroup
    reps = [field_representation(G, f) for f, m in t.entries for _ in range(m)]
    return gspace.type(*reps) if reps else gspace.type()


def rep_content(reps: Iterable[Any]) -> Counter[EscnnId]:
    """Irrep-id content of a list of escnn representations."""
    c: Counter[EscnnId] = Counter()
    for r in reps:
        for i in r.irreps:
            c[tuple(i)] += 1
    return c


def eid_content(c: Mapping[Irrep, int]) -> Counter[EscnnId]:
    return Counter({tuple(i.eid): m for i, m in c.items() if m})
