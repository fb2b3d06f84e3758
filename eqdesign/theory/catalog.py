"""Plain-data descriptions of the supported groups, for `eqdesign groups`."""

from __future__ import annotations

from typing import Any

from .group import Group
from .registry import KINDS, make_group, parse_group_string


def group_list() -> list[dict[str, str]]:
    return [{"name": k.name, "description": k.summary} for k in KINDS.values()]


def lookup_group(text: str, n: int | None) -> Group | str:
    """The group named on the command line, or a message saying why there is none."""
    parsed = parse_group_string(text)
    if parsed is None:
        return f"unknown group {text!r}; valid: {', '.join(KINDS)} (cyclic/dihedral: c8, d6 or --n)"
    name, parsed_n = parsed
    if parsed_n is None and KINDS[name].needs_n:
        if not n or n < 1:
            return f"group {name!r} needs its order: {name}{8} or --n 8"
        parsed_n = n
    return make_group(name, parsed_n)


def describe_group(g: Group, max_freq: int) -> dict[str, Any]:
    vector = g.vector
    return {
        "name": g.key,
        "label": g.label,
        "finite": g.finite,
        "order": g.order,
        "irreps": [
            {"name": i.name, "escnn_id": repr(i.eid), "dim": i.dim, "type": i.type_name, "frequency": i.freq}
            for i in g.irreps(None if g.finite else max_freq)
        ],
        "vector": (" + ".join(i.name for i in vector.irreps) + f" ({vector.basis})") if vector else None,
        "quotients": sorted(g.quotients()),
    }
