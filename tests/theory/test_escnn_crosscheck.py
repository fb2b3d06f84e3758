"""Cross-check the pure-numpy theory layer (eqdesign.theory) against escnn, for every supported group.

What is compared, per group (C_N for N in 2, 3, 5, 8; D_N for N in 2, 3, 5, 6; frequencies <= 4 for the
continuous groups, all irreps for the finite ones):

* irreps: escnn ids, sizes, types and ``endomorphism_basis().shape[0]`` against ``.eid/.dim/.kind/.endo``;
* characters: our character (and power map g -> g^j) on quadrature points against escnn's
  ``irrep.character`` on escnn elements. For finite groups the whole class table is compared as a weighted
  multiset; for continuous groups on random elements mapped to our quadrature coordinates;
* tensor products: escnn's ``irrep.tensor(irrep).irreps`` and, independently, the character inner products
  over escnn's elements (finite groups) against ``Group.tensor``; sym2/alt2 and Sym^k against escnn characters;
* the band-limited regular representation (FourierELU ``in_type``; ``regular_representation`` for finite
  groups), the quotient representations (QuotientFourierELU ``in_type``) and the standard representation.

escnn's numerical decomposition of tensor products takes seconds per pair on a cold joblib cache (minutes
for the direct-product groups full_ico, full_octa, cylinder, full_cylinder), and
``full_ico_group().regular_representation`` about 45 s in every process. By default ``irrep.tensor`` is
checked for a x b with a before b only (direct products: the vector irreps against frequencies <= 2; the
character checks still cover every pair of the finite groups), and full_ico's regular representation through
``spectral_regular_representation``. Set ``EQDESIGN_ESCNN_FULL=1`` to run everything. Timings on 2 CPU cores:
about 30 s with a warm escnn cache, about 2 min cold.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import warnings
from collections import Counter

import numpy as np
import pytest

from eqdesign.theory.irreps import dimension
from eqdesign.theory.registry import make_group

pytestmark = pytest.mark.escnn

FULL = os.environ.get("EQDESIGN_ESCNN_FULL", "") not in ("", "0")
MAX_FREQ = 4  # continuous groups: irreps up to this frequency
ESCNN_FREQ = 2 * MAX_FREQ  # irreps escnn must instantiate so that a x b decomposes for freq(a), freq(b) <= 4

from groups_under_test import GROUPS  # noqa: E402

PRODUCTS = {"full_ico", "full_octa", "cylinder", "full_cylinder"}


def _gid(p):
    name, n = p
    return f"{name}{n}" if n else name


FINITE = [p for p in GROUPS if make_group(*p).finite]
CONTINUOUS = [p for p in GROUPS if not make_group(*p).finite]


# -- escnn access -------------------------------------------------------------------------------------------
@contextlib.contextmanager
def quiet():
    """escnn/joblib print `[Memory]` banners and a bare `print` in the numerical CG code; silence both."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()):
            yield


@functools.cache
def _escnn():
    with quiet():
        import escnn  # noqa: F401
        import escnn.group
        import escnn.gspaces
        import escnn.nn
    return escnn


@functools.cache
def escnn_group(name: str, n: int | None):
    G = make_group(name, n)
    factory = getattr(_escnn().group, G.escnn_factory)
    with quiet():
        return factory(*G.escnn_args) if G.finite else factory(ESCNN_FREQ)


def norm_id(i):
    """escnn sometimes puts numpy ints in ids: normalise to python ints (nested tuples kept)."""
    if isinstance(i, (tuple, list)):
        return tuple(norm_id(x) for x in i)
    if isinstance(i, (float, np.floating)):
        return float(i)
    return int(i)


def escnn_content(irreps) -> Counter:
    return Counter(norm_id(i) for i in irreps)


def eid_content(c) -> Counter:
    return Counter({i.eid: m for i, m in c.items() if m})


def our_irreps(G):
    return G.irreps(None if G.finite else MAX_FREQ)


def fmt(c: Counter) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(c.items(), key=repr)) + "}"


