"""`eqdesign init`: a commented starter spec for a group, proven by the real check before it is handed out.

``starter`` writes the spec the gallery would write for the group's family (Fourier ELU with a band-limit on
continuous groups, ELU on regular fields for finite ones, tensor products and norm layers on the cylinders),
checks it, and tries a few richer designs when the first one fails. A spec is returned only once
``eqdesign check`` passes it; when the input and output cannot be joined (an output no equivariant map can
produce, an unknown irrep or group), the result says why, with the check's own message and hint.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import temp_beside, usual_mode
from ..exitcodes import ExitCode
from ..findings import Finding, Severity, printable
from ..results import SpecResult
from ..spec.model import MAX_BAND_LIMIT
from ..theory.catalog import lookup_group
from ..theory.group import Group
from ..theory.irreps import Irrep, dimension
from ..theory.notation import NotationError, parse
from .check import check_file

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")  # the spec's name (spec.model.Spec)
MAX_NAME = 100
TOLERANCE = 0.02  # the gallery's tests.tolerance
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


# -- the group and the features -------------------------------------------------------------------------


def _spec_group(g: Group) -> str:
    """How the spec names the group: ``c8``/``d6`` for the ordered groups, the key otherwise."""
    for long, short in (("cyclic", "c"), ("dihedral", "d")):
        if g.key.startswith(long) and g.key[len(long) :].isdigit():
            return short + g.key[len(long) :]
    return g.key


def _ordered(irreps: set[Irrep]) -> list[Irrep]:
    return sorted(irreps, key=lambda i: (i.freq, repr(i.eid)))


def _default_features(g: Group) -> str:
    """The group's vector and a scalar; without a vector, its lowest non-trivial irrep (or two scalars)."""
    if g.vector is not None:
        return "1x vector + 1x scalar"
    others = [i for i in g.irreps(None if g.finite else 2) if i != g.trivial]
    return f"1x{others[0].name} + 1x scalar" if others else "2x scalar"


def _features(g: Group, option: str, text: str | None) -> tuple[str, set[Irrep]] | str:
    """The irreps string for the spec (whitespace tidied) and its irreps, or why it cannot be read."""
    text = " ".join((_default_features(g) if text is None else text).split())
    terms = parse(g, text)
    if isinstance(terms, NotationError):
        hint = f" (hint: {terms.hint})" if terms.hint else ""
        return f"{option}: {terms.message} in {text!r}{hint}"
    return text, {i for t in terms for i in t.field.irreps}


# -- candidate designs ----------------------------------------------------------------------------------


def _band_limit(irreps: set[Irrep]) -> int:
    return min(MAX_BAND_LIMIT, max([2] + [i.freq for i in irreps]))


