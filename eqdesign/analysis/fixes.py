"""Hints for unreachable outputs, found by trying changes and re-running the analysis.

For an output that no network can produce, it tries adding one input irrep; for one this architecture
misses, it tries the usual repairs (regular instead of quotient, two copies in a tensor-product field, a
higher band-limit, an extra Fourier layer) and names the first that works.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ..spec.load import LoadedSpec
from ..spec.model import MAX_BAND_LIMIT, FourierLayer, Layer, PointwiseLayer, QuotientLayer, Spec, TensorProductLayer
from ..theory.irreps import Irrep
from .design import Design

if TYPE_CHECKING:
    from .dataflow import Flow


def nickname(design: Design, irrep: Irrep, spell: Callable[[Irrep], str] | None = None) -> str:
    if spell is not None:  # a lifted design speaks of its sectors as the spec writes them
        return spell(irrep)
    g = design.group
    names = {g.trivial.name: "scalar"}
    if g.vector is not None and len(g.vector.irreps) == 1:
        names[g.vector.irreps[0].name] = "vector"
    names.update(getattr(g, "nicknames", {}))
    return f"{irrep.name} ({names[irrep.name]})" if irrep.name in names else irrep.name


def needed_input(design: Design, c: Irrep, spell: Callable[[Irrep], str] | None = None) -> str:
    g, src = design.group, design.input.content()
    options: list[str] = []
    for i in sorted(src, key=lambda x: (x.freq, repr(x.eid))):
        if g.reachable(src + Counter({i: 1}))(c):
            options.append(f"a {'second' if src[i] == 1 else 'further'} {nickname(design, i, spell)}")
    top = max([c.freq, 1] + [i.freq for i in src])
    for i in g.irreps(None if g.finite else c.freq + top):
        if i not in src and g.reachable(src + Counter({i: 1}))(c):
            options.append(f"a {nickname(design, i, spell)} input")
    if not options:
        return "no single extra input irrep makes it reachable; remove it from the output"
    return "impossible for any architecture; it would need " + " or ".join(options[:3])


#: repairs tried per unreachable output (each re-analyses the whole spec)
MAX_CANDIDATES = 8


def suggest_fix(loaded: LoadedSpec, design: Design, c: Irrep, reached: Callable[[Flow], bool] | None = None) -> str:
    """The first repair after which output ``c`` depends on the input (or ``reached`` holds)."""
    from .dataflow import analyse
    from .resolve import resolve

    for spec, advice in itertools.islice(_valid(_candidates(design, c)), MAX_CANDIDATES):
        res = resolve(replace(loaded, spec=spec))
        if res.design is not None and not res.findings:
            flow = analyse(res.design)
            info = flow.final.get(c)
            if reached(flow) if reached is not None else info is not None and bool(info.deps):
                return "not reached by this architecture; " + advice
    return "not reached by this architecture; add a layer that mixes irreps (fourier_elu or tensor_product) before the output"


def _valid(candidates: Iterator[tuple[Spec, str]]) -> Iterator[tuple[Spec, str]]:
    """Only candidates the spec language accepts (a band-limit above its maximum is none): a hint must never
    propose what check would refuse."""
    while True:
        try:
            spec, advice = next(candidates)
        except StopIteration:
            return
        except ValidationError:
            continue
        try:
            yield Spec.model_validate(spec.model_dump()), advice
        except ValidationError:
            continue


def _with_layer(spec: Spec, i: int, layer: Layer) -> Spec:
    hidden = list(spec.hidden)
    hidden[i] = layer
    return spec.model_copy(update={"hidden": hidden})


def _candidates(design: Design, c: Irrep) -> Iterator[tuple[Spec, str]]:
    spec = design.spec
    for i, layer in enumerate(spec.hidden):
        if isinstance(layer, (FourierLayer, QuotientLayer)) and layer.nonlinearity.endswith("_poly"):
            have = layer.degree or 2
            for p in range(have + 1, min(have + 3, 6) + 1):
                yield (
                    _with_layer(spec, i, layer.model_copy(update={"degree": p})),
                    f"raise degree of hidden[{i}] to {p}: a degree-{have} polynomial only makes Sym^0..Sym^{have} of its channel",
                )
        if isinstance(layer, QuotientLayer):
            kind = "fourier_poly" if layer.nonlinearity.endswith("_poly") else "fourier_elu"
            band = min(max(layer.band_limit, c.freq), MAX_BAND_LIMIT)
            fourier = FourierLayer.model_validate(
                {"nonlinearity": kind, "channels": layer.channels, "band_limit": band, "degree": layer.degree}
            )
            yield (
                _with_layer(spec, i, fourier),
                f"use {kind} (the regular representation) instead of the quotient in hidden[{i}]: the quotient lacks the slots it needs",
            )
        if isinstance(layer, TensorProductLayer):
            doubled = layer.model_copy(update={"field": f"{layer.field} + {layer.field}"})
            yield (
                _with_layer(spec, i, doubled),
                f"put two copies in the tensor_product field of hidden[{i}] (field: '{doubled.field}'): a single copy only meets itself",
            )
        if isinstance(layer, (FourierLayer, QuotientLayer)) and layer.band_limit is not None and layer.band_limit < c.freq:
            yield _with_layer(spec, i, layer.model_copy(update={"band_limit": c.freq})), f"raise band_limit of hidden[{i}] to {c.freq}"
    top = max([c.freq, 1] + [i.freq for i in design.input.content()])
    extra = (
        PointwiseLayer(nonlinearity="elu", channels=8)
        if design.group.finite
        else FourierLayer(nonlinearity="fourier_elu", channels=8, band_limit=min(top, MAX_BAND_LIMIT))
    )
    text = (
        "{nonlinearity: elu, channels: 8}"
        if design.group.finite
        else f"{{nonlinearity: fourier_elu, band_limit: {min(top, MAX_BAND_LIMIT)}, channels: 8}}"
    )
    yield (
        spec.model_copy(update={"hidden": list(spec.hidden) + [extra]}),
        f"add a mixing layer such as {text}; linear and gated layers never mix irreps, and norm layers only within a field",
    )
