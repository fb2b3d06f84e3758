"""A seeded random generator of small eqdesign specs, for cross-checking `check` against `build`.

Pure Python (plus PyYAML for the round-trip helper): it knows the spec language and the irreps of every
group from its own tables below, not from eqdesign, so what it proposes is independent of what `check`
believes. It does not try to predict which outputs a network can reach; the cross-check test asks `check`
for that and drops the outputs `check` calls unreachable.

Coverage: spec ``i`` of a seed runs through a seeded shuffle of every group family (``GROUP_KEYS``), one
full cycle per ``len(GROUP_KEYS)`` specs, and the layer kinds are handed out rarest-first until every kind
of ``KINDS`` has been used once, so the first ``len(GROUP_KEYS)`` specs of any seed already hold every
group and every layer kind. After that, kinds are drawn at random among those the group supports.

Sizes are kept small so that each spec builds in seconds: 1-2 hidden layers, 1-3 channels, multiplicities
1-2, band-limits 1-2, and Fourier grids that need no costly optimisation (escnn's cached ``thomson_cube``
grids with n <= 8 or ``ico`` on SO(3)/O(3), ``regular`` grids on SO(2)/O(2)). Equivariance is tested on 4
random elements at input scale 1, with a tolerance of 0.3 per sampled (Fourier or quotient) layer of a
continuous group.

    python tests/specgen.py --seed 3 --budget 20 --out /tmp/specs   # write the YAML files
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# -- groups ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Irrep:
    name: str
    dim: int
    freq: int


@dataclass(frozen=True)
class GroupInfo:
    key: str  # family name as GROUP_KEYS spells it
    spec: Any  # what goes after `group:` (a string or a {name, n} mapping)
    irreps: tuple[Irrep, ...]  # the low-frequency irreps the generator uses, trivial first
    vector: tuple[str, ...]  # irreps of `vector` (empty: the group has none)
    continuous: bool
    quotient: str | None = None  # the quotient of quotient_fourier_* layers, if any
    fourier: bool = True  # whether eqdesign builds fourier_* layers on this group
    order: int | None = None

    @property
    def trivial(self) -> str:
        return self.irreps[0].name

    def irrep(self, name: str) -> Irrep:
        return next(i for i in self.irreps if i.name == name)

    def band_limited(self, L: int | None) -> list[str]:
        """Irreps of the band-limited regular representation (finite groups: L=None is all of it)."""
        return [i.name for i in self.irreps if L is None or i.freq <= L]


GROUP_KEYS = ("so2", "o2", "so3", "o3", "cyclic", "dihedral", "ico", "octa", "full_ico", "full_octa", "cylinder", "full_cylinder")
MAX_FREQ = 2  # highest frequency of any irrep in a field of a continuous group


def _so2() -> GroupInfo:
    irreps = [Irrep("0", 1, 0)] + [Irrep(str(k), 2, k) for k in range(1, MAX_FREQ + 1)]
    return GroupInfo("so2", "so2", tuple(irreps), ("1",), True)


def _o2() -> GroupInfo:
    irreps = [Irrep("0", 1, 0), Irrep("0-", 1, 0)] + [Irrep(str(k), 2, k) for k in range(1, MAX_FREQ + 1)]
    return GroupInfo("o2", "o2", tuple(irreps), ("1",), True, quotient="circle")


def _so3() -> GroupInfo:
    return GroupInfo("so3", "so3", tuple(Irrep(str(l), 2 * l + 1, l) for l in range(MAX_FREQ + 1)), ("1",), True, quotient="sphere")


def _o3() -> GroupInfo:
    irreps = [Irrep(f"{l}{p}", 2 * l + 1, l) for l in range(MAX_FREQ + 1) for p in "eo"]
    return GroupInfo("o3", "o3", tuple(irreps), ("1o",), True, quotient="sphere")


def _cyclic(n: int) -> GroupInfo:
    irreps = [Irrep(str(k), 1 if k == 0 or 2 * k == n else 2, k) for k in range(n // 2 + 1)]
    spec = f"c{n}" if n % 2 else {"name": "cyclic", "n": n}  # both spellings of the group
    return GroupInfo("cyclic", spec, tuple(irreps), ("1",) if n >= 3 else (), False, order=n)


def _dihedral(n: int) -> GroupInfo:
    irreps = [Irrep("0", 1, 0), Irrep("0-", 1, 0)]
    irreps += [Irrep(str(k), 2, k) for k in range(1, (n + 1) // 2)]
    if n % 2 == 0:
        irreps += [Irrep(str(n // 2), 1, n // 2), Irrep(f"{n // 2}-", 1, n // 2)]
    spec = f"d{n}" if n % 2 else {"name": "dihedral", "n": n}
    return GroupInfo("dihedral", spec, tuple(irreps), ("1",) if n >= 3 else (), False, order=2 * n)


_ICO = (Irrep("A", 1, 0), Irrep("T1", 3, 1), Irrep("H", 5, 2), Irrep("T2", 3, 3), Irrep("G", 4, 4))
_OCTA = (Irrep("A1", 1, 0), Irrep("T1", 3, 1), Irrep("E", 2, 2), Irrep("T2", 3, 2), Irrep("A2", 1, 3))


def _full(irreps: tuple[Irrep, ...]) -> tuple[Irrep, ...]:
    return tuple(Irrep(i.name + p, i.dim, i.freq) for i in irreps for p in "gu")


def _cylinder(full: bool) -> GroupInfo:
    zeros = ["0e", "0o"] + (["0-e", "0-o"] if full else [])
    irreps = [Irrep(z, 1, 0) for z in zeros] + [Irrep(f"{k}{p}", 2, k) for k in range(1, MAX_FREQ + 1) for p in "eo"]
    key = "full_cylinder" if full else "cylinder"
    return GroupInfo(key, key, tuple(irreps), ("1o", "0-o" if full else "0o"), True, fourier=False)


def group_info(key: str, n: int | None = None) -> GroupInfo:
    """The generator's table for one group family (cyclic and dihedral need n)."""
    fixed = {
        "so2": _so2,
        "o2": _o2,
        "so3": _so3,
        "o3": _o3,
        "ico": lambda: GroupInfo("ico", "ico", _ICO, ("T1",), False, order=60),
        "octa": lambda: GroupInfo("octa", "octa", _OCTA, ("T1",), False, order=24),
        "full_ico": lambda: GroupInfo("full_ico", "full_ico", _full(_ICO), ("T1u",), False, order=120),
        "full_octa": lambda: GroupInfo("full_octa", "full_octa", _full(_OCTA), ("T1u",), False, order=48),
        "cylinder": lambda: _cylinder(False),
        "full_cylinder": lambda: _cylinder(True),
    }
    if key == "cyclic":
        return _cyclic(n or 4)
    if key == "dihedral":
        return _dihedral(n or 4)
    return fixed[key]()


