"""The irreps notation: parsing, aliases, and errors that point at the bad token."""

from __future__ import annotations

import pytest

from eqdesign.theory.irreps import format_content
from eqdesign.theory.notation import NotationError, parse
from eqdesign.theory.registry import make_group


@pytest.mark.parametrize(
    "group, n, text, expected, dim",
    [
        ("so3", None, "1x vector + 1x 0", "1x0 + 1x1", 4),
        ("so3", None, "1 + 1 + 2", "2x1 + 1x2", 11),
        ("o3", None, "2x0e + 1x1o", "2x0e + 1x1o", 5),
        ("o3", None, "vector", "1x1o", 3),
        ("cyclic", 8, "1x2 + 3x scalar", "3x0 + 1x2", 5),
        ("dihedral", 6, "0- + 3 + 3-", "1x0- + 1x3 + 1x3-", 3),
        ("octa", None, "T1 + 2xE", "1xT1 + 2xE", 7),
        ("full_ico", None, "vector + Ag", "1xAg + 1xT1u", 4),
        ("cylinder", None, "vector", "1x0o + 1x1o", 3),
        ("full_cylinder", None, "vector", "1x0-o + 1x1o", 3),
    ],
)
def test_parse_resolves_irreps_and_aliases(group, n, text, expected, dim):
    g = make_group(group, n)
    terms = parse(g, text)
    assert not isinstance(terms, NotationError)
    from collections import Counter

    content = Counter()
    for t in terms:
        for i in t.field.irreps:
            content[i] += t.mult
    assert format_content(content) == expected
    assert sum(t.mult * t.field.dim for t in terms) == dim


@pytest.mark.parametrize(
    "group, text, offset, fragment",
    [
        ("so3", "1x1o", 2, "'1o' is not an irrep of SO(3)"),
        ("so3", "1x0 + 2xfoo", 8, "'foo'"),
        ("o3", "1x1", 2, "'1' is not an irrep of O(3)"),
        ("so3", "1x0 + + 1x1", 6, "empty term"),
        ("so3", "1x0 + 2 x", 6, "cannot read"),
        ("so3", "0x1", 0, "multiplicity 0"),
        ("so3", "   ", 0, "empty"),
    ],
)
def test_parse_errors_point_at_the_token(group, text, offset, fragment):
    err = parse(make_group(group), text)
    assert isinstance(err, NotationError)
    assert err.offset == offset
    assert fragment in err.message
    assert err.hint


def test_unknown_irrep_hint_suggests_the_closest_name():
    err = parse(make_group("o3"), "1x1p")
    assert isinstance(err, NotationError)
    assert "did you mean" in err.hint and "'1o'" in err.hint
