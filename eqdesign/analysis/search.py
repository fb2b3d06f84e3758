"""The design search (`eqdesign design`, `eqdesign.design`): search architectures for a group, an input, an output and a parameter budget.

Every candidate is a spec text judged by the real ``check_file`` (a few ms each): families of nonlinearities
(Fourier, quotient, gated, norm, tensor product and mixes), band-limits from what the features need upward,
and the widest channels that fit the budget. Candidates with an error, a decoupled network or an unused input
are rejected, each family with the check's own reason; the rest are ranked by predicted equivariance error
(0 for exact layers; auto grids are sized by build to the tolerance), then parameters (more capacity first),
then the predicted time per sample (multiply-adds and elementwise work, ``cost.time_units``). Polynomial Fourier layers are exact but a weaker activation: they rank after every
design with ELU that reaches the tolerance, and win where none can (a tolerance too tight for an affordable
grid). A sampled design whose ``grid: auto`` would need a rule beyond build's limits to reach the tolerance
is rejected. ``measure`` builds the top K and ranks them by measured error and speed instead.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from ..exitcodes import ExitCode
from ..findings import Finding, Severity
from ..spec.model import MAX_BAND_LIMIT
from ..spec.write import HiddenLayer, spec_group, spec_text
from ..theory.group import Group
from ..theory.irreps import Irrep, content
from ..theory.notation import NotationError, parse
from .budget import Limits, tolerance_excesses
from .checking import SpecResult, check_text
from .cost import cost_totals
from .starter import features, norm_fields, ordered, spec_name, tp_field

MAX_CHANNELS = 256
#: findings that disqualify a candidate although check passes it: the network ignores part of the ask (an input,
#: or a parity of an output that the hidden inversion of SO(3) layers rules out)
DISQUALIFYING = ("decoupled", "unused-input", "parity-sector")


@dataclass(frozen=True)
class Ask:
    group: str
    input: str
    output: str
    params: int = 50_000
    tolerance: float = 0.02
    layers: int | None = None
    name: str | None = None
    partial: str | None = None  # a spec file: its group, input and output, and its hidden layers kept first


@dataclass
class Candidate:
    family: str
    hidden: list[HiddenLayer]
    band_limit: int | None
    channels: int
    result: SpecResult
    text: str
    measured_error: float | None = None
    seconds_per_batch: float | None = None
    val_loss: float | None = None  # after a short training on the user's data (design --data)

    @property
    def params(self) -> int:
        assert self.result.design is not None
        return self.result.design.params

    @functools.cached_property
    def cost(self) -> dict[str, int]:
        """The cost model's totals (ranking, the table and the JSON all read them)."""
        assert self.result.design is not None
        return cost_totals(self.result.design)

    @property
    def exact(self) -> bool:
        """No sampled Fourier layer of a continuous group: equivariant to rounding."""
        assert self.result.design is not None
        d = self.result.design
        return d.group.finite or all(x.kind not in ("fourier", "quotient") or x.poly_degree is not None for x in d.hidden)

    @property
    def poly(self) -> bool:
        """Some layer has a polynomial activation (exact, but less expressive than ELU)."""
        assert self.result.design is not None
        return any(x.poly_degree is not None for x in self.result.design.hidden)

    def predicted_error(self, tolerance: float) -> float:
        return 0.0 if self.exact else tolerance


@dataclass
class DesignResult:
    ask: Ask
    exit_code: ExitCode
    text: str = ""
    messages: list[str] = field(default_factory=list)
    ranked: list[Candidate] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (family, one-line reason)
    measured: bool = False
    seconds: float = 0.0
    trained: str = ""  # design --data: how the candidates were trained (steps, the data file and its SHA-256)

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK


# -- families ---------------------------------------------------------------------------------------------

Maker = Callable[[int], HiddenLayer]  # channels -> one hidden layer
#: measures the best candidates in place; returns how they were trained where it ranks by training (design --data)
Measure = Callable[[list["Candidate"]], str | None]