# -- layer kinds ----------------------------------------------------------------------------------------

FOURIER = ("fourier_elu", "fourier_relu")
QUOTIENT = ("quotient_fourier_elu", "quotient_fourier_relu")
NORM = ("norm_relu", "norm_sigmoid", "norm_squash")
POINTWISE = ("elu", "relu")
KINDS = FOURIER + QUOTIENT + NORM + ("gated", "tensor_product") + POINTWISE


def compatible(g: GroupInfo, kind: str) -> bool:
    """Layer kinds eqdesign documents as buildable on the group (the generator proposes no others).
    ``fourier@continuous`` asks for a Fourier layer on a continuous group (sampled, approximately
    equivariant), ``KIND@vector`` for the kind on a ``vector`` field of several irreps (the cylinders),
    ``gated@scalar`` for gates that read an input scalar, ``tensor_product@pair`` for a tensor product of
    two independent copies of one irrep (its antisymmetric part: the cross product)."""
    kind, _, where = kind.partition("@")
    if (where == "continuous" and not g.continuous) or (where == "vector" and len(g.vector) < 2):
        return False
    if where == "even":  # SO(3) sphere layers fed only even degrees: the hidden inversion keeps odd ones out
        return g.key == "so3" and kind == "quotient"
    if where == "pair":  # v1 x v2 is an irrep that v (x) v lacks: a pseudovector, a vector, the 0- of O(2)
        return len(g.vector) == 1 and (g.irrep(g.vector[0]).dim == 3 or g.key == "o2")
    if kind in FOURIER or kind == "fourier":
        return g.fourier
    if kind in QUOTIENT:
        return g.quotient is not None
    return True