# -- irreps -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gp", GROUPS, ids=_gid)
def test_irreps_ids_dims_types_endomorphisms(gp):
    G, E = make_group(*gp), escnn_group(*gp)
    ours = our_irreps(G)
    assert len({i.eid for i in ours}) == len(ours), "duplicate escnn ids"
    assert len({i.name for i in ours}) == len(ours), "duplicate names"
    problems = []
    with quiet():
        for i in ours:
            e = E.irrep(*i.eid)
            got = (norm_id(e.id), e.size, e.type, e.endomorphism_basis().shape[0])
            want = (i.eid, i.dim, i.kind, i.endo)
            if got != want:
                problems.append(f"{G.label} irrep {i.name}: escnn (id, size, type, endo) = {got}, theory {want}")
    assert not problems, "\n".join(problems)

    # The set of irreps: all of them for finite groups, exactly those of frequency <= 4 otherwise.
    if G.finite:
        expected = {norm_id(e.id) for e in E.irreps()}
        assert E.order() == G.order, f"{G.label}: escnn order {E.order()}, theory {G.order}"
    elif gp[0] in PRODUCTS:
        expected = {((j,), norm_id(i), 0) for j in (0, 1) for i in E.G2.bl_irreps(MAX_FREQ)}
    else:
        expected = {norm_id(i) for i in E.bl_irreps(MAX_FREQ)}
    assert {i.eid for i in ours} == expected, f"{G.label}: theory irreps {sorted(i.eid for i in ours)}, escnn {sorted(expected)}"


@pytest.mark.parametrize("gp", [p for p in GROUPS if p[0] not in PRODUCTS and p[0] != "octa"], ids=_gid)
def test_band_limit_frequencies_match_escnn_bl_irreps(gp):
    """``irreps(L)`` (the frequency used for band-limiting) against escnn's ``bl_irreps(L)``."""
    G, E = make_group(*gp), escnn_group(*gp)
    top = max(i.freq for i in G.irreps(None)) if G.finite else MAX_FREQ
    bad = []
    for L in range(top + 1):
        ours = sorted(i.eid for i in G.irreps(L))
        theirs = sorted(norm_id(i) for i in E.bl_irreps(L))
        if ours != theirs:
            bad.append(f"L={L}: theory irreps(L) = {ours}, escnn bl_irreps(L) = {theirs}")
    freqs = {i.name: i.freq for i in G.irreps(None if G.finite else MAX_FREQ)}
    assert not bad, f"{G.label} band-limit frequencies disagree (theory .freq = {freqs}):\n" + "\n".join(bad)


# -- characters ---------------------------------------------------------------------------------------------
def _escnn_chars(E, irreps, elements) -> np.ndarray:
    """escnn characters, shape (len(irreps), len(elements))."""
    with quiet():
        reps = [E.irrep(*i.eid) for i in irreps]
        return np.array([[float(r.character(g)) for g in elements] for r in reps])


def _power(g, j):
    out = g
    for _ in range(j - 1):
        out = out @ g
    return out


POWERS = range(1, 8)


@functools.cache
def _finite_tables(gp):
    """escnn elements, their character table and the tables of g^j, for a finite group."""
    G, E = make_group(*gp), escnn_group(*gp)
    irreps = our_irreps(G)
    with quiet():
        elements = list(E.elements)
        powers = {1: elements}
        for j in POWERS[1:]:
            powers[j] = [p @ g for p, g in zip(powers[j - 1], elements, strict=True)]
    chars = _escnn_chars(E, irreps, elements)
    power_chars = {j: _escnn_chars(E, irreps, powers[j]) for j in POWERS}
    return irreps, elements, chars, power_chars


def _key(column) -> tuple:
    return tuple(np.round(np.asarray(column, dtype=float), 6) + 0.0)


