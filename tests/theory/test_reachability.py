"""Ideal reachability (``Group.reachable``) against symmetric powers, for every supported group (pure numpy).

An output irrep c is reachable from an input V iff c occurs in Sym^k(V) for some k (THEORY.md). ``reachable``
is computed from the generic stabilizer instead, so the two must agree:

* soundness: c in Sym^k(V) for some k <= K  =>  reachable(c), on many small random inputs;
* completeness: reachable(c)  =>  c in Sym^k(V) for some k < |G| (finite groups, exact), or for some
  k <= K_LARGE (continuous groups, small inputs);
* the worked examples of THEORY.md, exactly.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter

import numpy as np
import pytest
from groups_under_test import GROUPS  # noqa: E402

from eqdesign.theory.irreps import dimension
from eqdesign.theory.registry import make_group


def _gid(p):
    name, n = p
    return f"{name}{n}" if n else name


FINITE = [p for p in GROUPS if make_group(*p).finite]
CONTINUOUS = [p for p in GROUPS if not make_group(*p).finite]

MAX_FREQ = 4  # outputs examined for the continuous groups
SOURCE_FREQ = 3  # random inputs of continuous groups use irreps up to this frequency
MAX_DIM = 8  # total input dimension of random inputs
K_SOUND = 6  # Sym^k, k <= K_SOUND, for soundness
K_LARGE = 16  # continuous completeness: the pseudoscalar of one 3o first appears in Sym^15


def outputs(G):
    return G.irreps(None if G.finite else MAX_FREQ)


def show(src) -> str:
    return " + ".join(f"{m}x{i.name}" for i, m in src.items())


def random_sources(G, count: int, seed: int) -> list[Counter]:
    """Small random irrep contents (total dim <= MAX_DIM), always including every single irrep."""
    pool = [i for i in G.irreps(None if G.finite else SOURCE_FREQ) if i.dim <= MAX_DIM]
    rng = np.random.default_rng(seed)
    sources = [Counter({i: 1}) for i in pool]
    while len(sources) < len(pool) + count:
        src: Counter = Counter()
        for _ in range(int(rng.integers(1, 4))):
            i = pool[int(rng.integers(len(pool)))]
            if dimension(src) + i.dim <= MAX_DIM:
                src[i] += 1
        if src:
            sources.append(src)
    return sources


def sym_multiplicities(G, src, K: int, cands) -> np.ndarray:
    """mult[k, c] of each candidate irrep c in Sym^k(src), k = 0..K, from one power-sum recursion."""
    top = max(i.freq for i in src) * K + max((c.freq for c in cands), default=0)
    q = G.quadrature(top + 2)
    chis = G.sym_power_chars(src, K, q)
    out = np.zeros((K + 1, len(cands)))
    for x, c in enumerate(cands):
        chi_c = G.character(c, q.points)
        for k in range(K + 1):
            out[k, x] = float(np.real(np.sum(q.weights * chis[k] * chi_c))) / c.endo
    return out


# -- soundness: anything a polynomial produces is reachable -------------------------------------------------
@pytest.mark.parametrize("gp", GROUPS, ids=_gid)
def test_sym_powers_are_reachable(gp):
    G = make_group(*gp)
    bad = []
    for src in random_sources(G, 40, seed=zlib.crc32(_gid(gp).encode())):
        ok = G.reachable(src)
        d = dimension(src)
        top = max(i.freq for i in src)
        for k in range(K_SOUND + 1):
            # Ask for every irrep that can occur, so the dimensions must add up to dim Sym^k.
            sym = G.sym_power(src, k, top * k if not G.finite else 0)
            assert all(m > 0 for m in sym.values()), f"{G.label} Sym^{k}({show(src)}) = {sym}"
            assert dimension(sym) == math.comb(d + k - 1, k), (
                f"{G.label}: dim Sym^{k}({show(src)}) = {dimension(sym)}, expected C({d}+{k}-1, {k})"
            )
            for c in sym:
                if not ok(c):
                    bad.append(f"{c.name} occurs {sym[c]}x in Sym^{k}({show(src)}) but reachable() says no")
    assert not bad, f"{G.label}:\n" + "\n".join(sorted(set(bad)))


# -- completeness -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gp", FINITE, ids=_gid)
def test_finite_reachable_irreps_occur_in_some_sym_power(gp):
    """Exact for finite groups: every reachable irrep occurs in Sym^k for some k < |G| (and no others)."""
    G = make_group(*gp)
    cands = outputs(G)
    bad = []
    for src in random_sources(G, 25, seed=1 + zlib.crc32(_gid(gp).encode())):
        ok = G.reachable(src)
        mult = sym_multiplicities(G, src, G.order - 1, cands)
        assert np.all(np.abs(mult - np.round(mult)) < 0.05), f"non-integral multiplicity in Sym^k({show(src)})"
        assert np.all(mult > -0.5), f"negative multiplicity in Sym^k({show(src)})"
        for x, c in enumerate(cands):
            occurs = bool(np.any(mult[:, x] > 0.5))
            if occurs != ok(c):
                first = int(np.argmax(mult[:, x] > 0.5)) if occurs else None
                bad.append(f"input {show(src)}, output {c.name}: reachable() = {ok(c)}, first Sym^k = {first}")
    assert not bad, f"{G.label}:\n" + "\n".join(bad)


def continuous_sources(G) -> list[Counter]:
    """Single irreps up to frequency 3, doubled ones and pairs up to frequency 2, and random ones (dim <= 8)."""
    small = [i for i in G.irreps(2) if i.dim <= 5]
    out = [Counter({i: 1}) for i in G.irreps(SOURCE_FREQ)]
    out += [Counter({i: 2}) for i in small] + [Counter({i: 3}) for i in G.irreps(2) if i.dim <= 2]
    out += [Counter({a: 1, b: 1}) for x, a in enumerate(small) for b in small[x + 1 :] if a.dim + b.dim <= 8]
    return out + random_sources(G, 40, seed=2 + zlib.crc32(G.key.encode()))


@pytest.mark.parametrize("gp", CONTINUOUS, ids=_gid)
def test_continuous_reachable_irreps_occur_in_some_sym_power(gp):
    G = make_group(*gp)
    cands = outputs(G)
    bad = []
    for src in continuous_sources(G):
        ok = G.reachable(src)
        mult = sym_multiplicities(G, src, K_LARGE, cands)
        for x, c in enumerate(cands):
            occurs = bool(np.any(mult[:, x] > 0.5))
            if occurs and not ok(c):
                bad.append(f"input {show(src)}, output {c.name}: in Sym^{int(np.argmax(mult[:, x] > 0.5))} but reachable() = False")
            if ok(c) and not occurs:
                bad.append(f"input {show(src)}, output {c.name}: reachable() = True but in no Sym^k, k <= {K_LARGE}")
    assert not bad, f"{G.label}:\n" + "\n".join(bad)


@pytest.mark.parametrize("gp", GROUPS, ids=_gid)
def test_sym_multiplicities_helper_agrees_with_sym_power(gp):
    G = make_group(*gp)
    cands = outputs(G)
    for src in random_sources(G, 5, seed=3)[:8]:
        mult = sym_multiplicities(G, src, 4, cands)
        for k in range(5):
            sym = G.sym_power(src, k, 0 if G.finite else MAX_FREQ)
            assert {c: int(round(mult[k, x])) for x, c in enumerate(cands) if round(mult[k, x])} == dict(sym)


# -- THEORY.md examples -------------------------------------------------------------------------------------
def reach_names(gp, src_names: dict[str, int], top: int = 6) -> set[str]:
    G = make_group(*gp)
    src = Counter({G.irrep_by_name(n): m for n, m in src_names.items()})
    ok = G.reachable(src)
    return {c.name for c in G.irreps(None if G.finite else top) if ok(c)}


def names_from_sym_powers(gp, src_names: dict[str, int], top: int = 6, K: int = K_LARGE) -> set[str]:
    G = make_group(*gp)
    src = Counter({G.irrep_by_name(n): m for n, m in src_names.items()})
    cands = G.irreps(None if G.finite else top)
    mult = sym_multiplicities(G, src, K, cands)
    return {c.name for x, c in enumerate(cands) if np.any(mult[:, x] > 0.5)}


SO3_ALL = {str(l) for l in range(7)}
O3_ALL = {f"{l}{p}" for l in range(7) for p in "eo"}
EXAMPLES = [
    # (group, input, expected reachable outputs up to frequency 6)
    (("so3", None), {"1": 1}, SO3_ALL),
    (("so3", None), {"2": 1}, SO3_ALL - {"1"}),
    (("so3", None), {"2": 2}, SO3_ALL),
    (("so3", None), {"1": 1, "2": 1}, SO3_ALL),
    (("so3", None), {"3": 1}, SO3_ALL),
    (("o3", None), {"1o": 1}, {"0e", "1o", "2e", "3o", "4e", "5o", "6e"}),
    (("o3", None), {"1o": 2}, O3_ALL - {"0o"}),
    (("o3", None), {"1o": 3}, O3_ALL),
    (("o3", None), {"1e": 1}, {f"{l}e" for l in range(7)}),
    (("o3", None), {"1o": 1, "1e": 1}, O3_ALL),
    (("o3", None), {"0o": 1, "1o": 1}, O3_ALL),
    (("o3", None), {"2o": 1}, O3_ALL - {"1e", "1o"}),
    (("cyclic", 8), {"2": 1}, {"0", "2", "4"}),
    (("cyclic", 8), {"1": 1}, {"0", "1", "2", "3", "4"}),
    (("cyclic", 8), {"4": 1}, {"0", "4"}),
    (("so2", None), {"2": 1}, {"0", "2", "4", "6"}),
    (("so2", None), {"2": 1, "3": 1}, {str(k) for k in range(7)}),
    (("so2", None), {"2": 1, "4": 1}, {"0", "2", "4", "6"}),
    (("o2", None), {"1": 1}, {str(k) for k in range(7)}),
    (("o2", None), {"1": 2}, {"0", "0-"} | {str(k) for k in range(1, 7)}),
    (("o2", None), {"0-": 1}, {"0", "0-"}),
]


def _example_id(ex):
    gp, src, _ = ex
    return f"{_gid(gp)}-" + "+".join(f"{m}x{n}" for n, m in src.items())


@pytest.mark.parametrize("ex", EXAMPLES, ids=_example_id)
def test_theory_examples(ex):
    gp, src, expected = ex
    got = reach_names(gp, src)
    G = make_group(*gp)
    assert got == expected, f"{G.label} from {src}: reachable {sorted(got)}, expected {sorted(expected)}"
    # and the symmetric powers reach exactly the same irreps
    assert names_from_sym_powers(gp, src) == expected


@pytest.mark.parametrize("gp", GROUPS, ids=_gid)
def test_scalars_reach_only_the_trivial_irrep(gp):
    G = make_group(*gp)
    for src in (Counter({G.trivial: 1}), Counter({G.trivial: 3}), Counter()):
        ok = G.reachable(src)
        assert [c.name for c in outputs(G) if ok(c)] == [G.trivial.name], f"{G.label} from {show(src) or 'nothing'}"


@pytest.mark.parametrize("gp", GROUPS, ids=_gid)
def test_vector_input(gp):
    """From the standard representation: whatever Sym^k reaches (it is faithful for all but the cylinders)."""
    G = make_group(*gp)
    if G.vector is None:
        pytest.skip("no vector")
    src = Counter(G.vector.irreps)
    ok = G.reachable(src)
    cands = outputs(G)
    K = G.order - 1 if G.finite else K_LARGE
    mult = sym_multiplicities(G, src, K, cands)
    for x, c in enumerate(cands):
        assert ok(c) == bool(np.any(mult[:, x] > 0.5)), f"{G.label} vector -> {c.name}"
    if G.finite:  # the vector representation is faithful: every irrep is reachable
        assert all(ok(c) for c in cands)