#: what the first specs of every seed hold between them: every kind, a Fourier layer sampled on a grid, norm,
#: gated and tensor-product layers on a cylinder vector (xy and z: one field, two irreps), gates that carry
#: an input, a tensor product of two copies of one irrep, and two SO(3) sphere layers fed only even degrees
COVERAGE = KINDS + (
    "fourier@continuous",
    "norm@vector",
    "gated@vector",
    "tensor_product@vector",
    "gated@scalar",
    "tensor_product@pair",
    "quotient@even",
)
#: the irrep of the cross product of two vectors where it is not the vector itself (tensor_product@pair)
CROSS = {"o3": "1e", "o2": "0-", "full_ico": "T1g", "full_octa": "T1g"}
#: plan items whose layer reads the input directly (it comes first, and the input is made to suit it)
READS_INPUT = ("@vector", "@scalar", "@pair", "@even")


def _rarity(item: str) -> int:
    """How many group families support the item: rare ones are handed out first."""
    return sum(compatible(group_info(k), item) for k in GROUP_KEYS)


# -- specs ----------------------------------------------------------------------------------------------


@dataclass
class GeneratedSpec:
    name: str
    info: GroupInfo
    kinds: list[str]  # the nonlinearity of every hidden layer
    data: dict[str, Any]  # the spec as a mapping (what its YAML text loads to)

    @property
    def group(self) -> str:
        return self.info.key

    @property
    def text(self) -> str:
        return to_yaml(self.data)

    def write(self, folder: Path, comment: str = "") -> Path:
        path = Path(folder) / f"{self.name}.yaml"
        path.write_text(to_yaml(self.data, comment))
        return path

    def without_outputs(self, drop: set[str]) -> GeneratedSpec | None:
        """The same spec with the output irreps in ``drop`` removed (a ``vector`` term keeps its other
        parts), or None when no output is left."""
        terms = []
        for term in self.data["output"].split("+"):
            mult, name = term.strip().split("x ")
            parts = list(self.info.vector) if name == "vector" else [self.info.trivial] if name == "scalar" else [name]
            if not set(parts) & drop:
                terms.append((int(mult), name))
            else:
                terms.extend((int(mult), p) for p in parts if p not in drop)
        if not terms:
            return None
        return GeneratedSpec(self.name, self.info, self.kinds, {**self.data, "output": _terms(terms)})


def _terms(terms: list[tuple[int, str]]) -> str:
    return " + ".join(f"{m}x {name}" for m, name in terms)


