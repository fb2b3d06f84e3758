"""The JSON Schema editors validate specs with (``eqdesign schema``, eqdesign/schema/spec-v1.json).

The pydantic models give the shape of the language; `check` refuses more than that shape says: group names
and orders, the grids each group's Fourier layers can sample, a grid's keys by its type, band limits on
continuous groups, ``degree`` only on polynomial layers, finite numbers. What JSON Schema can say of these is
added here, derived from the same tables `check` reads (theory.registry, each group's grid types), so that
the schema is as strict as it can be without refusing a spec `check` accepts (tests/test_editor_schema.py
validates every spec of the repository in that direction). What it cannot say stays with `check`: irreps
notation, duplicate keys, NaN, reachability.
"""

from __future__ import annotations

import sys
from typing import Any

from ..theory.group import GridKind, Group
from ..theory.registry import KINDS, make_group
from .model import MAX_ORDER, ORDERED_GROUPS, Spec

#: what str.strip() removes and JSON Schema's \s (ECMA-262) may not: the file separators and NEL
_WS = r"[\s\x1c-\x1f\x85]*"
#: a plain decimal number, as spec.model.float_literal reads a string where a float is wanted, that is
#: positive (every float of the language is): no minus sign, a non-zero digit before any exponent
_FLOAT_STRING = r"^" + _WS + r"\+?(?=[0-9.]*[1-9])([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?" + _WS + r"$"
_FOURIER = ("fourier_elu", "fourier_relu", "fourier_poly")
_QUOTIENT = ("quotient_fourier_elu", "quotient_fourier_relu", "quotient_fourier_poly")
_NULL: dict[str, Any] = {"type": "null"}


def editor_schema() -> dict[str, Any]:
    schema = Spec.model_json_schema()
    defs = schema["$defs"]
    schema["properties"]["group"]["anyOf"][0]["pattern"] = group_pattern()
    defs["GroupSpec"]["allOf"] = [_order_only_where_needed()]
    _finite_floats(defs["Tests"]["properties"])
    for layer, poly in (("FourierLayer", "fourier_poly"), ("QuotientLayer", "quotient_fourier_poly")):
        defs[layer]["allOf"] = [{"if": {"properties": {"nonlinearity": {"const": poly}}}, "else": {"properties": {"degree": _NULL}}}]
    schema["allOf"] = [_group_rules(name, make_group(name)) for name, kind in KINDS.items() if not kind.needs_n]
    schema["allOf"] = [rule for rule in schema["allOf"] if rule]
    return schema


# -- groups --------------------------------------------------------------------------------------------


def _any_case(word: str) -> str:
    """A regex for ``word`` in any case (JSON Schema patterns take no flags); the names are [a-z0-9_]."""
    return "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in word)