@pytest.mark.parametrize("gp", FINITE, ids=_gid)
def test_finite_character_table_and_power_maps(gp):
    """The weighted multiset of (chi(g), chi(g^j)) over the group equals the theory's over its quadrature.

    Characters separate conjugacy classes, so this checks the character table, the class sizes (weights)
    and the power maps g -> g^j at once.
    """
    G = make_group(*gp)
    irreps, elements, chars, power_chars = _finite_tables(gp)
    q = G.quadrature(0)
    assert np.isclose(np.sum(q.weights), 1.0)
    ours = np.array([G.character(i, q.points) for i in irreps])
    for j in POWERS:
        pj = G.power(q.points, j)
        ours_j = np.array([G.character(i, pj) for i in irreps])
        want: Counter = Counter()
        for col in range(len(elements)):
            want[(_key(chars[:, col]), _key(power_chars[j][:, col]))] += 1.0 / len(elements)
        got: Counter = Counter()
        for col, w in enumerate(q.weights):
            got[(_key(ours[:, col]), _key(ours_j[:, col]))] += w
        keys = set(want) | set(got)
        diff = {k: (got.get(k, 0.0), want.get(k, 0.0)) for k in keys if abs(got.get(k, 0.0) - want.get(k, 0.0)) > 1e-9}
        names = [i.name for i in irreps]
        assert not diff, f"{G.label}: class data (chi(g) over {names}, chi(g^{j})) -> (theory weight, escnn weight) differ:\n" + "\n".join(
            f"  {k}: {v}" for k, v in sorted(diff.items())
        )


def _rotation_angle(q) -> float:
    """Rotation angle in degrees of a unit quaternion in escnn's 'Q' parametrisation (x, y, z, w)."""
    return math.degrees(2 * math.acos(min(1.0, abs(float(np.asarray(q)[3])))))


_ICO_CLASS = {0: 0, 72: 1, 144: 2, 120: 3, 180: 4}  # classes of finite.Ico, by rotation angle
_OCTA_CLASS = {0: 0, 120: 1, 90: 3}  # 180 degrees: 2 (face axes, squares of quarter-turns) or 4 (edge axes)


def _polyhedral_class(kind: str, q, quarter_squares) -> int:
    a = int(round(_rotation_angle(q)))
    if kind == "ico":
        return _ICO_CLASS[a]
    if a == 180:
        return 2 if any(abs(float(np.dot(q, s))) > 1 - 1e-9 for s in quarter_squares) else 4
    return _OCTA_CLASS[a]


def _finite_points(gp, E, elements):
    """Map escnn elements of a finite group to the theory's quadrature points (elements or class indices)."""
    name, _ = gp
    if name == "cyclic":
        return np.array([int(g.value) for g in elements])
    if name == "dihedral":
        return (np.array([int(g.value[0]) for g in elements]), np.array([int(g.value[1]) for g in elements]))
    inner_kind = name.replace("full_", "")
    inner = E.G2 if name.startswith("full_") else E
    quarter_squares = []
    if inner_kind == "octa":
        with quiet():
            quarter_squares = [np.asarray((g @ g).to("Q")) for g in inner.elements if round(_rotation_angle(g.to("Q"))) == 90]
    if name.startswith("full_"):
        eps = np.array([int(g.value[0]) for g in elements])
        cls = np.array([_polyhedral_class(inner_kind, np.asarray(g.value[1]), quarter_squares) for g in elements])
        return (eps, cls)
    return np.array([_polyhedral_class(inner_kind, np.asarray(g.to("Q")), quarter_squares) for g in elements])


@pytest.mark.parametrize("gp", FINITE, ids=_gid)
def test_finite_characters_element_by_element(gp):
    """Each escnn element mapped to the theory's point (its element, or its class by rotation angle):
    chi(g) and chi(g^j) agree, and the theory's weights are the fractions of elements per point.

    This pins down labels that a class-table comparison cannot, e.g. D_N's ``N/2`` vs ``N/2-`` or Ico's
    ``T1`` vs ``T2``, which an outer automorphism exchanges.
    """
    G, E = make_group(*gp), escnn_group(*gp)
    irreps, elements, chars, power_chars = _finite_tables(gp)
    points = _finite_points(gp, E, elements)
    bad = []
    for j in POWERS:
        pj = G.power(points, j)
        for row, irrep in enumerate(irreps):
            err = np.max(np.abs(G.character(irrep, pj) - power_chars[j][row]))
            if err > 1e-6:
                bad.append(f"{irrep.name}, g^{j}: max |theory - escnn| = {err:.3g}")
    assert not bad, f"{G.label} characters disagree with escnn:\n" + "\n".join(bad)

    # weights: the fraction of escnn elements that land on each theory point
    def flat(p):
        return [
            tuple(int(v) for v in pt) for pt in zip(*[np.asarray(x).ravel() for x in (p if isinstance(p, tuple) else (p,))], strict=True)
        ]

    q = G.quadrature(0)
    counts = Counter(flat(points))
    for pt, w in zip(flat(q.points), q.weights, strict=True):
        assert abs(counts[pt] / len(elements) - w) < 1e-12, f"{G.label}: weight of point {pt} is {w}, escnn {counts[pt]}/{len(elements)}"
    assert sum(counts[pt] for pt in set(flat(q.points))) == len(elements)


