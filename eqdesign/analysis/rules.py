"""The check functions of the analysis rules (``Stage.CHECK`` in codes.py, which documents each). Each returns
one rule's findings for one design and never raises; ``CHECKS`` says which function finds which rule."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import partial

from ..findings import Finding, Location, make
from ..spec.load import LoadedSpec
from ..spec.model import MAX_BAND_LIMIT
from ..theory.irreps import Irrep, format_content
from .dataflow import Flow, Parity
from .design import Design, Linear, Nonlinear
from .fixes import needed_input, suggest_fix
from .parity import Lift


def dropped_irrep(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """EQ101: each linear layer whose output lacks an irrep of its input."""
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


def grid_too_small(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """EQ102: each Fourier layer sampling fewer points than its coefficients."""
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


def grid_ill_conditioned(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """EQ103: each Fourier grid with fewer than 1.5 points per coefficient."""
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


def grid_too_coarse(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """EQ107: each unweighted Fourier grid whose estimated equivariance error exceeds the tolerance."""
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


def empty_linear(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """EQ105: each linear layer whose two sides share no irrep."""
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


def unreachable_output(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """EQ201: each output irrep that no input reaches, and each declared parity out of reach."""
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


def unused_input(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """EQ202: each input irrep that reaches no output."""
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


def decoupled(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """EQ203: a network whose outputs each depend only on their own irrep of the input."""
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


def band_limit(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """EQ204: each output irrep above every hidden band-limit."""
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


def parity_sector(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """EQ205: each undeclared SO(3) output whose other parity the input allows but the network never makes."""
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


Check = Callable[[LoadedSpec, Design, Flow], list[Finding]]

#: the check function of each rule of ``Stage.CHECK``, by rule name, in the table's order (by id)
CHECKS: dict[str, Check] = {
    "dropped-irrep": dropped_irrep,
    "grid-too-small": grid_too_small,
    "grid-ill-conditioned": grid_ill_conditioned,
    "empty-linear": empty_linear,
    "grid-too-coarse": grid_too_coarse,
    "unreachable-output": unreachable_output,
    "unused-input": unused_input,
    "decoupled": decoupled,
    "band-limit": band_limit,
    "parity-sector": parity_sector,
}


def run_checks(loaded: LoadedSpec, design: Design, flow: Flow) -> list[Finding]:
    """The findings of every check function, in the order of the table."""
    return [f for check in CHECKS.values() for f in check(loaded, design, flow)]