class _SpecBuilder:
    """Builds one spec: the input, the hidden layers in order, then the output.

    It tracks two sets of irrep names: ``content``, what the current field type holds, and ``alive``, a
    rough guess (its own, much cruder than check's dataflow) of which of those carry input information.
    Fields are picked so that each linear layer has weights and, mostly, reads something alive; the output
    is drawn mostly from the alive irreps of the last layer, so that most specs pass check as generated."""

    def __init__(self, rng: random.Random, g: GroupInfo) -> None:
        self.rng, self.g = rng, g
        self.first: str | None = None  # the field the next layer must start with
        self.mode = ""
        self.must: set[str] = set()  # irreps the output must read (when they are alive)
        self.content: set[str] = set()
        self.alive: set[str] = set()
        self.inputs: set[str] = set()

    # irreps helpers
    def parts(self, name: str) -> list[str]:
        return list(self.g.vector) if name == "vector" else [self.g.trivial] if name == "scalar" else [name]

    def dim(self, name: str) -> int:
        return sum(self.g.irrep(p).dim for p in self.parts(name))

    def parts_of(self, names: list[str]) -> set[str]:
        return {p for n in names for p in self.parts(n)}

    def pick_fields(self, k: int, allow_trivial: bool = True, max_dim: int = 6) -> list[str]:
        """k field names with disjoint irreps; the first one reads an alive irrep when one fits (else at
        least one the current type holds, so that the linear layer before it has weights). ``vector`` is
        offered wherever the group has one."""
        pool = [i.name for i in self.g.irreps if i.dim <= max_dim and (allow_trivial or i.name != self.g.trivial)]
        if self.g.vector:
            pool += ["vector"] * 2  # twice as likely: fields of several irreps on the cylinders
        alive = [n for n in pool if set(self.parts(n)) & self.alive]
        held = [n for n in pool if set(self.parts(n)) & self.content]
        first = self.rng.choice(alive if alive and self.rng.random() < 0.85 else held or pool)
        if self.first:
            first = self.first
        rest = [n for n in pool if not set(self.parts(n)) & set(self.parts(first))]
        self.rng.shuffle(rest)
        picked = [first]
        for name in rest:
            if len(picked) >= k:
                break
            if not any(set(self.parts(name)) & set(self.parts(p)) for p in picked):
                picked.append(name)
        return picked

    def input(self, modes: set[str] = frozenset()) -> str:
        """The input; ``modes`` (plan suffixes) ask for a vector, a scalar, or two copies of its first field."""
        rng, g = self.rng, self.g
        if "@even" in modes:  # even degrees only (escnn's SO(3) irreps up to 2 here: the quadrupole)
            self.inputs = self.content = self.alive = {"2"}
            return _terms([(rng.choice([1, 2]), "2")])
        self.content = self.alive = {i.name for i in g.irreps if i.freq >= 1} or {g.trivial}
        names = self.pick_fields(rng.choice([1, 1, 2]), max_dim=5)
        if g.vector and "vector" not in names and ({"@vector", "@pair"} & modes or rng.random() < 0.5):
            names = ["vector"] + [n for n in names if not set(self.parts(n)) & set(g.vector)][:1]
        terms = [(2 if i == 0 and "@pair" in modes else rng.choice([1, 1, 2]), n) for i, n in enumerate(names)]
        if ("@scalar" in modes or rng.random() < 0.3) and g.trivial not in self.parts_of(names):
            terms.append((1, rng.choice([g.trivial, "scalar"])))
        self.inputs = self.content = self.alive = self.parts_of([n for _, n in terms])
        return _terms(terms)

    def layer(self, kind: str, mode: str = "") -> dict[str, Any]:
        """The layer's mapping; updates ``content`` and ``alive`` to what it outputs. ``mode`` (a plan
        suffix): its first field is the group's ``vector`` (@vector; @pair: twice, reading two input vectors)."""
        self.first = "vector" if mode in ("@vector", "@pair") else None
        self.mode = mode
        if kind in FOURIER + QUOTIENT + POINTWISE:
            layer, content = self.fourier(kind) if kind in FOURIER else self.quotient(kind) if kind in QUOTIENT else self.pointwise(kind)
            reads = self.alive & set(content)
            self.content, self.alive = set(content), set(content) if reads else set()
            return layer
        if kind in NORM:
            names = self.pick_fields(self.rng.choice([1, 2, 2, 3]))
            layer = {"nonlinearity": kind, "fields": _terms([(self.rng.choice([1, 1, 2]), n) for n in names])}
            # a norm couples the parts of one field: a vector with an alive part is alive as a whole
            alive = {p for n in names if set(self.parts(n)) & self.alive for p in self.parts(n)}
            self.content, self.alive = self.parts_of(names), alive
            return layer
        if kind == "gated":
            names = self.pick_fields(self.rng.choice([1, 2, 2]), allow_trivial=False)
            layer = {"nonlinearity": "gated", "fields": _terms([(self.rng.choice([1, 1, 2]), n) for n in names])}
            scalars = self.rng.choice([0, 1, 1, 2])
            if scalars or self.rng.random() < 0.3:
                layer["scalars"] = scalars
            trivial = {self.g.trivial} if scalars else set()
            self.content, self.alive = self.parts_of(names) | trivial, (self.parts_of(names) | trivial) & self.alive
            return layer
        if kind == "tensor_product":
            return self.tensor_product()
        raise ValueError(kind)

    def fourier(self, kind: str) -> tuple[dict[str, Any], list[str]]:
        g, rng = self.g, self.rng
        layer: dict[str, Any] = {"nonlinearity": kind}
        if g.continuous:
            L = rng.choice([1, 1, 2])
            layer["band_limit"] = L
            layer["channels"] = rng.choice([1, 2, 3] if g.key in ("so2", "o2") else [1, 2])
            if g.key in ("so3", "o3"):
                # escnn's thomson_cube grids (24n points on SO(3), 48n on O(3)) build in a second for n <= 8.
                # Each sampled layer should stay well within 0.3 even behind a norm layer: 4-6 points per
                # coefficient (L=1: 10 coefficients on SO(3), 20 on O(3); L=2: 35 and 70). Coarser grids that
                # check accepts (thomson_cube n=2 at L=2, 1.4 per coefficient) are 0.3 to 1.0 off.
                layer["grid"] = (
                    rng.choice([{"type": "thomson_cube", "n": rng.choice([2, 3])}, {"type": "ico"}])
                    if L == 1
                    else {"type": "thomson_cube", "n": rng.choice([6, 8])}
                )
            elif rng.random() < 0.3:
                layer["grid"] = {"type": "regular", "n": 6 * (2 * L + 1)}  # a multiple of lcm(1..L)
            return layer, g.band_limited(L)
        big = (g.order or 1) > 24
        L = rng.choice([None, 1, 2]) if not big else rng.choice([1, 1, 2])
        if L is not None:
            layer["band_limit"] = L
        layer["channels"] = 1 if big else rng.choice([1, 2])
        return layer, g.band_limited(L)

    def quotient(self, kind: str) -> tuple[dict[str, Any], list[str]]:
        g, rng = self.g, self.rng
        L = 2 if self.mode == "@even" else rng.choice([1, 2])
        layer: dict[str, Any] = {"nonlinearity": kind, "band_limit": L, "channels": rng.choice([1, 2, 3])}
        if rng.random() < 0.5:
            layer["quotient"] = g.quotient
        if g.key in ("so3", "o3"):
            # the sphere: 4 coefficients at L=1, 9 at L=2; thomson_cube n (24n points), ico (30 points)
            layer["grid"] = rng.choice([{"type": "thomson_cube", "n": L}, {"type": "ico"}])
            if g.key == "o3":  # the O(3) sphere carries the natural-parity harmonics 0e, 1o, 2e
                return layer, [f"{l}{'eo'[l % 2]}" for l in range(L + 1)]
            return layer, [str(l) for l in range(L + 1)]
        return layer, [i.name for i in g.irreps if i.freq <= L and i.name != "0-"]  # the circle: no 0-

    def tensor_product(self) -> dict[str, Any]:
        """A multi-irrep field, small enough that its square stays cheap (dim <= 9)."""
        rng = self.rng
        names = self.pick_fields(rng.choice([2, 2, 3]), max_dim=5)
        keep = 1
        if self.mode == "@pair":  # two vectors and the irrep of their cross product, which the output reads
            cross = CROSS.get(self.g.key)
            names = ["vector", "vector"] + ([cross] if cross else []) + [n for n in names[1:] if n not in (cross, "vector")]
            keep, self.must = 2 + bool(cross), {cross or self.g.vector[0]}
        elif rng.random() < 0.25:  # a repeated irrep: two copies in one channel
            names.insert(1, names[0])
            keep = 2
        while sum(self.dim(n) for n in names) > 9 and len(names) > keep:
            names.pop()
        if self.g.trivial not in self.parts_of(names) and rng.random() < 0.5:
            names.append(self.g.trivial)  # a bias slot: trivial x field keeps the field itself
        reads = self.parts_of(names) & self.alive
        self.content = self.parts_of(names)
        # x (x) y holds frequencies |fx - fy| .. fx + fy, of parity px * py (finite groups aside: a rough guess)
        made = {n for n in self.content for x in reads for y in reads if self._in_product(n, x, y)}
        self.alive = made | (reads if self.g.trivial in self.content else set())
        rng.shuffle(names)
        return {"nonlinearity": "tensor_product", "channels": rng.choice([1, 2]), "field": " + ".join(names)}

    def _in_product(self, c: str, x: str, y: str) -> bool:
        fc, fx, fy = (self.g.irrep(n).freq for n in (c, x, y))
        if not abs(fx - fy) <= fc <= fx + fy:
            return False
        if self.g.key not in ("o3", "full_ico", "full_octa", "cylinder", "full_cylinder"):
            return True
        odd = {n: n[-1] in "ou" for n in (c, x, y)}
        return odd[c] == (odd[x] != odd[y])

    def pointwise(self, kind: str) -> tuple[dict[str, Any], list[str]]:
        g = self.g
        if g.continuous:
            return {"nonlinearity": kind, "channels": self.rng.choice([1, 2, 3])}, [g.trivial]
        return {"nonlinearity": kind, "channels": 1 if (g.order or 1) > 24 else self.rng.choice([1, 2])}, g.band_limited(None)

    def output(self) -> str:
        """1-3 irreps of the last hidden type: alive ones (those the input holds first) with a few others."""
        rng = self.rng
        order = sorted(self.content, key=[i.name for i in self.g.irreps].index)
        ranked = sorted(self.must & self.alive)
        for tier in (self.alive & self.inputs, self.alive - self.inputs, self.content - self.alive):
            part = [n for n in order if n in tier and n not in ranked]
            rng.shuffle(part)
            ranked += part
        k = rng.choice([1, 2, 2, 3])
        if rng.random() < 0.2:  # now and then a dead-looking one up front: check must call it unreachable
            rng.shuffle(ranked)
        names = [n for n in order if n in ranked[: max(k, len(self.must & self.alive))]]
        if self.g.vector and set(self.g.vector) <= set(names) and rng.random() < 0.7:
            names = ["vector"] + [n for n in names if n not in self.g.vector]
        return _terms([(rng.choice([1, 1, 1, 2]), n) for n in names])