def _element_points(gp, elements):
    """Map escnn elements to the theory layer's quadrature coordinates for the continuous groups."""
    name = gp[0]

    def angle(rotation_quaternion):  # escnn's 'Q' parametrisation is (x, y, z, w), scalar last
        w = abs(float(np.asarray(rotation_quaternion)[3]))
        return 2 * math.acos(min(1.0, w))

    if name == "so2":
        return np.array([float(g.value) for g in elements])
    if name == "o2":
        return (np.array([float(g.value[0]) for g in elements]), np.array([float(g.value[1]) for g in elements]))
    if name == "so3":
        return np.array([angle(g.to("Q")) for g in elements])
    if name == "o3":
        return (np.array([float(g.value[0]) for g in elements]), np.array([angle(g.value[1]) for g in elements]))
    if name == "cylinder":
        eps = np.array([float(g.value[0]) for g in elements])
        return (eps, np.array([float(g.value[1]) for g in elements]))
    if name == "full_cylinder":
        eps = np.array([float(g.value[0]) for g in elements])
        refl = np.array([float(g.value[1][0]) for g in elements])
        theta = np.array([float(g.value[1][1]) for g in elements])
        return (eps, (refl, theta))
    raise AssertionError(name)


_Q = (0.0, 0.0, math.sin(0.35), math.cos(0.35))  # rotation by 0.7 about z, scalar last
SPECIAL = {  # elements in every coset, so that a random draw cannot miss one
    "o2": [(1, 0.7), (1, 0.0), (0, np.pi)],
    "o3": [(1, np.array(_Q)), (1, np.array([0.0, 0.0, 0.0, 1.0]))],
    "cylinder": [(1, 0.7), (1, 0.0), (0, np.pi)],
    "full_cylinder": [(1, (0, 0.7)), (0, (1, 0.3)), (1, (1, 0.3)), (1, (0, 0.0))],
}


@pytest.mark.parametrize("gp", CONTINUOUS, ids=_gid)
def test_continuous_characters_and_power_maps(gp):
    G, E = make_group(*gp), escnn_group(*gp)
    irreps = our_irreps(G)
    state = np.random.get_state()  # escnn samples with numpy's global generator: seed it, then restore it
    np.random.seed(0)
    try:
        with quiet():
            rng_elements = [E.identity] + [E.sample() for _ in range(40)] + [E.element(v) for v in SPECIAL.get(gp[0], [])]
    finally:
        np.random.set_state(state)
    points = _element_points(gp, rng_elements)
    bad = []
    for j in (1, 2, 3, 4):
        with quiet():
            gj = [_power(g, j) for g in rng_elements]
        theirs = _escnn_chars(E, irreps, gj)
        pj = G.power(points, j)
        for row, irrep in enumerate(irreps):
            ours = G.character(irrep, pj)
            err = np.max(np.abs(ours - theirs[row]))
            if err > 1e-6:
                bad.append(f"{irrep.name}, g^{j}: max |theory - escnn| = {err:.3g}")
    assert not bad, f"{G.label} characters disagree with escnn:\n" + "\n".join(bad)


