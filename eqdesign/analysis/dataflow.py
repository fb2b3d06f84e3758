"""What this architecture reaches: a dataflow analysis through the layers.

For every irrep at every layer it tracks whether it is alive (generically non-zero), which input irreps it
depends on, and its rank: the dimension of the real span of its features at one generic input (closed
under the Schur endomorphisms that linear layers apply). The rank is what tells one vector from two: a
tensor product needs two independent copies for the antisymmetric part (the cross product), and a
Fourier channel sees only as many copies as it has slots.

The analysis is sound for errors: ranks and dependencies are over-approximated, never under, so an
output is called unreachable only when no choice of weights can make it depend on the input. Every
layer is also cut by the ideal bound, since every feature is an equivariant function of the input.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeAlias

from ..theory.group import Group
from ..theory.irreps import Irrep
from .design import Design, FieldType, Linear, Nonlinear
from .parity import SECTORS, Lift, breaks_inversion, lift_for, lifted_design


@dataclass(frozen=True)
class Info:
    deps: frozenset[str]  # names of the input irreps this irrep depends on
    rank: int


State: TypeAlias = dict[Irrep, Info]  # an absent irrep is identically zero
Mixing: TypeAlias = dict[str, list[str]]  # output irrep name -> names of the irreps it is made from


@dataclass
class Parity:
    """The hidden inversion of an SO(3) design (see analysis.parity): the states over parity sectors."""

    lift: Lift
    lifted: Design  # the design over the sectors (analysis.parity.lifted_design)
    sectors: list[State]  # over O(3) irreps, the sectors of the SO(3) ones, after the input and each layer
    plain: State  # the final state of the analysis without the hidden symmetry
    breaking: tuple[int, ...]  # hidden layers (indices into spec.hidden) that break the inversion
    ideal: Callable[[Irrep], bool]  # the sectors some network could reach from the input as declared

    def final_sectors(self, c: Irrep) -> dict[Irrep, Info]:
        """The sectors of SO(3) output irrep ``c`` that are alive, with their Info."""
        return {s: self.sectors[-1][s] for s in self.lift.sectors(c) if s in self.sectors[-1]}


@dataclass
class Flow:
    states: list[State]  # after the input, then after each layer
    mixing: list[Mixing] = field(default_factory=list)  # per nonlinear layer
    parity: Parity | None = None  # SO(3): what the hidden inversion allows

    @property
    def final(self) -> State:
        return self.states[-1]


class _Analysis:
    def __init__(self, design: Design, lift: Lift | None = None) -> None:
        self.d, self.g, self.lift = design, design.group, lift
        self.source = design.input.content()
        self.ideal = self.g.reachable(self.source)
        self._caps: dict[Irrep, int] = {}

    def cap(self, c: Irrep) -> int:
        if c not in self._caps:
            self._caps[c] = min(c.dim, self.g.fixed_dim(self.source, c))
        return self._caps[c]

    def start(self) -> State:
        # lift: a dependency is named by the SO(3) irrep of the input, whatever its sector
        lift = self.lift
        name = (lambda i: i.name) if lift is None else (lambda i: lift.down(i).name)
        return {i: Info(frozenset({name(i)}), min(m * i.endo, self.cap(i))) for i, m in self.source.items()}

    def linear(self, layer: Linear, s: State) -> State:
        out: State = {}
        for c, m in layer.out_type.content().items():
            info = s.get(c)
            if c == self.g.trivial:  # the bias keeps the trivial irrep alive with no dependency
                out[c] = Info(info.deps if info else frozenset(), 1)
            elif info is not None:
                out[c] = Info(info.deps, min(info.rank, m * c.endo))
        return out

    def produce(self, made: dict[Irrep, frozenset[str]], slots: Counter[Irrep], channels: int) -> State:
        """Keep what the ideal bound allows, with the largest rank the slots and the input can carry."""
        return {
            c: Info(deps, min(channels * slots[c] * c.endo, self.cap(c)))
            for c, deps in made.items()
            if slots[c] and self.ideal(c) and self.cap(c) > 0
        }


def _per_channel_source(s: State, channel: Counter[Irrep]) -> tuple[Counter[Irrep], frozenset[str]]:
    """The content one channel can see: at most its own slots' worth of independent copies."""
    src: Counter[Irrep] = Counter()
    deps: frozenset[str] = frozenset()
    for c, slots in channel.items():
        info = s.get(c)
        if info is None:
            continue
        span = min(info.rank, slots * c.endo)
        src[c] = math.ceil(span / c.endo)
        deps |= info.deps
    return src, deps