def _makers(g: Group, irreps: set[Irrep], L: int) -> dict[str, Maker]:
    """One hidden layer of each kind the group supports, as a function of its channels."""
    nontrivial = [i for i in ordered(irreps) if i != g.trivial]
    makers: dict[str, Maker] = {
        "tensor": lambda c: HiddenLayer("tensor_product", channels=c, field=tp_field(g, irreps, 1)),
        # two copies of each irrep: products of different copies (a cross product), which one copy lacks
        "tensor2": lambda c: HiddenLayer("tensor_product", channels=c, field=tp_field(g, irreps, 2)),
        "norm": lambda c: HiddenLayer("norm_relu", fields=norm_fields(g, irreps, c)),
    }
    if nontrivial:
        makers["gated"] = lambda c: HiddenLayer("gated", fields=" + ".join(f"{c}x{i.name}" for i in nontrivial), scalars=c)
    if g.finite:
        makers["elu"] = lambda c: HiddenLayer("elu", channels=c)
    elif g.grid_types():
        makers["fourier"] = lambda c: HiddenLayer("fourier_elu", channels=c, band_limit=L)
        if g.quotients():
            makers["quotient"] = lambda c: HiddenLayer("quotient_fourier_elu", channels=c, band_limit=L)
        # exactly equivariant on their own rule: what a tolerance too tight for a sampled grid needs
        makers["fourier_poly"] = lambda c: HiddenLayer("fourier_poly", channels=c, band_limit=L)
        if g.quotients():
            makers["quotient_poly"] = lambda c: HiddenLayer("quotient_fourier_poly", channels=c, band_limit=L)
    return makers


#: hidden layer kinds whose channels depend on the band-limit
BANDED = ("fourier", "quotient", "fourier_poly", "quotient_poly")


#: the families searched: the kinds of their hidden layers in order (the last one repeats for deeper nets)
PATTERNS: dict[str, tuple[str, ...]] = {
    "fourier": ("fourier",),
    "quotient": ("quotient",),
    "fourier+quotient": ("fourier", "quotient"),
    "fourier_poly": ("fourier_poly",),
    "quotient_poly": ("quotient_poly",),
    "elu": ("elu",),
    "tensor+norm": ("tensor", "norm"),
    "tensor+gated": ("tensor", "gated"),
    "tensor+fourier": ("tensor", "fourier"),
    "tensor+elu": ("tensor", "elu"),
    "tensor2+norm": ("tensor2", "norm"),
    "tensor2+gated": ("tensor2", "gated"),
    "gated": ("gated",),
    "norm": ("norm",),
    "gated+norm": ("gated", "norm"),
}


def _depths(pattern: tuple[str, ...], layers: int | None) -> list[int]:
    if layers is not None:
        return [layers] if layers >= len(pattern) else []
    return sorted({len(pattern), min(3, len(pattern) + 1)})


def _band_limits(g: Group, irreps: set[Irrep]) -> list[int | None]:
    """From the highest frequency the features need (at least 1) upward, for groups with Fourier layers."""
    if g.finite or not g.grid_types():
        return [None]
    need = max([1] + [i.freq for i in irreps])
    return [*sorted({min(need, MAX_BAND_LIMIT), min(need + 1, MAX_BAND_LIMIT)})]


# -- the search -----------------------------------------------------------------------------------------


class _Checker:
    """Spec texts checked as the file the chosen one will be (its name, in the findings' locations)."""

    def __init__(self, name: str) -> None:
        self.file = f"{name}.yaml"

    def __call__(self, text: str) -> SpecResult:
        return check_text(text, self.file)


@dataclass(frozen=True)
class _Setting:
    g: Group
    name: str
    inp: str
    out: str
    tolerance: float
    kept: tuple[HiddenLayer, ...] = ()  # the partial spec's hidden layers, before the searched ones
    output_label: str = "--output"  # where the output came from, in messages (the option, or the partial spec)


def _text(s: _Setting, hidden: list[HiddenLayer], about: list[str] | None = None, warnings: list[Finding] | None = None) -> str:
    return spec_text(s.g, s.name, s.inp, s.out, [*s.kept, *hidden], warnings, about, s.tolerance)


def _widest(s: _Setting, check: _Checker, make: Callable[[int], list[HiddenLayer]], budget: int) -> tuple[int, SpecResult] | SpecResult:
    """The most channels whose design fits the budget (params grow with channels: a binary search), or the
    one-channel result when even that does not fit or does not check."""
    first = check(_text(s, make(1)))
    if first.design is None or first.design.params > budget or first.exit_code() != ExitCode.OK:
        return first
    lo, hi, best = 1, MAX_CHANNELS, (1, first)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        r = check(_text(s, make(mid)))
        if r.design is not None and r.design.params <= budget and r.exit_code() == ExitCode.OK:
            lo, best = mid, (mid, r)
        else:
            hi = mid - 1
    return best