def at_most(n: int) -> str:
    """A regex for the integers 1..n, written without leading zeros."""
    digits = str(n)
    alternatives = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, d in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(d) > low:
            rest = len(digits) - i - 1
            alternatives.append(digits[:i] + f"[{low}-{int(d) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    return "(?:" + "|".join([*alternatives, digits]) + ")"


def _ordered_pattern() -> str:
    """``c8``, ``cyclic8``, ``D006`` ...: a prefix, then 1 to 6 ASCII digits whose value is 1..MAX_ORDER."""
    prefixes = [_any_case(p) for name in ORDERED_GROUPS for p in (name, name[0])]
    return f"(?:{'|'.join(prefixes)})(?=[0-9]{{1,6}}{_WS}$)0*{at_most(MAX_ORDER)}"


def group_pattern() -> str:
    """Every string `check` reads as a group (theory.registry.parse_group_string and the order's range)."""
    names = [_any_case(name) for name, kind in KINDS.items() if not kind.needs_n]
    return f"^{_WS}(?:{'|'.join(names)}|{_ordered_pattern()}){_WS}$"


def _is_group(name: str) -> dict[str, Any]:
    """Holds where the spec's group is ``name`` (an unordered group), written as a string or a mapping."""
    return {
        "anyOf": [
            {"type": "string", "pattern": f"^{_WS}{_any_case(name)}{_WS}$"},
            {"type": "object", "properties": {"name": {"const": name}}, "required": ["name"]},
        ]
    }


def _order_only_where_needed() -> dict[str, Any]:
    ordered = {"properties": {"name": {"enum": list(ORDERED_GROUPS)}}}
    return {"if": ordered, "then": {"required": ["n"], "properties": {"n": {"type": "integer"}}}, "else": {"properties": {"n": _NULL}}}


def _finite_floats(tests: dict[str, Any]) -> None:
    """Floats are finite (``.inf`` is refused), and a string that spells a number is read as that number."""
    for holder, key in ((tests, "tolerance"), (tests["scales"], "items")):
        number = {k: v for k, v in holder[key].items() if k not in ("default", "title")}
        number.setdefault("maximum", sys.float_info.max)
        kept = {k: v for k, v in holder[key].items() if k in ("default", "title")}
        holder[key] = {**kept, "anyOf": [number, {"type": "string", "pattern": _FLOAT_STRING}]}


# -- Fourier layers, by group ----------------------------------------------------------------------------


def _group_rules(name: str, g: Group) -> dict[str, Any]:
    """What `check` refuses in the hidden layers of a spec on a continuous group (finite groups sample all
    their elements and ignore the grid)."""
    if g.finite:
        return {}
    rules = [_when(_FOURIER, _fourier(g)), _when(_QUOTIENT, _quotient(g))]
    return {
        "if": {"properties": {"group": _is_group(name)}, "required": ["group"]},
        "then": {"properties": {"hidden": {"items": {"allOf": rules}}}},
    }


def _when(nonlinearities: tuple[str, ...], then: dict[str, Any] | bool) -> dict[str, Any]:
    return {"if": {"properties": {"nonlinearity": {"enum": list(nonlinearities)}}, "required": ["nonlinearity"]}, "then": then}


def _fourier(g: Group) -> dict[str, Any] | bool:
    types = g.grid_types()
    if not types:
        return False  # "Fourier layers on G are not supported yet"
    grid = _grid(types, g.quadrature_space(None) is not None)
    return {"required": ["band_limit"], "properties": {"band_limit": {"type": "integer"}, "grid": grid}}


def _quotient(g: Group) -> dict[str, Any] | bool:
    quotients = list(g.quotients())
    if not quotients:
        return False  # "G has no quotient representation here"
    rules: list[dict[str, Any]] = [{"properties": {"quotient": {"enum": [*quotients, None]}}}]
    for i, q in enumerate(quotients):
        types = g.quotient_grid_types(q)
        then: dict[str, Any] | bool = {"properties": {"grid": _grid(types, g.quadrature_space(q) is not None)}} if types else False
        # the first quotient is the default: no quotient key, or quotient: null, means it
        chosen = (
            {"properties": {"quotient": {"enum": [q, None]}}}
            if i == 0
            else {"properties": {"quotient": {"const": q}}, "required": ["quotient"]}
        )
        rules.append({"if": chosen, "then": then})
    return {"allOf": rules}


def _grid(types: dict[str, GridKind], quadrature: bool) -> dict[str, Any]:
    """A grid mapping's type, and the keys that type takes (analysis.resolve: _grid, _grid_keys, _grid_n)."""
    only = {"auto": "max_points", "quadrature": "degree"}
    rules: list[dict[str, Any]] = [_grid_type("auto", only="max_points")]
    if quadrature:
        rules.append(_grid_type("quadrature", only="degree", required=True))
    for name, kind in types.items():
        n: dict[str, Any] = {"type": "integer", "minimum": max(1, kind.min_n)} if kind.takes_n else _NULL
        rules.append(_grid_type(name, only="n", required=kind.takes_n, value=n))
    allowed = [t for t in only if t != "quadrature" or quadrature] + list(types)
    return {"if": {"type": "object"}, "then": {"properties": {"type": {"enum": allowed}}, "allOf": rules}}


def _grid_type(name: str, *, only: str, required: bool = False, value: dict[str, Any] | None = None) -> dict[str, Any]:
    """Grid type ``name`` takes the key ``only`` (required or not), and none of the other two."""
    others = {key: _NULL for key in ("n", "degree", "max_points") if key != only}
    if value is not None:
        others[only] = value
    then: dict[str, Any] = {"properties": others}
    if required:
        then["required"] = [only]
        then["properties"].setdefault(only, {"type": "integer"})
    return {"if": {"properties": {"type": {"const": name}}}, "then": then}
