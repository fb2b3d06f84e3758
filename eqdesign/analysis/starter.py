"""`eqdesign init`'s starter specs: the first of a few candidate designs for a group that `check` passes,
written as a commented spec. The helpers that read features and make hidden layers serve `design` too."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ..exitcodes import ExitCode
from ..findings import Finding, Severity, printable
from ..spec.model import MAX_BAND_LIMIT
from ..spec.write import HiddenLayer, spec_group, spec_text
from ..theory.catalog import lookup_group
from ..theory.group import Group
from ..theory.irreps import Irrep, dimension
from ..theory.notation import NotationError, parse
from .checking import SpecResult, check_text

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")  # the spec's name (spec.model.Spec)
MAX_NAME = 100
MAX_FEATURES = 1200  # a Fourier layer's width, about (the flagship's first layer has 560)


@dataclass
class InitResult:
    """The starter spec (empty when there is none), the exit code, and what the user should read."""

    text: str
    exit_code: ExitCode
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK


def ordered(irreps: set[Irrep]) -> list[Irrep]:
    return sorted(irreps, key=lambda i: (i.freq, repr(i.eid)))


def _default_features(g: Group) -> str:
    """The group's vector and a scalar; without a vector, its lowest non-trivial irrep (or two scalars)."""
    if g.vector is not None:
        return "1x vector + 1x scalar"
    others = [i for i in g.irreps(None if g.finite else 2) if i != g.trivial]
    return f"1x{others[0].name} + 1x scalar" if others else "2x scalar"


def features(g: Group, option: str, text: str | None) -> tuple[str, set[Irrep]] | str:
    """The irreps string for the spec (whitespace tidied) and its irreps, or why it cannot be read."""
    text = " ".join((_default_features(g) if text is None else text).split())
    terms = parse(g, text)
    if isinstance(terms, NotationError):
        hint = f" (hint: {terms.hint})" if terms.hint else ""
        return f"{option}: {terms.message} in {text!r}{hint}"
    return text, {i for t in terms for i in t.field.irreps}


def _band_limit(irreps: set[Irrep]) -> int:
    return min(MAX_BAND_LIMIT, max([2] + [i.freq for i in irreps]))