#: groups this large get at most one layer on regular fields (elu/relu, fourier_*): eqdesign's exact float64
#: projection of a linear layer's basis costs about |G| * dim_out^2 * dim_in^2 * #weights, minutes from
#: regular to regular fields of full_octa/ico and far longer on full_ico (see the cross-check report)
BIG_ORDER = 48
REGULAR = FOURIER + POINTWISE


def _plan(rng: random.Random, g: GroupInfo, deficit: list[str]) -> list[str]:
    """The hidden layers, as kinds or ``COVERAGE`` items: what this seed has not covered yet first (rarest
    first), then random kinds."""
    big = g.order is not None and g.order >= BIG_ORDER
    owed = [k for k in deficit if compatible(g, k)]
    n = 2 if owed else rng.choice([1, 2])
    items: list[str] = []
    for _ in range(n):
        one_regular = big and any(_regular(k) for k in items)
        allowed = [k for k in owed if not (one_regular and _regular(k))]
        ok = [k for k in KINDS if compatible(g, k) and not (one_regular and k in REGULAR)]
        item = allowed[0] if allowed else rng.choice(ok)
        if item in owed:
            owed.remove(item)
        if item in deficit:
            deficit.remove(item)
        items.append(item)
    if "quotient@even" in items:  # stacked: the second sphere layer is fed what the first makes of even degrees
        return ["quotient@even", "quotient@even"]
    if not owed:
        rng.shuffle(items)
    return sorted(items, key=lambda item: not item.endswith(READS_INPUT))