# -- tensor products ----------------------------------------------------------------------------------------
def _tensor_pairs(gp):
    G = make_group(*gp)
    irreps = our_irreps(G)
    if FULL:
        return [(a, b) for a in irreps for b in irreps]
    # a x b and b x a are separate numerical decompositions in escnn (seconds each on a cold cache): one order
    pairs = [(a, b) for x, a in enumerate(irreps) for b in irreps[x:]]
    if gp[0] in PRODUCTS:
        # escnn decomposes direct-product tensor products numerically (about 2 s per pair on a cold cache):
        # by default only the standard-representation irreps against every irrep of frequency <= 2.
        vec = G.vector.irreps if G.vector else irreps[:1]
        pairs = [(a, b) for a in vec for b in irreps if b.freq <= 2]
    return pairs


@pytest.mark.parametrize("gp", GROUPS, ids=_gid)
def test_tensor_products_match_escnn_tensor(gp):
    G, E = make_group(*gp), escnn_group(*gp)
    bad = []
    with quiet():
        for a, b in _tensor_pairs(gp):
            theirs = escnn_content(E.irrep(*a.eid).tensor(E.irrep(*b.eid)).irreps)
            ours = eid_content(G.tensor(a, b))
            if theirs != ours:
                bad.append(f"{a.name} x {b.name}: theory {fmt(ours)}, escnn {fmt(theirs)}")
    assert not bad, f"{G.label} tensor products disagree with escnn:\n" + "\n".join(bad)


def _mult(chi: np.ndarray, char_c: np.ndarray, endo: int) -> float:
    return float(np.mean(chi * char_c)) / endo


@pytest.mark.parametrize("gp", FINITE, ids=_gid)
def test_finite_tensor_sym2_alt2_by_escnn_characters(gp):
    """Every pair's decomposition, and sym2/alt2, from escnn's own irrep matrices (character averages)."""
    G = make_group(*gp)
    irreps, elements, chars, power_chars = _finite_tables(gp)
    bad = []

    def content_of(chi):
        out: Counter = Counter()
        for row, c in enumerate(irreps):
            m = _mult(chi, chars[row], c.endo)
            assert abs(m - round(m)) < 1e-6, f"non-integral multiplicity {m} of {c.name}"
            if round(m):
                out[c.eid] = int(round(m))
        return out

    for x, a in enumerate(irreps):
        for y, b in enumerate(irreps):
            theirs, ours = content_of(chars[x] * chars[y]), eid_content(G.tensor(a, b))
            if theirs != ours:
                bad.append(f"{a.name} x {b.name}: theory {fmt(ours)}, escnn characters {fmt(theirs)}")
        for sign, fn in ((+1, G.sym2), (-1, G.alt2)):
            theirs = content_of((chars[x] ** 2 + sign * power_chars[2][x]) / 2)
            ours = eid_content(fn(a))
            if theirs != ours:
                bad.append(f"{fn.__name__}({a.name}): theory {fmt(ours)}, escnn characters {fmt(theirs)}")
    assert not bad, f"{G.label}:\n" + "\n".join(bad)


def _complete_homogeneous(eigs: np.ndarray, K: int) -> np.ndarray:
    """h_0..h_K of the eigenvalues: the characters of Sym^0..Sym^K at one element (generating function)."""
    coeffs = np.zeros(K + 1, dtype=complex)
    coeffs[0] = 1.0
    for lam in eigs:  # multiply by 1 / (1 - lam t) = sum lam^k t^k
        for k in range(1, K + 1):
            coeffs[k] += lam * coeffs[k - 1]
    return coeffs