def _finite_channels(g: Group) -> int:
    """Channels of regular fields: about 64 to 240 features a layer, as in the gallery."""
    return max(1, min(8, 240 // (g.order or 1)))


def tp_field(g: Group, irreps: set[Irrep], copies: int) -> str:
    """A tensor-product field: the trivial irrep once (it passes the others on), every other irrep ``copies`` times."""
    terms = [f"{1 if i == g.trivial else copies}x{i.name}" for i in ordered(irreps | {g.trivial})]
    return " + ".join(terms)


def norm_fields(g: Group, irreps: set[Irrep], channels: int) -> str:
    return " + ".join(f"{channels}x{i.name}" for i in ordered(irreps | {g.trivial}))


def _tensor_then_norm(g: Group, irreps: set[Irrep], copies: int, depth: int, channels: int = 4) -> list[HiddenLayer]:
    tp = HiddenLayer("tensor_product", channels=channels, field=tp_field(g, irreps, copies))
    return [tp] * depth + [HiddenLayer("norm_relu", fields=norm_fields(g, irreps, channels))]


def _candidates(g: Group, irreps: set[Irrep]) -> list[list[HiddenLayer]]:
    """Hidden layers to try, the gallery's choice for the group's family first."""
    if g.finite:
        elu = HiddenLayer("elu", channels=_finite_channels(g))
        tp = HiddenLayer("tensor_product", channels=4, field=tp_field(g, irreps, 2))
        return [[elu], [elu, elu], [tp, elu]]
    if not g.grid_types():  # no Fourier layers here (the cylinders): tensor products and norm layers
        every = irreps | set(g.irreps(_band_limit(irreps)))  # products of products pass through every irrep
        return [
            _tensor_then_norm(g, irreps, 1, 1),
            _tensor_then_norm(g, irreps, 2, 1),
            _tensor_then_norm(g, every, 1, 2),
            _tensor_then_norm(g, every, 1, 3, channels=2),
        ]
    L = _band_limit(irreps)
    first = [HiddenLayer("fourier_elu", channels=_width(g.regular(L), 16 if g.key == "so3" else 8), band_limit=L)]
    if g.key == "so3":  # the flagship's design: a cheap sphere layer after it
        first.append(HiddenLayer("quotient_fourier_elu", channels=_width(g.quotient("sphere", L), 8), band_limit=L))
    higher = min(MAX_BAND_LIMIT, L + 1)
    wide = HiddenLayer("fourier_elu", channels=_width(g.regular(higher), 16), band_limit=higher)
    tp = HiddenLayer("tensor_product", channels=4, field=tp_field(g, irreps, 2))
    return [first, [wide], [tp, HiddenLayer("fourier_elu", channels=_width(g.regular(L), 8), band_limit=L)]]


def _width(channel: Counter[Irrep], preferred: int) -> int:
    """``preferred`` channels, fewer where a channel is wide (high band-limits), at least one."""
    return max(1, min(preferred, MAX_FEATURES // dimension(channel)))


def _check_text(text: str, name: str) -> SpecResult:
    return check_text(text, f"{name}.yaml")


def _option(f: Finding) -> str:
    where = f.location.spec_path
    return "--output" if where.startswith("output") else "--input" if where.startswith("input") else "--input/--output"


def _messages(result: SpecResult) -> list[str]:
    out = []
    for f in result.all_findings():
        if f.severity == Severity.ERROR:
            hint = f" (hint: {f.hint})" if f.hint else ""
            out.append(f"{_option(f)}: {f.message}{hint}")
    return out or [f"--input/--output: no starter design passes the check ({result.errors} errors)"]


def spec_name(g: Group, name: str | None) -> str | None:
    chosen = name if name is not None else f"{spec_group(g)}-mlp"
    return chosen if NAME_PATTERN.fullmatch(chosen) and len(chosen) <= MAX_NAME else None


def starter(group: str = "so3", input: str | None = None, output: str | None = None, name: str | None = None) -> InitResult:
    """A commented starter spec for ``group`` (spelled as in specs: so3, c8, d6, full_ico, ...) from ``input``
    to ``output``, irreps strings (the input by default the group's vector and a scalar, the output by default
    the input), named ``name``. Its exit code is OK only when ``eqdesign check`` passes the text (exit 0);
    otherwise SPEC (or INTERNAL), with messages."""
    g = lookup_group(group, None)
    if isinstance(g, str):
        return InitResult("", ExitCode.SPEC, [f"--group: {g}"])
    chosen = spec_name(g, name)
    if chosen is None:
        why = f"{printable(str(name))!r} is not a spec name: letters, digits, '_', '.', '-', starting with a letter or digit, at most {MAX_NAME}"
        return InitResult("", ExitCode.SPEC, [f"--name: {why}"])
    inp = features(g, "--input", input)
    out = features(g, "--output", output if output is not None else input)  # by default, what comes in goes out
    if isinstance(inp, str) or isinstance(out, str):
        return InitResult("", ExitCode.SPEC, [x for x in (inp, out) if isinstance(x, str)])
    return _first_passing(g, chosen, inp, out)


def _first_passing(g: Group, name: str, inp: tuple[str, set[Irrep]], out: tuple[str, set[Irrep]]) -> InitResult:
    """The first candidate design that check passes without a warning, else the first that passes at all."""
    passing: list[tuple[list[HiddenLayer], SpecResult]] = []
    first: SpecResult | None = None
    for hidden in _candidates(g, inp[1] | out[1]):
        text = spec_text(g, name, inp[0], out[0], hidden)
        result = _check_text(text, name)
        if result.internal_error:
            return InitResult("", ExitCode.INTERNAL, [f"eqdesign failed on the starter spec: {result.internal_error}"])
        if result.exit_code() == ExitCode.OK and not result.warnings:
            return InitResult(text, ExitCode.OK)
        if result.exit_code() == ExitCode.OK:
            passing.append((hidden, result))
        first = first or result
    if passing:
        return _announced(g, name, inp[0], out[0], passing[0])
    assert first is not None
    return InitResult("", ExitCode.SPEC, _messages(first))


def _announced(g: Group, name: str, inp: str, out: str, passing: tuple[list[HiddenLayer], SpecResult]) -> InitResult:
    """A passing design that check warns about, with its warnings announced in the text (checked again)."""
    hidden, result = passing
    warnings = [f for f in result.all_findings() if f.severity == Severity.WARNING]
    text = spec_text(g, name, inp, out, hidden, warnings)
    again = _check_text(text, name)
    if again.exit_code() != ExitCode.OK or again.warnings != len(warnings):
        return InitResult("", ExitCode.INTERNAL, [f"the starter spec changed its verdict when commented: {again.all_findings()}"])
    return InitResult(text, ExitCode.OK)