def _grid_layer(a: _Analysis, layer: Nonlinear, s: State) -> tuple[State, Mixing]:
    src, deps = _per_channel_source(s, layer.channel)
    if not src:
        return {}, {}
    reach = a.g.reachable(src)
    if layer.poly_degree is not None:
        made, mixing = _polynomial(a.g, layer, src, s)
        made = _antipodal({c: d for c, d in made.items() if reach(c)}, a, layer, src)
        return a.produce(made, layer.channel, layer.channels), {c.name: sorted(mixing[c.name]) for c in made}
    made = _antipodal({c: deps for c in layer.channel if reach(c)}, a, layer, src)
    names = sorted(i.name for i in src)
    return a.produce(made, layer.channel, layer.channels), {c.name: names for c in made}


def _antipodal(made: dict[Irrep, frozenset[str]], a: _Analysis, layer: Nonlinear, src: Counter[Irrep]) -> dict[Irrep, frozenset[str]]:
    """lift: a sphere channel commutes with the antipodal map, which acts on a degree-l harmonic as (-1)^l;
    fed only natural sectors, its signal stays antipodally even and so does any activation of it."""
    if a.lift is None or layer.kind != "quotient" or not all(a.lift.is_natural(i) for i in src):
        return made
    lift = a.lift
    return {c: d for c, d in made.items() if lift.is_natural(c)}


#: above this many monomials a polynomial layer is analysed as any Fourier layer (sound, less precise)
MAX_MONOMIALS = 200


def _polynomial(g: Group, layer: Nonlinear, src: Counter[Irrep], s: State) -> tuple[dict[Irrep, frozenset[str]], dict[str, set[str]]]:
    """What a degree-p polynomial of the channel makes, and from what. It is a polynomial map of degree <= p of
    the channel's content, equivariant, so each output irrep lies in some monomial's content: the tensor
    product over the irreps x it multiplies of Sym^j(x^m), m the copies of x in the channel. An output
    depends on the inputs of the monomials that hold it, and on nothing else."""
    assert layer.poly_degree is not None
    irreps = sorted(src, key=lambda i: i.name)
    combos = [c for k in range(layer.poly_degree + 1) for c in itertools.combinations_with_replacement(irreps, k)]
    if len(combos) > MAX_MONOMIALS:
        every = frozenset().union(*(s[x].deps for x in irreps))
        return dict.fromkeys(layer.channel, every), {c.name: {x.name for x in irreps} for c in layer.channel}
    made: dict[Irrep, frozenset[str]] = {}
    mixing: dict[str, set[str]] = {}
    for combo in combos:
        deps = frozenset().union(*(s[x].deps for x in combo))
        for c in _monomial(g, Counter(combo), src):
            if c in layer.channel:
                made[c] = made.get(c, frozenset()) | deps
                mixing.setdefault(c.name, set()).update(x.name for x in combo)
    return made, mixing


def _monomial(g: Group, powers: Counter[Irrep], src: Counter[Irrep]) -> set[Irrep]:
    """Irreps in the tensor product over x of Sym^j(x^m) (j = powers[x], m = src[x])."""
    content: set[Irrep] = {g.trivial}
    for x, j in powers.items():
        factor = set(g.sym_power({x: src[x]}, j, x.freq * j))
        content = {c for a in content for b in factor for c in g.tensor(a, b)}
    return content


def _tensor_layer(a: _Analysis, layer: Nonlinear, s: State) -> tuple[State, Mixing]:
    src, _ = _per_channel_source(s, layer.channel)
    made: dict[Irrep, frozenset[str]] = {}
    mixing: dict[str, set[str]] = {}
    for x in src:
        for y in src:
            for c in _pair_products(a, x, y, min(layer.channel[x], s[x].rank)):
                made[c] = made.get(c, frozenset()) | s[x].deps | s[y].deps
                mixing.setdefault(c.name, set()).update({x.name, y.name})
    state = a.produce(made, layer.channel, layer.channels)
    return state, {c.name: sorted(mixing[c.name]) for c in state}


def _pair_products(a: _Analysis, x: Irrep, y: Irrep, independent: int) -> list[Irrep]:
    """Irreps in the products of slots holding x and y; ``independent`` slot vectors of x are in general
    position (the slot count, capped by the rank)."""
    g = a.g
    if a.lift is not None and x != y and a.lift.down(x) == a.lift.down(y) and independent < 2:
        # lift: the two sectors of one slot are parts of one vector v, and v (x) v keeps only its symmetric
        # square (even degrees); the cross terms of the two sectors carry the product of their parities
        parity = a.lift.parity(x) * a.lift.parity(y)
        return [a.lift.up(c, parity) for c in g.sym2(x)]
    if x != y:
        return list(g.tensor(x, y))
    # A single vector meets only itself: x (x) x keeps the symmetric square, the cross part needs two.
    return list(g.tensor(x, x) if independent >= 2 else g.sym2(x))


