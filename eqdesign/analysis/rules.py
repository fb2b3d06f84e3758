"""Analysis rules. Each returns findings for one design and never raises; its docstring documents it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import partial

from ..findings import Finding, Location, Severity, make, rule
from ..spec.load import LoadedSpec
from ..spec.model import MAX_BAND_LIMIT
from ..theory.irreps import Irrep, format_content
from .dataflow import Flow, Parity
from .design import Design, Linear, Nonlinear
from .fixes import needed_input, suggest_fix
from .parity import Lift


@rule(
    "EQ101",
    "dropped-irrep",
    Severity.WARNING,
    fix="If the irrep should survive, add it to the field types of the layer after it (that hidden layer's "
    "fields, or the output); if dropping it is intended, add lint: {ignore: [dropped-irrep]} to the spec.",
)
def dropped_irrep(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """A linear layer's input holds an irrep its output lacks. By Schur's lemma an equivariant linear map
    between irreducible representations is zero unless they are isomorphic, so no weight can carry that
    irrep across; escnn skips such blocks without a word, and whatever the irrep carried is lost at this
    layer. It is often deliberate in the last layer, where the higher irreps of a Fourier layer are
    projected away, and a mistake when the dropped irrep held input information an output needs."""
    out = []
    for layer in design.linears:
        cout = layer.out_type.content()
        lost = {i: m for i, m in layer.in_type.content().items() if i not in cout}
        if lost:
            where = _describe_linear(layer)
            out.append(
                make(
                    "dropped-irrep",
                    f"linear layer {layer.index} ({where}) drops {format_content(lost)}",
                    loaded.at(layer.path),
                    "add these irreps to the layer after it if they should reach the output",
                )
            )
    return out


@rule(
    "EQ102",
    "grid-too-small",
    Severity.ERROR,
    fix="Remove grid: so that grid: auto picks a weighted quadrature, or give the explicit grid at least the "
    "number of points the hint names (about twice the coefficients is well conditioned), or lower band_limit.",
)
def grid_too_small(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """A Fourier layer samples fewer grid points than its band-limited representation has coefficients, so
    the layer cannot be built. The band-limit L regular representation holds each irrep of frequency at
    most L as often as its dimension (1 + 9 + 25 + ... coefficients per channel on SO(3); a quotient such
    as the sphere holds each once, 1 + 3 + 5 + ...). With fewer sample points than coefficients the
    sampling map has a kernel, so the Fourier transform cannot recover the signal from its samples. Finite
    groups sample every element, and a weighted rule exact to degree 2L inverts the transform exactly: both
    are exempt."""
    return [
        make(
            "grid-too-small",
            f"{layer.activation} samples {layer.grid.points} points for {layer.grid.coefficients} Fourier coefficients per channel",
            loaded.at(layer.path + (("grid",) if layer.grid.n else ())),
            f"use at least {layer.grid.coefficients} points, about twice that for a well-conditioned grid",
        )
        for layer in design.hidden
        if layer.grid and not design.group.finite and not exact_transform(layer) and layer.grid.points < layer.grid.coefficients
    ]


@rule(
    "EQ103",
    "grid-ill-conditioned",
    Severity.WARNING,
    fix="Remove grid: (grid: auto picks a weighted quadrature, exactly conditioned), or use about twice as many points as coefficients.",
)
def grid_ill_conditioned(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """A Fourier grid has fewer than 1.5 points per Fourier coefficient. Its sampling matrix is then barely
    overdetermined and tends to be badly conditioned (escnn's thomson_cube N=4 at L=3: condition number
    about 4e7), which inflates outputs and equivariance errors. A weighted rule exact to degree 2L is
    exempt: by the orthogonality of the irreps' matrix coefficients (Peter-Weyl) its transform is the exact
    one, perfectly conditioned (the uniform circle of 2L + 1 points, say)."""
    return [
        make(
            "grid-ill-conditioned",
            f"{layer.activation} has only {layer.grid.points / layer.grid.coefficients:.2f} grid points per Fourier coefficient",
            loaded.at(layer.path),
            f"use about {2 * layer.grid.coefficients} points",
        )
        for layer in design.hidden
        if layer.grid
        and not design.group.finite
        and not exact_transform(layer)
        and layer.grid.coefficients <= layer.grid.points < 1.5 * layer.grid.coefficients
    ]


def exact_transform(layer: Nonlinear) -> bool:
    """A weighted rule exact to degree 2L: the sampled transform of band-L signals is inverted exactly."""
    rule, L = (layer.grid.rule if layer.grid else None), layer.band_limit
    return rule is not None and L is not None and rule.degree >= 2 * L


#: expected relative equivariance error of an unweighted grid on the sphere or SO(3), times its points
#: per coefficient: measured 0.25-0.4 for escnn's thomson_cube grids at band-limit 2 (96 to 720 points),
#: far more on random grids. The lower end is used, so the warning never overstates.
UNWEIGHTED_ERROR_PER_PPC = 0.25


@rule(
    "EQ107",
    "grid-too-coarse",
    Severity.WARNING,
    fix="Remove grid: (grid: auto is a weighted quadrature that build sizes to the tolerance), use many more "
    "points, or loosen tests.tolerance if an error of the estimated size is acceptable.",
)
def grid_too_coarse(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """An explicit unweighted Fourier grid is too coarse for ``tests.tolerance``. escnn's named grids on the
    sphere or SO(3) (thomson, thomson_cube, fibonacci, ico, rand, ...) carry no quadrature weights, so the
    sampled transform is not the orthogonal projection onto the band-limited irreps and does not commute
    with the group: measured, the equivariance error falls only like 1 / (points per coefficient) and
    stalls, at about 0.25 / (points per coefficient) at best. When that estimate already exceeds
    ``tests.tolerance``, ``build`` will almost surely fail (not-equivariant). The default grid (``grid:
    auto``) is a weighted quadrature that build sizes to the tolerance."""
    out = []
    for layer in design.hidden:
        grid = layer.grid
        if grid is None or grid.rule is not None or grid.type == "elements" or (grid.type == "regular"):
            continue  # weighted rules, finite groups and escnn's uniform circles (exact rules themselves)
        estimate = UNWEIGHTED_ERROR_PER_PPC * grid.coefficients / grid.points
        if estimate > design.spec.tests.tolerance:
            message = (
                f"{layer.activation} samples an unweighted {grid.type} grid of {grid.points} points "
                f"({grid.points / grid.coefficients:.1f} per coefficient): expect an equivariance error of about "
                f"{estimate:.0%} or more, above tests.tolerance {design.spec.tests.tolerance:g}"
            )
            hint = "remove grid: (the default, grid: auto, picks a weighted quadrature that meets the tolerance)"
            out.append(make("grid-too-coarse", message, loaded.at(layer.path + ("grid",)), hint))
    return out


@rule(
    "EQ105",
    "empty-linear",
    Severity.ERROR,
    fix="Make the layer's two sides share at least one irrep: add to the hidden fields or the output an irrep "
    "that the layer's input carries.",
)
def empty_linear(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """A linear layer whose input and output share no irrep has no equivariant weights at all. By Schur's
    lemma the equivariant linear maps decompose into one block per irrep present on both sides, and here
    there is none: the layer's output is identically zero, and escnn cannot even evaluate it."""
    return [
        make(
            "empty-linear",
            f"linear layer {layer.index} ({_describe_linear(layer)}) has no equivariant weights: "
            f"{layer.in_type.irreps_string()} and {layer.out_type.irreps_string()} share no irrep",
            loaded.at(layer.path),
            "make the two sides share at least one irrep",
        )
        for layer in design.linears
        if not layer.blocks
    ]