@pytest.mark.parametrize("gp", FINITE, ids=_gid)
def test_finite_sym_powers_by_escnn_eigenvalues(gp):
    """Sym^k multiplicities from the eigenvalues of escnn's representation matrices (no power-sum recursion)."""
    G, E = make_group(*gp), escnn_group(*gp)
    irreps, elements, chars, _ = _finite_tables(gp)
    rng = np.random.default_rng(7)
    K = 4
    with quiet():
        mats = {i.eid: [np.asarray(E.irrep(*i.eid)(g)) for g in elements] for i in irreps}
    sources = [Counter({i: 1}) for i in irreps]
    for _ in range(4):
        pick = rng.choice(len(irreps), size=2)
        sources.append(Counter(irreps[p] for p in pick))
    bad = []
    for src in sources:
        if dimension(src) > 8:
            continue
        h = np.zeros((K + 1, len(elements)))
        for col in range(len(elements)):
            eigs = np.concatenate([np.linalg.eigvals(mats[i.eid][col]) for i, m in src.items() for _ in range(m)])
            h[:, col] = _complete_homogeneous(eigs, K).real
        for k in range(K + 1):
            theirs: Counter = Counter()
            for row, c in enumerate(irreps):
                m = _mult(h[k], chars[row], c.endo)
                if round(m):
                    theirs[c.eid] = int(round(m))
            ours = eid_content(G.sym_power(src, k, 0))
            if theirs != ours:
                bad.append(f"Sym^{k}({{i.name: m for i, m in src.items()}}): theory {fmt(ours)}, escnn {fmt(theirs)}")
    assert not bad, f"{G.label}:\n" + "\n".join(bad)


# -- representations used by the spec -----------------------------------------------------------------------
@pytest.mark.parametrize("gp", CONTINUOUS, ids=_gid)
def test_band_limited_regular_matches_fourier_elu(gp):
    G, E = make_group(*gp), escnn_group(*gp)
    enn, gspaces = _escnn().nn, _escnn().gspaces
    gs = gspaces.no_base_space(E)
    bad = []
    for L in range(MAX_FREQ + 1):
        if gp[0] in PRODUCTS:  # escnn has no bl_irreps for direct products
            ids = [((j,), norm_id(i), 0) for j in (0, 1) for i in E.G2.bl_irreps(L)]
        else:
            ids = E.bl_irreps(L)
        grid = {"type": "regular", "N": 12} if gp[0] in ("so2", "o2") else {"type": "rand", "N": 12}
        with quiet():
            m = enn.FourierELU(gs, 1, ids, **grid)
        theirs = escnn_content(m.in_type.representation.irreps)
        ours = eid_content(G.regular(L))
        if theirs != ours:
            bad.append(f"L={L}: theory {fmt(ours)}, FourierELU in_type {fmt(theirs)}")
    assert not bad, f"{G.label} band-limited regular representation:\n" + "\n".join(bad)


@pytest.mark.parametrize("gp", FINITE, ids=_gid)
def test_finite_regular_matches_regular_representation(gp):
    G, E = make_group(*gp), escnn_group(*gp)
    ours = eid_content(G.regular(None))
    assert dimension(G.regular(None)) == G.order
    if gp[0] == "full_ico" and not FULL:
        # E.regular_representation takes ~45 s here (numerical change of basis); compare the spectral one.
        with quiet():
            rep = E.spectral_regular_representation(*[i.eid for i in G.irreps(None)])
        theirs = escnn_content(rep.irreps)
    else:
        with quiet():
            theirs = escnn_content(E.regular_representation.irreps)
    assert theirs == ours, f"{G.label} regular: theory {fmt(ours)}, escnn {fmt(theirs)}"


_QUOTIENT_GRID = {
    "so3": [np.array([math.sin(t) * 0.6, math.sin(t) * 0.8, 0.0, math.cos(t)]) for t in np.linspace(0.1, 3.0, 12)],
    "o3": [(k % 2, np.array([math.sin(t) * 0.6, 0.0, math.sin(t) * 0.8, math.cos(t)])) for k, t in enumerate(np.linspace(0.1, 3.0, 12))],
    "o2": [(k % 2, t) for k, t in enumerate(np.linspace(0.0, 6.0, 12))],
}
QUOTIENT_CASES = [(("so3", None), "sphere"), (("o3", None), "sphere"), (("o2", None), "circle")]


def test_every_quotient_is_covered():
    declared = {(gp, name) for gp in GROUPS for name in make_group(*gp).quotients()}
    assert declared == set(QUOTIENT_CASES)