def _norm_layer(a: _Analysis, layer: Nonlinear, s: State) -> tuple[State, Mixing]:
    """Each field is multiplied by a function of its whole norm, so every alive part of a field (the xy
    and z irreps of a cylinder vector, say) depends on all of that field's alive parts. A dead part stays
    dead: it is zero times the scale. Scaling keeps every copy in its old span, so ranks do not grow."""
    deps: dict[Irrep, frozenset[str]] = {}
    sources: dict[Irrep, set[str]] = {}
    for f, _ in layer.in_type.entries:  # Info is per irrep, shared by all copies: one pass per entry
        alive = [i for i in f.irreps if i in s]
        joint = _joint_deps(alive, s)
        for i in alive:
            deps[i] = deps.get(i, frozenset()) | joint
            sources.setdefault(i, set()).update(j.name for j in alive)
    return {i: Info(d, s[i].rank) for i, d in deps.items()}, {i.name: sorted(src) for i, src in sources.items()}


def _joint_deps(irreps: list[Irrep], s: State) -> frozenset[str]:
    none: frozenset[str] = frozenset()
    return none.union(*(s[i].deps for i in irreps))


def _gated_layer(a: _Analysis, layer: Nonlinear, s: State) -> tuple[State, Mixing]:
    """out_field = sigmoid(gate) * field: every coordinate of a field is scaled by the same trivial gate,
    which reads no other part of the field, so each part gets its own deps plus the gates'. Gates are
    trivial slots sharing the trivial irrep's Info (an over-approximation when scalars also pass through
    an ELU). Nothing flows back into the scalars."""
    triv = a.g.trivial
    gate = s.get(triv)
    out: State = {}
    mixing: Mixing = {}
    for c in layer.out_type.content():
        info = s.get(c)
        if info is None:
            continue
        gating = gate if c != triv else None  # what scales this irrep, if anything
        out[c] = Info(info.deps | (gating.deps if gating is not None else frozenset()), info.rank)
        # a constant gate (a bias alone) couples nothing: the layer then only rescales the field
        mixing[c.name] = sorted({c.name} | ({triv.name} if gating is not None and gating.deps else set()))
    return _odd_gates(a, s, out), mixing


def _odd_gates(a: _Analysis, s: State, out: State) -> State:
    """lift: a gate or scalar with an odd sector is neither even nor odd after its activation, so every field
    it scales, and every scalar, reaches both sectors, depending on both sectors of the gates."""
    if a.lift is None or a.lift.partner(a.g.trivial) not in s:
        return out
    lift = a.lift
    gates = _joint_deps([t for t in (a.g.trivial, lift.partner(a.g.trivial)) if t in s], s)
    mixed = dict(out)
    for c, info in out.items():
        partner = mixed.get(lift.partner(c))
        deps = info.deps | gates | (partner.deps if partner else frozenset())
        rank = max(info.rank, partner.rank if partner else 0)
        mixed[c] = Info(deps, rank)
        mixed[lift.partner(c)] = Info(deps, rank)
    return mixed


_LayerFlow: TypeAlias = Callable[[_Analysis, Nonlinear, State], tuple[State, Mixing]]

_LAYERS: dict[str, _LayerFlow] = {
    "fourier": _grid_layer,
    "quotient": _grid_layer,
    "pointwise": _grid_layer,
    "tensor": _tensor_layer,
    "norm": _norm_layer,
    "gated": _gated_layer,
}


def _normalized(a: _Analysis, layer: Nonlinear, s: State) -> State:
    """The state after the layer's normalization (eval mode). A batch norm is then an affine map per irrep:
    nothing mixes, and its bias keeps the trivial irrep alive. The layer norm centres the trivial part of each
    field on the mean over the fields of its type (a type with one field is centred to zero, leaving the
    bias) and scales every field by one statistic of all centred fields: everything alive then depends on
    everything that is alive after centring."""
    triv = a.g.trivial
    has_trivial = triv in layer.in_type.content()
    if layer.norm is None or (layer.norm != "layer" and not has_trivial):
        return dict(s)
    if layer.norm != "layer":
        return {**s, triv: s.get(triv, Info(frozenset(), 1))}
    copies = Counter[str]()
    for f, m in layer.in_type.entries:  # fields of one name form one type, wherever they stand
        copies[f.name] += m if triv in f.irreps else 0
    centred = any(n >= 2 for n in copies.values())
    kept = [c for c in s if c != triv or centred]
    every = _joint_deps(kept, s)
    out = {c: Info(every, s[c].rank) for c in s if c != triv}
    if has_trivial:
        out[triv] = Info(every if centred else frozenset(), 1)
    return _odd_statistic(a, out)