def _why(result: SpecResult, budget: int, tolerance: float) -> str | None:
    """Why a candidate is rejected (check's own words, or build's limits at the tolerance), or None when it
    is accepted."""
    bad = [f for f in result.all_findings() if f.severity == Severity.ERROR or f.rule in DISQUALIFYING]
    bad.sort(key=lambda f: f.severity != Severity.ERROR)  # an error says most
    if bad:
        f = bad[0]
        hint = f" (hint: {f.hint})" if f.hint else ""
        return f"{f.rule_id} {f.rule}: {' '.join(f.message.split())}{hint}"
    if result.design is not None and result.design.params > budget:
        return f"{result.design.params:,} parameters at one channel, above the budget of {budget:,}"
    return _unaffordable(result, tolerance) or _missing_influence(result)


def _unaffordable(result: SpecResult, tolerance: float) -> str | None:
    """A sampled design whose ``grid: auto`` build could not finish at this tolerance: the rule the tolerance
    needs is beyond build's own limits (the build would climb for ever, then fail)."""
    if result.design is None:
        return None
    excesses = tolerance_excesses(result.design, tolerance, Limits.from_env())
    if not excesses:
        return None
    return f"{excesses[0]}: exact layers (fourier_poly, quotient_fourier_poly) need no grid search, or loosen --tolerance"


def _missing_influence(result: SpecResult) -> str | None:
    """An output that cannot depend on an input which some architecture could make it depend on (check's
    influence against its ideal influence): the network would ignore part of what the task needs."""
    real, ideal = result.influence, result.ideal_influence
    for out, sources in ideal.items():
        missing = [i for i in sources if i not in real.get(out, [])]
        if missing:
            return (
                f"output {out} cannot depend on input {', '.join(missing)} through these layers, although some "
                "equivariant network can (needs a layer that mixes them: Fourier, quotient or tensor product)"
            )
    return None


def search(ask: Ask, s: _Setting, irreps: set[Irrep], check: _Checker) -> tuple[list[Candidate], list[tuple[str, str]]]:
    accepted: list[Candidate] = []
    reasons: dict[str, str] = {}
    limits = _band_limits(s.g, irreps)
    for L in limits:
        makers = _makers(s.g, irreps, L or 1)
        for family, pattern in PATTERNS.items():
            sampled = any(k in BANDED for k in pattern)
            if not all(k in makers for k in pattern) or (not sampled and limits[0] != L):
                continue  # a family without Fourier layers does not depend on the band-limit
            for depth in _depths(pattern, ask.layers):
                kinds = [pattern[min(i, len(pattern) - 1)] for i in range(depth)]

                def make(c: int, kinds: list[str] = kinds, makers: dict[str, Maker] = makers) -> list[HiddenLayer]:
                    return [makers[k](c) for k in kinds]

                found = _widest(s, check, make, ask.params)
                if isinstance(found, SpecResult):
                    reasons.setdefault(family, _why(found, ask.params, ask.tolerance) or "no width fits the budget")
                    continue
                channels, result = found
                why = _why(result, ask.params, ask.tolerance)
                if why is not None:
                    reasons.setdefault(family, why)
                    continue
                accepted.append(Candidate(family, make(channels), L if sampled else None, channels, result, _text(s, make(channels))))
    good = {c.family for c in accepted}
    return accepted, [(f, r) for f, r in reasons.items() if f not in good]