@pytest.mark.parametrize("gp,qname", QUOTIENT_CASES, ids=lambda x: x if isinstance(x, str) else _gid(x))
def test_quotient_matches_quotient_fourier_elu(gp, qname):
    G, E = make_group(*gp), escnn_group(*gp)
    enn, gspaces = _escnn().nn, _escnn().gspaces
    gs = gspaces.no_base_space(E)
    sub = G.quotients()[qname].escnn_subgroup
    bad = []
    for L in range(MAX_FREQ + 1):
        with quiet():
            grid = [E.element(v) for v in _QUOTIENT_GRID[gp[0]]]  # content does not depend on the grid
            m = enn.QuotientFourierELU(gs, sub, 1, E.bl_irreps(L), grid=grid)
        theirs = escnn_content(m.in_type.representation.irreps)
        ours = eid_content(G.quotient(qname, L))
        if theirs != ours:
            bad.append(f"L={L}: theory {fmt(ours)}, QuotientFourierELU({sub}) in_type {fmt(theirs)}")
    assert not bad, f"{G.label}/{qname}:\n" + "\n".join(bad)


# -- the standard representation ----------------------------------------------------------------------------
def _escnn_standard(E):
    sr = getattr(type(E), "standard_representation", None)
    if sr is None:
        return None
    with quiet():
        rep = E.standard_representation  # a property on Ico/Octa, a method on the others
        return rep if isinstance(rep, _escnn().group.Representation) else rep()


@pytest.mark.parametrize("gp", GROUPS, ids=_gid)
def test_vector_matches_escnn_standard_representation(gp):
    G, E = make_group(*gp), escnn_group(*gp)
    rep = _escnn_standard(E)
    if rep is None:
        pytest.skip(f"escnn's {E} has no standard_representation")
    assert G.vector is not None, f"{G.label}: escnn has a standard representation, the theory no vector"
    theirs = escnn_content(rep.irreps)
    ours = Counter(i.eid for i in G.vector.irreps)
    assert theirs == ours, f"{G.label} vector: theory {fmt(ours)}, escnn standard_representation {fmt(theirs)}"
    assert G.vector.dim == rep.size


def _gspace(gp):
    gspaces = _escnn().gspaces
    name, n = gp
    makers = {
        "so2": lambda: gspaces.rot2dOnR2(-1),
        "o2": lambda: gspaces.flipRot2dOnR2(-1),
        "cyclic": lambda: gspaces.rot2dOnR2(n),
        "dihedral": lambda: gspaces.flipRot2dOnR2(n),
        "so3": gspaces.rot3dOnR3,
        "o3": gspaces.flipRot3dOnR3,
        "ico": gspaces.icoOnR3,
        "octa": gspaces.octaOnR3,
        "full_ico": gspaces.fullIcoOnR3,
        "full_octa": gspaces.fullOctaOnR3,
        "cylinder": gspaces.cylindricalOnR3,
        "full_cylinder": gspaces.fullCylindricalOnR3,
    }
    with quiet():
        return makers[name]()


# The cylinder groups are last: escnn realises their C2 as the 3D inversion, the theory as the mirror z -> -z.
GSPACE_ORDER = [p for p in GROUPS if p[0] not in ("cylinder", "full_cylinder")] + [("cylinder", None), ("full_cylinder", None)]


@pytest.mark.parametrize("gp", GSPACE_ORDER, ids=_gid)
def test_vector_matches_escnn_gspace_basespace_action(gp):
    """``vector`` against escnn's action of the group on R^2 / R^3 (``gspace.basespace_action``)."""
    G = make_group(*gp)
    gs = _gspace(gp)
    assert gs.fibergroup is escnn_group(*gp) or gs.fibergroup.name == escnn_group(*gp).name
    theirs = escnn_content(gs.basespace_action.irreps)
    if G.vector is None:
        # C2 and D2 act on the plane through two 1-dimensional irreps: no single standard irrep to name.
        assert len(gs.basespace_action.irreps) > 1
        return
    ours = Counter(i.eid for i in G.vector.irreps)
    names = {i.eid: i.name for i in G.irreps(None if G.finite else MAX_FREQ)}
    assert theirs == ours, (
        f"{G.label} vector: theory {fmt(ours)} = {[names.get(k) for k in ours]}, "
        f"escnn {gs} basespace_action {fmt(theirs)} = {[names.get(k) for k in theirs]}"
    )