def _odd_statistic(a: _Analysis, out: State) -> State:
    """lift: the layer norm's statistic sums squared norms; where both sectors of one irrep are alive, their
    cross term is odd, so the statistic has an odd part and every field it scales reaches both sectors."""
    lift = a.lift
    if lift is None or not any(lift.partner(c) in out for c in out):
        return out
    mixed = dict(out)
    for c, info in out.items():
        mixed.setdefault(lift.partner(c), Info(info.deps, info.rank))
    return mixed


def _coupled(layer: Nonlinear, s: State, mixing: Mixing) -> Mixing:
    """A layer norm makes every output of the layer a function of every irrep alive at its input."""
    if layer.norm != "layer":
        return mixing
    alive = {c.name for c in s}
    return {name: sorted(set(src) | alive) for name, src in mixing.items()}


def analyse(design: Design) -> Flow:
    """What every layer's irreps depend on; for SO(3), also under the hidden inversion (see analysis.parity),
    and an irrep is alive only where both analyses, each an over-approximation, say it is."""
    plain = _run(_Analysis(design))
    lift = lift_for(design.group)
    if lift is None:
        return plain
    lifted = lifted_design(design, lift)
    sectors = _run(_Analysis(lifted, lift))
    breaking = tuple(layer.index for layer in design.hidden if breaks_inversion(layer))
    parity = Parity(lift, lifted, sectors.states, plain.final, breaking, lift.group.reachable(lifted.input.content()))
    return _combine(plain, parity)


def _run(a: _Analysis) -> Flow:
    flow = Flow([a.start()])
    for layer in a.d.layers:
        if isinstance(layer, Linear):
            flow.states.append(a.linear(layer, flow.final))
        else:
            before = flow.final
            state, mixing = _LAYERS[layer.kind](a, layer, _normalized(a, layer, before))
            flow.states.append(state)
            flow.mixing.append(_coupled(layer, before, mixing))
    return flow


def _combine(plain: Flow, parity: Parity) -> Flow:
    """The plain states cut by the sectors: alive where some sector is, with the dependencies both allow."""
    states = [_cut(state, lifted, parity.lift) for state, lifted in zip(plain.states, parity.sectors, strict=True)]
    after = states[2::2]  # layers alternate from a linear one: nonlinear layer k leaves state 2k + 2
    mixing = [
        {name: src for name, src in m.items() if any(c.name == name for c in alive)} for m, alive in zip(plain.mixing, after, strict=True)
    ]
    return Flow(states, mixing, parity)


def _cut(state: State, lifted: State, lift: Lift) -> State:
    out: State = {}
    for c, info in state.items():
        alive = [s for s in lift.sectors(c) if s in lifted]
        if alive:
            deps = info.deps & _joint_deps(alive, lifted)
            out[c] = Info(deps, min(info.rank, sum(lifted[s].rank for s in alive)))
    return out


def influence(design: Design, flow: Flow) -> dict[str, list[str]]:
    """Output irrep -> the input irreps it depends on, for this architecture."""
    return {c.name: sorted(flow.final[c].deps) if c in flow.final else [] for c in _ordered(design.output)}


def sector_influence(design: Design, flow: Flow) -> dict[str, dict[str, list[str]]]:
    """SO(3): per parity sector (natural, unnatural), output irrep -> the input irreps it depends on; empty
    for other groups."""
    parity = flow.parity
    if parity is None:
        return {}
    out: dict[str, dict[str, list[str]]] = {}
    for k, name in enumerate(SECTORS):
        final = parity.sectors[-1]
        out[name] = {c.name: sorted(final[s].deps) if (s := parity.lift.sectors(c)[k]) in final else [] for c in _ordered(design.output)}
    return out


def ideal_influence(design: Design) -> dict[str, list[str]]:
    """Output irrep -> the input irreps some equivariant network could make it depend on.

    A reachable output can depend on every input irrep: multiply it by (1 + |x_psi|^2)."""
    reach = design.group.reachable(design.input.content())
    names = sorted(i.name for i in design.input.content())
    return {c.name: (names if reach(c) else []) for c in _ordered(design.output)}


def _ordered(t: FieldType) -> list[Irrep]:
    return sorted(t.content(), key=lambda i: (i.freq, repr(i.eid)))