def _regular(item: str) -> bool:
    kind = item.partition("@")[0]
    return kind in REGULAR or kind == "fourier"


def _kind(rng: random.Random, item: str) -> str:
    """The layer kind of a plan item (``norm@vector`` is one of the norm kinds, ...)."""
    kind = item.partition("@")[0]
    named = {"fourier": FOURIER, "norm": NORM, "quotient": QUOTIENT}
    return rng.choice(named[kind]) if kind in named else kind


def generate(seed: int, budget: int) -> list[GeneratedSpec]:
    """``budget`` specs for a seed; the same seed and budget always give the same specs, and a larger
    budget extends a smaller one (spec i does not depend on the budget)."""
    rng = random.Random(f"eqdesign-specgen-{seed}")
    deficit = sorted(COVERAGE, key=lambda k: (_rarity(k), COVERAGE.index(k)))
    specs: list[GeneratedSpec] = []
    order: list[str] = []
    for i in range(budget):
        if not order:
            order = list(GROUP_KEYS)
            rng.shuffle(order)
        key = order.pop()
        n = rng.choice([2, 3, 4, 5, 6, 8]) if key == "cyclic" else rng.choice([2, 3, 4, 6]) if key == "dihedral" else None
        g = group_info(key, n)
        items = _plan(rng, g, deficit)
        specs.append(_one(rng, g, items, f"gen-s{seed}-{i:03d}-{key.replace('_', '-')}{n or ''}"))
    return specs


