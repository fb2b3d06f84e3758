"""Plain-data descriptions of the supported groups, for `eqdesign groups`."""

from __future__ import annotations

from typing import Any

from .group import Group
from .registry import KINDS, make_group, parse_group_string


def group_list() -> list[dict[str, str]]:
    return [{"name": k.name, "description": k.summary} for k in KINDS.values()]


def lookup_group(text: str, n: int | None, max_order: int = 512, order_option: str | None = None) -> Group | str:
    """The group named on the command line (``c8``, or ``cyclic`` with ``--n 8``), or why there is none.
    ``order_option``: the command's option for the order, if it has one (messages name no other)."""
    key = text.strip().lower()
    parsed = (key, None) if key in KINDS else parse_group_string(text)
    or_option = f" or {order_option}" if order_option else ""
    if parsed is None:
        return f"unknown group {text!r}; valid: {', '.join(KINDS)} (cyclic/dihedral: c8, d6{or_option})"
    name, order = parsed
    if not KINDS[name].needs_n:
        return f"group {name!r} takes no order; drop {order_option or 'the order'}" if n is not None else make_group(name, None)
    if order is not None and n is not None and order != n:
        return f"{text!r} already names the order {order}; drop {order_option or 'the order'} {n}"
    order = order if order is not None else n
    if order is None:
        return f"group {name!r} needs its order: {name[0]}8" + (f", or {name} {order_option} 8" if order_option else "")
    if not 1 <= order <= max_order:
        return f"the order of {name} must be from 1 to {max_order} (got {order})"
    return make_group(name, order)


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
        "parity_fields": g.parity_examples(),
    }