def _finite_channels(g: Group) -> int:
    """Channels of regular fields: about 64 to 240 features a layer, as in the gallery."""
    return max(1, min(8, 240 // (g.order or 1)))


def _tp_field(g: Group, irreps: set[Irrep], copies: int) -> str:
    """A tensor-product field: the trivial irrep once (it passes the others on), every other irrep ``copies`` times."""
    terms = [f"{1 if i == g.trivial else copies}x{i.name}" for i in _ordered(irreps | {g.trivial})]
    return " + ".join(terms)


def _norm_fields(g: Group, irreps: set[Irrep], channels: int) -> str:
    return " + ".join(f"{channels}x{i.name}" for i in _ordered(irreps | {g.trivial}))


def _tensor_then_norm(g: Group, irreps: set[Irrep], copies: int, depth: int, channels: int = 4) -> list[HiddenLayer]:
    tp = HiddenLayer("tensor_product", channels=channels, field=_tp_field(g, irreps, copies))
    return [tp] * depth + [HiddenLayer("norm_relu", fields=_norm_fields(g, irreps, channels))]


def _candidates(g: Group, irreps: set[Irrep]) -> list[list[HiddenLayer]]:
    """Hidden layers to try, the gallery's choice for the group's family first."""
    if g.finite:
        elu = HiddenLayer("elu", channels=_finite_channels(g))
        tp = HiddenLayer("tensor_product", channels=4, field=_tp_field(g, irreps, 2))
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
    tp = HiddenLayer("tensor_product", channels=4, field=_tp_field(g, irreps, 2))
    return [first, [wide], [tp, HiddenLayer("fourier_elu", channels=_width(g.regular(L), 8), band_limit=L)]]


def _width(channel: Counter[Irrep], preferred: int) -> int:
    """``preferred`` channels, fewer where a channel is wide (high band-limits), at least one."""
    return max(1, min(preferred, MAX_FEATURES // dimension(channel)))


# -- the text -------------------------------------------------------------------------------------------


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
        f"# `eqdesign groups {_spec_group(g)}` the irreps of this one.",
        f"group: {_spec_group(g)}",
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


# -- the check ------------------------------------------------------------------------------------------


def _check_text(text: str, name: str) -> SpecResult:
    with tempfile.TemporaryDirectory(prefix="eqdesign-init-") as folder:
        path = Path(folder) / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return check_file(path)


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


def _name(g: Group, name: str | None) -> str | None:
    chosen = name if name is not None else f"{_spec_group(g)}-mlp"
    return chosen if NAME_PATTERN.fullmatch(chosen) and len(chosen) <= MAX_NAME else None


def starter(group: str = "so3", input: str | None = None, output: str | None = None, name: str | None = None) -> InitResult:
    """A commented starter spec for ``group`` (spelled as in specs: so3, c8, d6, full_ico, ...) from ``input``
    to ``output``, irreps strings (the input by default the group's vector and a scalar, the output by default
    the input), named ``name``. Its exit code is OK only when ``eqdesign check`` passes the text (exit 0);
    otherwise SPEC (or INTERNAL), with messages."""
    g = lookup_group(group, None)
    if isinstance(g, str):
        return InitResult("", ExitCode.SPEC, [f"--group: {g}"])
    spec_name = _name(g, name)
    if spec_name is None:
        why = f"{printable(str(name))!r} is not a spec name: letters, digits, '_', '.', '-', starting with a letter or digit, at most {MAX_NAME}"
        return InitResult("", ExitCode.SPEC, [f"--name: {why}"])
    inp = _features(g, "--input", input)
    out = _features(g, "--output", output if output is not None else input)  # by default, what comes in goes out
    if isinstance(inp, str) or isinstance(out, str):
        return InitResult("", ExitCode.SPEC, [x for x in (inp, out) if isinstance(x, str)])
    return _first_passing(g, spec_name, inp, out)


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


# -- writing --------------------------------------------------------------------------------------------


def _link_new(tmp: Path, target: Path, text: str) -> None:
    """Put the finished temporary file at ``target`` unless something is there: a hard link fails rather than
    replace. Where the file system has no hard links, an exclusive create does the same (written in place)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV, errno.ENOSYS):
            raise
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        except BaseException:
            target.unlink(missing_ok=True)
            raise


def write_new(path: str, text: str, command: str = "init") -> str | None:
    """Write ``text`` to a new file at ``path``, whole or not at all, never over an existing one. None when
    written; otherwise why not (``command``: who refuses to overwrite, in the message)."""
    target = Path(path)
    shown = printable(path)
    exists = f"{shown} already exists; {command} never overwrites a file (choose another path, or remove it first)"
    if target.exists() or target.is_symlink():
        return exists
    if not target.parent.is_dir():
        return f"cannot write {shown}: the folder {printable(str(target.parent))} does not exist (create it first)"
    tmp: Path | None = None
    try:
        tmp = temp_beside(target)
        tmp.write_text(text, encoding="utf-8")
        usual_mode(tmp)
        _link_new(tmp, target, text)
    except FileExistsError:  # made by someone else between the check above and the link
        return exists
    except OSError as err:
        return f"cannot write {shown}: {err.strerror or err}"
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return None