def _one(rng: random.Random, g: GroupInfo, items: list[str], name: str) -> GeneratedSpec:
    b = _SpecBuilder(rng, g)
    modes = ["@" + item.partition("@")[2] if item.endswith(READS_INPUT) else "" for item in items]
    inp = b.input(set(modes))  # e.g. a vector layer reads an input vector: its parts carry different inputs
    hidden = []
    kinds = []
    for item, mode in zip(items, modes, strict=True):
        kinds.append(_kind(rng, item))
        before, alive = set(b.content), set(b.alive)
        for _ in range(3):  # a few tries at a layer that passes something on (by the builder's rough guess)
            b.content, b.alive = set(before), set(alive)
            layer = b.layer(kinds[-1], mode)
            if b.alive:
                break
        hidden.append(layer)
        if len(hidden) == 1 and not before & b.content:
            # a regular or quotient channel holds the trivial irrep: give the first layer something to read
            inp += " + 1x scalar"
            b.inputs = b.inputs | {g.trivial}
            b.alive = set(b.content)
    _normalize(random.Random(f"{name}-norm"), g, hidden)
    data: dict[str, Any] = {"name": name, "group": g.spec, "input": inp, "output": b.output(), "hidden": hidden}
    # sampled layers of a continuous group are each up to ~0.3 off on these grids, and their errors add up
    sampled = sum(k in FOURIER + QUOTIENT for k in kinds) if g.continuous else 0
    data["tests"] = {"samples": 4, "tolerance": round(0.3 * max(1, sampled), 1), "scales": [1.0]}
    return GeneratedSpec(name, g, kinds, data)


def _normalize(rng: random.Random, g: GroupInfo, hidden: list[dict[str, Any]]) -> None:
    """Put a normalization on about a third of the layers (a generator of its own, so that the layers drawn
    stay as they were): norm_batch only on irrep fields without the trivial one, where it is valid, and no
    layer norm on one lone field, which it centres to zero."""
    for layer in hidden:
        if rng.random() < 0.35:
            terms = [re.match(r"^(?:(\d+)\s*x\s*)?(.+)$", t.strip()) for t in str(layer.get("fields", layer.get("field", ""))).split("+")]
            fields = [(int(m[1] or 1), m[2].strip()) for m in terms if m]
            irrep_fields = layer["nonlinearity"] in NORM + ("tensor_product",)
            no_trivial = irrep_fields and all(name != g.trivial for _, name in fields)
            lone = irrep_fields and sum(n for n, _ in fields) == 1
            layer["norm"] = rng.choice(("iid_batch",) + (() if lone else ("layer",)) + (("norm_batch",) if no_trivial else ()))


# -- YAML -----------------------------------------------------------------------------------------------


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value) if not value.isidentifier() else value
    return json.dumps(value)


def to_yaml(data: dict[str, Any], comment: str = "") -> str:
    """The spec as YAML text in the corpus's style (one flow mapping per hidden layer)."""
    lines = [f"# {line}" for line in comment.splitlines()]
    for key, value in data.items():
        if key == "hidden":
            lines.append("hidden:")
            lines.extend(f"  - {_flow(layer)}" for layer in value)
        else:
            lines.append(f"{key}: {_flow(value)}")
    return "\n".join(lines) + "\n"


def load(text: str) -> Any:
    import yaml

    return yaml.safe_load(text)


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget", type=int, default=12)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for spec in generate(args.seed, args.budget):
        print(spec.write(args.out))


if __name__ == "__main__":
    main()
