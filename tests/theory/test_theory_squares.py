"""Internal consistency of the character calculus of eqdesign.theory, for every supported group (pure numpy).

* the quadratures integrate products of characters exactly (orthonormality with the Schur factor e);
* tensor products have the right dimension and are symmetric;
* sym2 + alt2 == tensor(a, a), dim sym2 = d(d+1)/2, dim alt2 = d(d-1)/2, and sym_power agrees with sym2;
* closed forms: SO(3) sym2(l) = {0, 2, ..., 2l}, alt2(l) = {1, 3, ..., 2l-1}; SO(2) k x k = 2x0 + 2k;
  regular and quotient contents have the expected dimensions.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from groups_under_test import GROUPS  # noqa: E402

from eqdesign.theory.irreps import dimension
from eqdesign.theory.registry import make_group

MAX_FREQ = 4


def _gid(p):
    name, n = p
    return f"{name}{n}" if n else name


def irreps_of(G):
    return G.irreps(None if G.finite else MAX_FREQ)


def names(c: Counter) -> dict:
    return {i.name: m for i, m in sorted(c.items(), key=lambda x: (x[0].freq, repr(x[0].eid)))}


@pytest.mark.parametrize("gp", GROUPS, ids=_gid)
def test_quadrature_orthonormality(gp):
    G = make_group(*gp)
    irreps = irreps_of(G)
    for a in irreps:
        for b in irreps:
            q = G.quadrature(a.freq + b.freq)
            assert np.isclose(np.sum(q.weights), 1.0)
            inner = float(np.sum(q.weights * G.character(a, q.points) * G.character(b, q.points)))
            want = a.endo if a == b else 0
            assert abs(inner - want) < 1e-9, f"{G.label}: <chi_{a.name}, chi_{b.name}> = {inner}, expected {want}"
        q = G.quadrature(0)
        assert np.allclose(G.character(a, G.power(q.points, 0)), a.dim), f"{G.label}: g^0 is not the identity"
        assert np.allclose(G.character(a, G.power(q.points, 1)), G.character(a, q.points))


@pytest.mark.parametrize("gp", GROUPS, ids=_gid)
def test_tensor_dimensions_and_symmetry(gp):
    G = make_group(*gp)
    irreps = irreps_of(G)
    for a in irreps:
        for b in irreps:
            t = G.tensor(a, b)
            assert all(m > 0 for m in t.values())
            assert dimension(t) == a.dim * b.dim, f"{G.label}: dim {a.name} x {b.name} = {dimension(t)}, {names(t)}"
            assert t == G.tensor(b, a)
            if a == G.trivial:
                assert t == Counter({b: 1})


@pytest.mark.parametrize("gp", GROUPS, ids=_gid)
def test_sym2_plus_alt2_is_the_tensor_square(gp):
    G = make_group(*gp)
    for a in irreps_of(G):
        s, w, t = G.sym2(a), G.alt2(a), G.tensor(a, a)
        d = a.dim
        assert s + w == t, f"{G.label} {a.name}: sym2 {names(s)} + alt2 {names(w)} != tensor {names(t)}"
        assert dimension(s) == d * (d + 1) // 2, f"{G.label}: dim sym2({a.name}) = {dimension(s)}, {names(s)}"
        assert dimension(w) == d * (d - 1) // 2, f"{G.label}: dim alt2({a.name}) = {dimension(w)}, {names(w)}"
        assert s[G.trivial] == 1, f"{G.label}: sym2({a.name}) must hold the invariant norm once (real irreps)"
        assert G.sym_power(Counter({a: 1}), 2, 2 * a.freq) == s
        assert G.sym_power(Counter({a: 1}), 1, a.freq) == Counter({a: 1})
        assert G.sym_power(Counter({a: 1}), 0, 0) == Counter({G.trivial: 1})


def test_so3_closed_forms():
    G = make_group("so3")
    for l in range(MAX_FREQ + 1):
        a = G.irrep_by_name(str(l))
        assert names(G.sym2(a)) == {str(L): 1 for L in range(0, 2 * l + 1, 2)}
        assert names(G.alt2(a)) == {str(L): 1 for L in range(1, 2 * l, 2)}
        for m in range(MAX_FREQ + 1):
            b = G.irrep_by_name(str(m))
            assert names(G.tensor(a, b)) == {str(L): 1 for L in range(abs(l - m), l + m + 1)}


def test_o3_parities():
    G = make_group("o3")
    for a in G.irreps(MAX_FREQ):
        for b in G.irreps(MAX_FREQ):
            (ja, la), (jb, lb) = a.eid, b.eid
            want = {(((ja + jb) % 2), L): 1 for L in range(abs(la - lb), la + lb + 1)}
            assert {i.eid: m for i, m in G.tensor(a, b).items()} == want
        # inversion acts by (+1) on both halves of a x a
        assert all(i.eid[0] == 0 for i in G.sym2(a)) and all(i.eid[0] == 0 for i in G.alt2(a))


def test_so2_and_cyclic_closed_forms():
    G = make_group("so2")
    for k in range(1, MAX_FREQ + 1):
        a = G.irrep_by_name(str(k))
        assert names(G.tensor(a, a)) == {"0": 2, str(2 * k): 1}
        assert names(G.sym2(a)) == {"0": 1, str(2 * k): 1}
        assert names(G.alt2(a)) == {"0": 1}
        for m in range(1, k):
            b = G.irrep_by_name(str(m))
            assert names(G.tensor(a, b)) == {str(k - m): 1, str(k + m): 1}
    C = make_group("cyclic", 8)
    one, three = C.irrep_by_name("1"), C.irrep_by_name("3")
    assert names(C.tensor(three, three)) == {"0": 2, "2": 1}  # 6 = -2 mod 8
    assert names(C.tensor(one, three)) == {"2": 1, "4": 2}  # 4 and -4 mod 8 are the sign irrep, twice


@pytest.mark.parametrize("gp", GROUPS, ids=_gid)
def test_regular_content(gp):
    G = make_group(*gp)
    if G.finite:  # |G| = sum of d^2 / e over the real irreps
        assert dimension(G.regular(None)) == G.order
    for L in range(MAX_FREQ + 1):
        reg = G.regular(L)
        assert set(reg) == set(G.irreps(L)) and all(reg[i] == i.dim // i.endo for i in reg)


def _subgroup_average(G, points, weights, irrep) -> float:
    return float(np.sum(np.asarray(weights) * G.character(irrep, points)))


def test_quotient_contents_by_subgroup_characters():
    """dim of the K-fixed space = Haar average of chi over K, computed from the theory's characters."""
    m = 64
    theta = 2 * np.pi * np.arange(m) / m
    so2_avg = np.full(m, 1.0 / m)
    cases = {
        # SO(3)/SO(2): rotations about one axis
        ("so3", "sphere"): (theta, so2_avg),
        # O(3)/O(2) ("cone"): rotations about the axis and the mirrors through it (inversion x half-turn)
        ("o3", "sphere"): (
            (np.concatenate([np.zeros(m), np.ones(m)]), np.concatenate([theta, np.full(m, np.pi)])),
            np.concatenate([so2_avg, so2_avg]) / 2,
        ),
        # O(2)/{1, reflection}
        ("o2", "circle"): ((np.array([0.0, 1.0]), np.array([0.0, 0.0])), np.array([0.5, 0.5])),
    }
    for (gname, qname), (points, weights) in cases.items():
        G = make_group(gname)
        assert set(G.quotients()) == {qname}
        for L in range(MAX_FREQ + 1):
            qc = G.quotient(qname, L)
            for i in G.irreps(L):
                fixed = _subgroup_average(G, points, weights, i)
                assert abs(fixed - round(fixed)) < 1e-9
                assert qc.get(i, 0) == round(fixed) // i.endo, f"{G.label}/{qname}: {i.name} fixed dim {fixed}, content {qc.get(i, 0)}"