def rank(candidates: list[Candidate], tolerance: float, budget: int) -> list[Candidate]:
    """Designs with ELU before polynomial ones (a weaker activation, chosen only where no design with ELU
    reaches the tolerance); then predicted error; then the budget used, in tenths (a design that uses it has
    more capacity, and designs within a tenth of each other tie); then the time per sample the cost model
    predicts (``time_units``: multiply-adds and elementwise work, faster first)."""
    return sorted(candidates, key=lambda c: (c.poly, c.predicted_error(tolerance), -(10 * c.params // budget), c.cost["time_units"]))


# -- the result -----------------------------------------------------------------------------------------


def run_search(ask: Ask, measure: Measure | None = None) -> DesignResult:
    """Search, rank, and write the winner's commented spec (checked again). Exit 2 for a bad ask, 1 when no
    architecture can reach the output (or none fits), 0 with the spec."""
    start = time.perf_counter()
    result = _design(ask, measure)
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def _setting(ask: Ask) -> _Setting | list[str]:
    from ..theory.catalog import lookup_group

    if ask.partial is not None:
        return _from_partial(ask)
    g = lookup_group(ask.group, None)
    if isinstance(g, str):
        return [f"--group: {g}"]
    return _validated(ask, g, (ask.input, "--input"), (ask.output, "--output"), ())


def _validated(
    ask: Ask, g: Group, inp_text: tuple[str, str], out_text: tuple[str, str], kept: tuple[HiddenLayer, ...], stem: str | None = None
) -> _Setting | list[str]:
    """The setting, or what is wrong with the ask; ``inp_text`` and ``out_text``: (irreps, where they came
    from, as messages name it)."""
    name = spec_name(g, ask.name or f"{stem or spec_group(g)}-design")
    inp, out = features(g, inp_text[1], inp_text[0]), features(g, out_text[1], out_text[0])
    problems = [x for x in (inp, out) if isinstance(x, str)]
    if ask.params < 1:
        problems.append("--params: the budget must be a positive number of parameters")
    if not 0 < ask.tolerance < 1:
        problems.append("--tolerance: a relative error between 0 and 1, such as 0.02")
    if name is None:
        problems.append("--name: letters, digits, '_', '.', '-', starting with a letter or digit")
    if problems or isinstance(inp, str) or isinstance(out, str) or name is None:
        return problems
    return _Setting(g, name, inp[0], out[0], ask.tolerance, kept, out_text[1])


def _from_partial(ask: Ask) -> _Setting | list[str]:
    """A partial spec: read as `check` reads it (a broken file gets check's located findings), its group,
    input and output taken, its hidden layers kept as they are, in front of the searched ones."""
    from ..spec.load import load_spec
    from ..theory.catalog import lookup_group

    assert ask.partial is not None
    loaded = load_spec(ask.partial)
    if isinstance(loaded, list):
        return [
            f"{f.location.file}:{f.location.line}:{f.location.column}: {f.message}" + (f" (hint: {f.hint})" if f.hint else "")
            for f in loaded
        ]
    spec = loaded.spec
    g = lookup_group(spec.group, None) if isinstance(spec.group, str) else lookup_group(spec.group.name, spec.group.n)
    if isinstance(g, str):
        return [f"{ask.partial}: group: {g}"]
    kept = tuple(
        HiddenLayer(layer.nonlinearity, kept=json.dumps(layer.model_dump(mode="json", exclude_unset=True))) for layer in spec.hidden
    )
    return _validated(ask, g, (spec.input, f"{ask.partial}: input"), (spec.output, f"{ask.partial}: output"), kept, spec.name)


def _design(ask: Ask, measure: Measure | None) -> DesignResult:
    s = _setting(ask)
    if isinstance(s, list):
        return DesignResult(ask, ExitCode.SPEC, messages=s)
    inp, out = features(s.g, "", s.inp), features(s.g, "", s.out)
    assert not isinstance(inp, str) and not isinstance(out, str)
    check = _Checker(s.name)
    impossible = _impossible(s, check, inp[1] | out[1], out[1])
    if impossible:
        return DesignResult(ask, ExitCode.FINDINGS, messages=impossible)
    accepted, rejected = search(ask, s, inp[1] | out[1], check)
    ranked = rank(accepted, ask.tolerance, ask.params)
    result = DesignResult(ask, ExitCode.FINDINGS, ranked=ranked, rejected=rejected)
    if not ranked:
        result.messages = ["no architecture passes the check within the budget; the families failed as listed"]
        return result
    if measure is not None:
        result.trained = measure(ranked) or ""
        result.ranked, result.measured = (rank_trained if result.trained else rank_measured)(ranked), True
    result.text = _final_text(s, result, check)
    result.exit_code = ExitCode.OK if result.text else ExitCode.INTERNAL
    return result


def _impossible(s: _Setting, check: _Checker, irreps: set[Irrep], out: set[Irrep]) -> list[str]:
    """When an output irrep is out of reach of every equivariant map of the input: check's own finding (its
    hint says what the input would need), on a design that mixes everything it can."""
    reachable = s.g.reachable(_content(s.g, s.inp))
    if all(reachable(c) for c in out):
        return []
    makers = _makers(s.g, irreps, 1)
    mixer = makers.get("fourier") or makers.get("elu") or makers["tensor"]
    result = check(_text(s, [mixer(1)]))
    found = [f for f in result.all_findings() if f.rule == "unreachable-output"]
    lines = [f"{s.output_label}: {' '.join(f.message.split())}" + (f" (hint: {f.hint})" if f.hint else "") for f in found]
    bad = ", ".join(c.name for c in ordered(out) if not reachable(c))
    return lines or [f"{s.output_label}: no equivariant map of the input can produce {bad}"]


def _content(g: Group, text: str) -> Counter[Irrep]:
    """The irreps of a features string, with their multiplicities (two vectors are not one)."""
    terms = parse(g, text)
    assert not isinstance(terms, NotationError)  # read once already by _features
    return content((i, t.mult) for t in terms for i in t.field.irreps)


def rank_measured(ranked: list[Candidate]) -> list[Candidate]:
    """Measured candidates first, by measured error (rounded to a decade: below that it is noise), then speed."""

    def key(c: Candidate) -> tuple[int, float, float]:
        if c.measured_error is None or c.seconds_per_batch is None:
            return (1, math.inf, math.inf)
        return (0, math.floor(math.log10(max(c.measured_error, 1e-16))), c.seconds_per_batch)

    return sorted(ranked, key=key)


def rank_trained(ranked: list[Candidate]) -> list[Candidate]:
    """Trained candidates first, by validation loss (to 3 significant digits: below that a short training
    does not tell them apart), then by parameters."""

    def key(c: Candidate) -> tuple[int, float, int]:
        if c.val_loss is None or not math.isfinite(c.val_loss):
            return (1, math.inf, c.params)
        return (0, float(f"{c.val_loss:.3g}"), c.params)

    return sorted(ranked, key=key)


def describe(c: Candidate) -> str:
    layers = ", ".join(h.nonlinearity for h in c.hidden)
    band = f", L={c.band_limit}" if c.band_limit is not None else ""
    return f"{c.family} ({layers}{band}, {c.channels} channels)"


def comparison_lines(result: DesignResult, top: int = 8) -> list[str]:
    tol = result.ask.tolerance
    trained = bool(result.trained)
    lines = [
        "rank  family                 L  ch    params  MACs/sample  escnn dense  time/sample  pred. err  measured"
        + ("   val loss" if trained else "")
    ]
    for k, c in enumerate(result.ranked[:top], 1):
        band = str(c.band_limit) if c.band_limit is not None else "-"
        measured = f"{c.measured_error:.1e}" if c.measured_error is not None else "-"
        loss = (f"  {c.val_loss:>9.3e}" if c.val_loss is not None else f"  {'-':>9}") if trained else ""
        cost = c.cost
        lines.append(
            f"{k:>4}  {c.family + f' x{len(c.hidden)}':<21} {band:>2} {c.channels:>3} {c.params:>9,} "
            f"{cost['compiled_macs']:>12,} {cost['escnn_dense_macs']:>12,} {cost['time_units']:>12,} {c.predicted_error(tol):>10.0e}  {measured}{loss}"
        )
    return lines


def _about(s: _Setting, result: DesignResult) -> list[str]:
    win = result.ranked[0]
    how = (
        "measured equivariance error, then speed" if result.measured else "predicted error, then parameters, then predicted time per sample"
    )
    if result.trained:
        how = f"validation loss after {result.trained}, then parameters"
    lines = [
        f"{s.name}: designed by `eqdesign design` for {s.g.label}: {s.inp} -> {s.out},",
        f"budget {result.ask.params:,} parameters, tolerance {result.ask.tolerance:g}.",
        f"Chosen: {describe(win)}, ranked first by {how}.",
        f"Exactly equivariant: {'yes' if win.exact else 'no (sampled Fourier layers; grid: auto meets the tolerance at build)'}.",
        "",
        "Candidates that pass `eqdesign check` (MACs per sample of the compiled model; time: MACs and elementwise work,",
        "`eqdesign check`'s cost model; auto grids at their starting rule):",
        *comparison_lines(result),
    ]
    if result.rejected:
        lines += ["", "Rejected families (check's reason):", *(f"  {f}: {why}" for f, why in result.rejected)]
    return lines + [""]


def _final_text(s: _Setting, result: DesignResult, check: _Checker) -> str:
    """The winner's commented text, with check's warnings announced (as init does); checked again."""
    win = result.ranked[0]
    warnings = [f for f in win.result.all_findings() if f.severity == Severity.WARNING]
    text = _text(s, win.hidden, _about(s, result), warnings)
    again = check(text)
    if again.exit_code() != ExitCode.OK or _why(again, result.ask.params, result.ask.tolerance) is not None:
        result.messages.append(f"the chosen spec changed its verdict when commented: {again.all_findings()}")
        return ""
    win.text = text
    return text
