"""Spec texts as eqdesign writes them (`init`, `design`): commented YAML, one comment block per setting,
that a person can read and edit, and that `check` reads back to the same design."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..findings import Finding
from ..theory.group import Group

__all__ = ["LAYER_COMMENTS", "TOLERANCE", "HiddenLayer", "spec_group", "spec_text"]

TOLERANCE = 0.02  # the gallery's tests.tolerance


@dataclass(frozen=True)
class HiddenLayer:
    nonlinearity: str
    channels: int | None = None
    band_limit: int | None = None
    field: str | None = None  # tensor_product
    fields: str | None = None  # norm and gated layers
    scalars: int | None = None  # gated layers: ELU'd trivial fields beside the gated ones
    kept: str | None = None  # a layer taken as it is from a partial spec (design --from): its flow mapping


#: what each nonlinearity does, as the comment above it in the starter
LAYER_COMMENTS: dict[str, list[str]] = {
    "fourier_elu": [
        "fourier_elu: ELU applied pointwise to signals on the group: each channel is a band-limited regular",
        "representation (every irrep up to frequency band_limit), sampled on a grid, activated, and read back.",
        "It mixes irreps, which is what lets outputs depend on products of the inputs. The grid is left to",
        "build (grid: auto): the smallest weighted quadrature that meets tests.tolerance.",
    ],
    "quotient_fourier_elu": [
        "quotient_fourier_elu: the same on a quotient space (the sphere for SO(3)): fewer irreps per channel,",
        "so it is cheaper; it carries only the irreps that have a vector fixed by the quotient's subgroup.",
    ],
    "fourier_poly": [
        "fourier_poly: as fourier_elu, with a quadratic (the least-squares fit of ELU on [-3, 3]) instead of",
        "ELU: its grid (chosen by check) integrates every product exactly, so the layer is exactly",
        "equivariant, at any tolerance, for a less expressive activation.",
    ],
    "quotient_fourier_poly": [
        "quotient_fourier_poly: the same quadratic on a quotient space (the sphere for SO(3)): exactly",
        "equivariant, and cheaper than fourier_poly.",
    ],
    "elu": [
        "elu: ELU on regular fields: each channel holds one value per group element, so the activation is",
        "exactly equivariant and mixes every irrep of the group.",
    ],
    "tensor_product": [
        "tensor_product: each channel's field is multiplied by itself (x ⊗ x) and projected back onto the",
        "field: products of irreps (|v|^2, z * v, ...) with no sampling, so it is exactly equivariant. The",
        "trivial irrep in the field passes the other irreps on unchanged.",
    ],
    "gated": [
        "gated: each non-trivial field is multiplied by the sigmoid of a scalar gate of its own, and the scalars",
        "are ELU'd: scalars can rescale vectors, but irreps are not turned into one another.",
    ],
    "norm_relu": [
        "norm_relu: each field is rescaled by a ReLU of its norm (plus a learned bias): directions are kept,",
        "irreps are not mixed.",
    ],
}


def spec_group(g: Group) -> str:
    """How the spec names the group: ``c8``/``d6`` for the ordered groups, the key otherwise."""
    for long, short in (("cyclic", "c"), ("dihedral", "d")):
        if g.key.startswith(long) and g.key[len(long) :].isdigit():
            return short + g.key[len(long) :]
    return g.key


def _comment(lines: list[str], indent: str = "") -> list[str]:
    return [f"{indent}# {line}" for line in lines]


def _header(g: Group, name: str, expected: list[str], about: list[str] | None = None) -> list[str]:
    vector = g.vector
    what = f'"vector" is the standard representation ({" + ".join(i.name for i in vector.irreps)}, {vector.basis})' if vector else ""
    scalar = f'"scalar" the trivial irrep {g.trivial.name} (an invariant number)'
    aliases = f"{what}; {scalar}" if what else scalar
    return [
        *(about or [f"# {name}: a starter spec for {g.label}, made by `eqdesign init`."]),
        "# Check it with `eqdesign check FILE` (what each layer holds, which outputs the input can reach, findings),",
        "# then build, test and export it with `eqdesign build FILE -o out`. `eqdesign rules` documents every finding.",
        *expected,
        "",
        "# name: the model's name; build writes NAME.pt, NAME.pt2, NAME.report.json and NAME.md.",
        f"name: {json.dumps(name)}",
        f"# group: the symmetry the network respects, here {g.label}. `eqdesign groups` lists every group,",
        f"# `eqdesign groups {spec_group(g)}` the irreps of this one.",
        f"group: {spec_group(g)}",
        "# input: the features the network reads, as MULTxIRREP terms joined by '+', in this order;",
        f"# {aliases}.",
    ]


def _layer_lines(layer: HiddenLayer) -> list[str]:
    if layer.kept is not None:
        return ["  # kept as the partial spec gives it", f"  - {layer.kept}"]
    lines = _comment(LAYER_COMMENTS[layer.nonlinearity], "  ") + [f"  - nonlinearity: {layer.nonlinearity}"]
    if layer.band_limit is not None:
        lines.append(f"    band_limit: {layer.band_limit}  # highest irrep frequency each channel carries")
    if layer.field is not None:
        lines.append(f"    field: {json.dumps(layer.field)}  # the irreps of one channel")
    if layer.fields is not None:
        lines.append(f"    fields: {json.dumps(layer.fields)}  # the fields this layer acts on")
    if layer.channels is not None:
        lines.append(f"    channels: {layer.channels}  # copies of the channel: the layer's width")
    if layer.scalars is not None:
        lines.append(f"    scalars: {layer.scalars}  # ELU'd trivial fields beside the gated ones")
    return lines


def _expected(warnings: list[Finding]) -> list[str]:
    """Comment lines that announce the warnings check gives on this starter, and why they are expected."""
    if not warnings:
        return []
    lines = ["", "# `eqdesign check` warns about this starter (warnings do not fail the check):"]
    lines += [f"#   {f.rule_id} {f.rule}: {' '.join(f.message.split())}" for f in warnings]
    if any(f.rule == "dropped-irrep" for f in warnings):
        lines += [
            "# dropped-irrep is expected here: a nonlinear layer's channels carry more irreps than the next layer",
            "# takes (every irrep up to the band-limit, or all of the group's); the linear layer keeps the shared ones.",
        ]
    return lines


def spec_text(
    g: Group,
    name: str,
    inp: str,
    out: str,
    hidden: list[HiddenLayer],
    warnings: list[Finding] | None = None,
    about: list[str] | None = None,
    tolerance: float = TOLERANCE,
) -> str:
    """The commented spec; ``about``: its first comment lines (without '# '), by default init's."""
    lines = _header(g, name, _expected(warnings or []), [f"# {x}" if x else "#" for x in about] if about else None)
    lines += [f"input: {json.dumps(inp)}"]
    lines += [
        "# output: what the network predicts, in the same notation. An output irrep the input cannot reach is an",
        "# error of `eqdesign check` (EQ201), which also says what would fix it.",
        f"output: {json.dumps(out)}",
        "# hidden: the nonlinear layers, in order. An equivariant linear layer comes before each of them and",
        "# before the output; its weights are the Schur blocks check prints.",
        "hidden:",
    ]
    for layer in hidden:
        lines += _layer_lines(layer)
    lines += [
        "# tests: how `eqdesign build` tests the equivariance of what it builds.",
        "tests:",
        f"  tolerance: {tolerance:g}  # largest relative error of sampled Fourier layers (exact layers must reach 1e-5)",
        "  samples: 32  # random group elements tested (all of them for a finite group)",
        "  scales: [0.1, 1.0, 10.0]  # input magnitudes tested",
        "  seed: 0  # seed of the weights and of the samples",
    ]
    return "\n".join(lines) + "\n"