#: unreachable outputs whose hint is searched for (each search re-analyses the spec with candidate repairs)
MAX_HINT_SEARCHES = 4


@rule(
    "EQ201",
    "unreachable-output",
    Severity.ERROR,
    fix="If no network could produce the irrep, add the input the hint names or remove the output; otherwise add "
    "a layer that mixes irreps (fourier_elu, a quotient layer or tensor_product) before the output, as the "
    "hint says.",
)
def unreachable_output(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """An output irrep does not depend on the input at all: it is identically zero, or a constant bias.
    Either no equivariant network could produce it from this input: an equivariant f has f(x) = ρ(h) f(x)
    for every h in the stabilizer of x, so an irrep without a vector fixed by the input's generic
    stabilizer is zero (a pseudovector from one polar vector under O(3), say). Or only this architecture
    cannot: its linear layers map each irrep only to itself (Schur's lemma) and its norm or gated layers
    never turn the irreps it has into this one (only trivial irreps carry a bias). The message says which,
    and which input or layer would fix it."""
    out: list[Finding] = []
    ideal = design.group.reachable(design.input.content())
    for c in _outputs(design):
        info = flow.final.get(c)
        if (info and info.deps) or _band_limited(design, c):
            continue
        what = "a constant (the bias)" if info else "identically zero"
        searched = len(out) < MAX_HINT_SEARCHES  # each search re-analyses the spec: bounded, whatever the spec
        if not ideal(c):
            reason = f"no equivariant map of {design.input.irreps_string()} can produce {c.name}"
            hint = needed_input(design, c) if searched else "impossible for any architecture from this input"
        elif flow.parity is not None and _plainly_reached(flow.parity, c):
            reason = _hidden_reason(flow.parity, c)
            hint = suggest_fix(loaded, design, c) if searched else _BREAK_HINT
        else:
            reason = f"{c.name} is reachable from the input, but not through this architecture"
            hint = suggest_fix(loaded, design, c) if searched else "add a layer that mixes irreps (fourier_elu or tensor_product)"
        out.append(make("unreachable-output", f"output {c.name} is {what}: {reason}", _output_at(loaded, c.name), hint))
    return out + _declared_parities(loaded, design, flow)


_BREAK_HINT = "break the inversion: a fourier_elu layer (regular representation), or two copies in a tensor_product field"


def _plainly_reached(parity: Parity, c: Irrep) -> bool:
    info = parity.plain.get(c)
    return info is not None and bool(info.deps)


def _inversion() -> str:
    return "every hidden layer commutes with the inversion x -> -x under which a degree-l field has parity (-1)^l (a hidden symmetry of this architecture)"


def _hidden_reason(parity: Parity, c: Irrep) -> str:
    nat = parity.lift.spell(parity.lift.natural(c))
    return f"{_inversion()}, so it can only make {c.name} as {nat}, and no equivariant map of this input makes {nat}"


def _declared_parities(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """SO(3) outputs declared with a parity (``pseudovector``, ``1_even``) whose declared sector stays zero."""
    parity = flow.parity
    if parity is None:
        return []
    out: list[Finding] = []
    for f, _ in design.output.entries:
        for irrep, sign in zip(f.irreps, f.parity, strict=False):
            sector = parity.lift.up(irrep, sign)
            info = parity.sectors[-1].get(sector)
            whole = flow.final.get(irrep)
            if (info and info.deps) or not (whole and whole.deps):  # reached, or reported above already
                continue
            out.append(_declared_finding(loaded, design, parity, f.name, sector, len(out) < MAX_HINT_SEARCHES))
    return out


def _declared_finding(loaded: LoadedSpec, design: Design, parity: Parity, name: str, sector: Irrep, searched: bool) -> Finding:
    spell = parity.lift.spell
    sign = "even" if parity.lift.parity(sector) > 0 else "odd"
    what = f"output {name} can never have its declared parity ({sign} under x -> -x, {parity.lift.sector_name(sector)} for degree {sector.freq})"
    lifted = parity.lifted
    if not parity.ideal(sector):
        sources = " + ".join(f"{m}x{spell(i)}" for i, m in sorted(lifted.input.content().items(), key=lambda x: x[0].name))
        reason = f"no equivariant map of {sources} can produce {spell(sector)}"
        hint = needed_input(lifted, sector, spell)
    else:
        reason = f"{_inversion()}, and nothing here breaks it"
        reached = partial(_sector_reached, sector=sector)
        hint = suggest_fix(loaded, design, parity.lift.down(sector), reached) if searched else _BREAK_HINT
    return make("unreachable-output", f"{what}: {reason}", _output_at(loaded, name), hint)


def _sector_reached(flow: Flow, sector: Irrep) -> bool:
    info = flow.parity.sectors[-1].get(sector) if flow.parity is not None else None
    return info is not None and bool(info.deps)


@rule(
    "EQ202",
    "unused-input",
    Severity.WARNING,
    fix="Remove the irrep from input if the task does not need it; otherwise add a layer that mixes irreps "
    "(fourier_elu, a quotient layer or tensor_product) so that it can reach an output.",
)
def unused_input(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """An input irrep influences no output: the network ignores it. Its information is dropped by a linear
    layer whose output lacks it (Schur's lemma), or stays on a path that never reaches an output irrep: a
    norm layer only rescales each field by a function of its own norm, and a gated layer lets scalars
    rescale other fields but never turns a vector back into a scalar."""
    used = set().union(*(info.deps for c, info in flow.final.items() if c in design.output.content()))
    return [
        make(
            "unused-input",
            f"input {i.name} influences no output",
            loaded.at(("input",)),
            "remove it from the input, or add a layer that mixes it in (fourier_elu, tensor_product)",
        )
        for i in _ordered(design.input.content())
        if i.name not in used
    ]


@rule(
    "EQ203",
    "decoupled",
    Severity.WARNING,
    fix="Add a layer that couples irreps (fourier_elu, a quotient layer or tensor_product) so that the outputs "
    "can depend on more than their own irrep of the input.",
)
def decoupled(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """The network splits into independent paths, one per irrep: every output depends only on the same
    irrep of the input. Linear layers never let different irreps interact (Schur's lemma) and a norm layer
    only couples the irreps inside one field, so a network of such layers is a bundle of separate networks:
    the scalar output never sees the length of the input vector, say. Only layers that multiply irreps
    together (Fourier and quotient layers, gated layers, tensor products) couple them."""
    outs = {c: flow.final[c].deps for c in _outputs(design) if c in flow.final and flow.final[c].deps}
    kinds = {i.name for i in design.input.content()} | {c.name for c in design.output.content()}
    mixes = any(set(src) - {out} for layer in flow.mixing for out, src in layer.items())
    if mixes or not outs or len(kinds) < 2 or any(deps - {c.name} for c, deps in outs.items()):
        return []
    paths = ", ".join(f"{c.name} <- {c.name}" for c in outs)
    return [
        make(
            "decoupled",
            f"the network splits into independent irrep paths ({paths})",
            loaded.at(("hidden",) if design.spec.hidden else ("output",)),
            "add a fourier_elu or tensor_product layer so that irreps can interact",
        )
    ]


@rule(
    "EQ204",
    "band-limit",
    Severity.ERROR,
    fix="Raise a hidden band_limit to at least the output irrep's frequency (the hint gives it); a frequency "
    "above the largest band-limit allowed cannot be carried, so remove it from the output.",
)
def band_limit(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """An output irrep has a higher frequency than every hidden layer can carry, so it cannot be reached
    although some equivariant network could produce it. A Fourier layer of band-limit L holds only the
    irreps of frequency at most L, and linear layers map each irrep only to itself (Schur's lemma), so an
    output irrep above every hidden band-limit, in no hidden field type, receives nothing, although tensor
    powers of the input contain it (l = 3 occurs in the third tensor power of l = 1)."""
    return [
        make(
            "band-limit",
            f"output {c.name} has frequency {c.freq}, above every hidden band-limit (max {_max_band_limit(design)})",
            _output_at(loaded, c.name),
            _band_limit_hint(c),
        )
        for c in _outputs(design)
        if _band_limited(design, c)
    ]


@rule(
    "EQ205",
    "parity-sector",
    Severity.WARNING,
    fix="If the output is axial (a torque, an angular momentum) or otherwise of the parity the message says is out "
    "of reach, break the hidden inversion as the hint says (a fourier_elu layer, or two copies in a tensor_product "
    "field); if it has the parity the network does reach, declare it (polar_vector, or 2_even, say) to say so.",
)
def parity_sector(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """An SO(3) output can only have one parity, although the input allows both. Give every degree-l irrep
    the parity (-1)^l of the spherical harmonics: linear, gated and norm layers, sphere layers and tensor
    products whose every path l1 x l2 -> l3 has an even sum all commute with the inversion x -> -x, so a
    network made only of them is O(3)-equivariant in disguise and its outputs are natural-parity functions
    of natural-parity inputs: a polar vector, never an axial one such as a torque r x F. Only a regular
    Fourier layer or a tensor product with an odd path (two copies of a vector give the cross product)
    breaks that symmetry. The output is reported per SO(3) irrep whose field declares no parity; an output
    declared with one (pseudovector, 1_even) that cannot be reached is an EQ201 error instead."""
    parity = flow.parity
    if parity is None:
        return []
    out: list[Finding] = []
    for c in _undeclared(design):
        alive = parity.final_sectors(c)
        missing = [s for s in parity.lift.sectors(c) if parity.ideal(s) and not (s in alive and alive[s].deps)]
        if missing and any(info.deps for info in alive.values()):
            out.append(_sector_finding(loaded, design, flow, c, missing[0], len(out) < MAX_HINT_SEARCHES))
    return out


def _undeclared(design: Design) -> list[Irrep]:
    return _ordered({i for f, _ in design.output.entries if not f.parity for i in f.irreps})


def _sector_finding(loaded: LoadedSpec, design: Design, flow: Flow, c: Irrep, missing: Irrep, searched: bool) -> Finding:
    assert flow.parity is not None
    lift = flow.parity.lift
    kept = lift.partner(missing)
    have, need = _spelled(design, c, kept, lift), _spelled(design, c, missing, lift)
    message = (
        f"output {c.name} can only be made as {have} ({lift.sector_name(kept)} parity): {_inversion()}, so {need} "
        f"({lift.sector_name(missing)} parity{', an axial vector such as a torque' if missing.name == '1e' else ''}) is out of reach, "
        "although the input allows it"
    )
    fix = suggest_fix(loaded, design, c, partial(_sector_reached, sector=missing)) if searched else _BREAK_HINT
    hint = f"if {c.name} is {need}, {fix.removeprefix('not reached by this architecture; ')}; if it is {have}, write {have} in the output to say so"
    return make("parity-sector", message, _output_at(loaded, c.name), hint)


def _spelled(design: Design, c: Irrep, sector: Irrep, lift: Lift) -> str:
    """The output term that declares this sector, in the basis the output has: polar_vector and pseudovector are
    in xyz, 1_odd and 1_even in escnn's irrep basis."""
    vector = any(f.basis == "xyz" and not f.parity and c in f.irreps for f, _ in design.output.entries)
    if c.freq == 1 and not vector:
        return "1_odd" if lift.is_natural(sector) else "1_even"
    return lift.spell(sector)


def _band_limit_hint(c: Irrep) -> str:
    if c.freq <= MAX_BAND_LIMIT:
        return f"raise a hidden band_limit to at least {c.freq}"
    return f"band-limits go up to {MAX_BAND_LIMIT}, so no Fourier layer carries frequency {c.freq}: remove it from the output"


def _band_limited(design: Design, c: Irrep) -> bool:
    top = _max_band_limit(design)
    carried = any(c in layer.out_type.content() for layer in design.hidden)
    return top is not None and c.freq > top and not carried and design.group.reachable(design.input.content())(c)


def _max_band_limit(design: Design) -> int | None:
    limits = [layer.band_limit for layer in design.hidden if layer.band_limit is not None]
    return max(limits) if limits else None


def _describe_linear(layer: Linear) -> str:
    return "into the output" if layer.path == ("output",) else f"into hidden[{layer.path[1]}]"


def _outputs(design: Design) -> list[Irrep]:
    return _ordered(design.output.content())


def _ordered(c: Iterable[Irrep]) -> list[Irrep]:
    return sorted(c, key=lambda i: (i.freq, repr(i.eid)))


def _output_at(loaded: LoadedSpec, name: str) -> Location:
    """Point at the term naming this irrep in the output string, or at the string."""
    match = re.search(rf"(?:^|\+|[xX*])\s*({re.escape(name)})\s*(?:\+|$)", loaded.spec.output)
    return loaded.at(("output",), offset=match.start(1) if match else 0)


DESIGN_RULES = [dropped_irrep, grid_too_small, grid_ill_conditioned, grid_too_coarse, empty_linear]
FLOW_RULES = [unreachable_output, band_limit, unused_input, decoupled, parity_sector]
