"""Spec -> Design: the group, every field type, and the linear layers between them.

Problems that stop the analysis (unknown group or irrep) come back as spec findings; problems with a
layer that still has a well-defined type (a quotient the group lacks, say) come back beside the design.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import NoReturn, Protocol

from ..findings import Finding, make
from ..spec.load import LoadedSpec, group_hint
from ..spec.model import (
    MAX_ORDER,
    FourierLayer,
    GatedLayer,
    GridField,
    GroupSpec,
    Layer,
    NormLayer,
    PointwiseLayer,
    QuotientLayer,
    Spec,
    TensorProductLayer,
)
from ..spec.model import Grid as GridSpec
from ..theory.group import GridKind, Group
from ..theory.irreps import Irrep, dimension
from ..theory.notation import NotationError, parse
from ..theory.quadrature import RuleShape, Space, auto_start, circle_step, exact_degree
from ..theory.registry import KINDS, make_group, parse_group_string
from .budget import Limits, design_excesses, frequency_excess, hidden_excess
from .design import Design, DesignLayer, FieldType, Grid, Linear, Nonlinear, SpecPath, irrep_field, norm_counts, rep_field

# Default grids: about twice as many points as Fourier coefficients on the sphere and SO(3) (Thomson grids
# are costly to optimise), and six times as many on circles, where points are free and aliasing of the
# activation's higher harmonics is what limits equivariance.
_OVERSAMPLING_3D, _OVERSAMPLING_CIRCLE = 2, 6


@dataclass(frozen=True)
class GridContext:
    """What a Fourier layer's grid is resolved against."""

    band_limit: int | None
    poly: int | None  # the polynomial activation's degree, if any
    quotient: str | None
    space: str  # for messages: "SO(3)", "the sphere of O(3)"


@dataclass
class Resolution:
    design: Design | None
    findings: list[Finding] = field(default_factory=list)


class _Stop(Exception):
    def __init__(self, finding: Finding) -> None:
        self.finding = finding


def resolve(loaded: LoadedSpec) -> Resolution:
    out = Resolution(None)
    try:
        group = _group(loaded)
        r = _Resolver(loaded, group, out.findings)
        too_many = hidden_excess(len(loaded.spec.hidden), r.limits)
        if too_many is not None:  # a cheap bound first: resolving thousands of layers alone takes seconds
            out.findings.append(make("too-large", too_many.message, loaded.at(too_many.path), too_many.hint))
            return out
        design = r.design()
    except _Stop as stop:
        out.findings.insert(0, stop.finding)
        return out
    excesses = design_excesses(design, r.limits)
    out.findings += [make("too-large", e.message, loaded.at(e.path), e.hint) for e in excesses]
    out.design = None if excesses else design  # nothing large is analysed
    return out


def _group(loaded: LoadedSpec) -> Group:
    g = loaded.spec.group
    parsed = (g.name, g.n) if isinstance(g, GroupSpec) else parse_group_string(g)
    where = loaded.at(("group",))
    if parsed is None:
        raise _Stop(make("unknown-group", f"unknown group {g!r}", where, group_hint(str(g), False)))
    name, n = parsed
    if KINDS[name].needs_n:
        if n is None:
            raise _Stop(make("unknown-group", f"group {name!r} needs its order n", where, f"write {{name: {name}, n: 8}} or '{name[0]}8'"))
        if not 1 <= n <= MAX_ORDER:
            raise _Stop(make("unknown-group", f"{name} order n = {n} is out of range", where, f"use 1 <= n <= {MAX_ORDER}"))
    elif n is not None:
        # escnn would build the group and ignore n: refuse rather than let the spec claim an order it lacks
        raise _Stop(
            make(
                "schema",
                f"group {name!r} takes no order n (got n: {n})",
                loaded.at(("group", "n")),
                f"remove 'n: {n}': write 'group: {name}'",
            )
        )
    return make_group(name, n)


def _order(g: Group) -> int:
    """The number of elements of a finite group."""
    if g.order is None:
        raise ValueError(f"{g.label} is not a finite group")
    return g.order


class _ChannelLayer(Protocol):
    """A hidden layer made of channels: fourier, quotient and pointwise layers."""

    @property
    def nonlinearity(self) -> str: ...

    @property
    def channels(self) -> int: ...


class _Resolver:
    def __init__(self, loaded: LoadedSpec, group: Group, findings: list[Finding]) -> None:
        self.loaded, self.g, self.findings = loaded, group, findings
        self.limits = Limits.from_env()

    def irreps(self, path: SpecPath) -> FieldType:
        text = _get(self.loaded.spec, path)
        if not isinstance(text, str):
            raise TypeError(f"the spec holds no irreps string at {path}: {text!r}")
        result = parse(self.g, text)
        if isinstance(result, NotationError):
            where = self.loaded.at(path, offset=result.offset)
            raise _Stop(make("unknown-irrep", f"{result.message} in {text!r}", where, result.hint))
        inner = next((t for t in result if t.field.cartesian is not None), None)
        if inner is not None and path not in (("input",), ("output",)):
            message = f"{inner.field.name} is a Cartesian field: only the input and the output take one, in {text!r}"
            hint = f"inside the network write its irreps: {' + '.join(i.name for i in inner.field.irreps)}"
            raise _Stop(make("unknown-irrep", message, self.loaded.at(path, offset=text.find(inner.field.name)), hint))
        t = FieldType.of(*((t.field, t.mult) for t in result))
        excess = frequency_excess(self.g, t, path, self.limits)
        if excess is not None:  # stop before anything enumerates irreps up to that frequency
            raise _Stop(make("too-large", f"{excess.message} in {text!r}", self.loaded.at(path), excess.hint))
        return t

    def design(self) -> Design:
        spec = self.loaded.spec
        inp, outp = self.in_basis(self.irreps(("input",))), self.in_basis(self.irreps(("output",)))
        layers: list[DesignLayer] = []
        current = inp
        for i, layer in enumerate(spec.hidden):
            nl = self.normalized(self.nonlinear(i, layer), layer.norm)
            layers.append(Linear(len(layers) // 2, current, nl.in_type, ("hidden", i), self.g.trivial))
            layers.append(nl)
            current = nl.out_type
        layers.append(Linear(len(layers) // 2, current, outp, ("output",), self.g.trivial))
        return Design(self.g, spec, inp, outp, tuple(layers))

    def in_basis(self, t: FieldType) -> FieldType:
        """The irrep fields of the input or output, marked as held in e3nn's basis where the spec says so."""
        if self.loaded.spec.basis != "e3nn":
            return t
        if self.g.key not in ("so3", "o3"):
            message = f"basis: e3nn names the real basis of e3nn's irreps, which are those of SO(3) and O(3), not {self.g.label}"
            raise _Stop(make("schema", message, self.loaded.at(("basis",)), "leave basis out (escnn's basis) for this group"))
        # irreps only: a vector stays in xyz, a Cartesian tensor in its components
        return FieldType(tuple((dataclasses.replace(f, e3nn=not f.basis and f.cartesian is None), m) for f, m in t.entries))

    def normalized(self, nl: Nonlinear, kind: str | None) -> Nonlinear:
        """The layer with its normalization counted; norm_batch refused on fields holding a trivial irrep
        (their mean is not zero, which that normalization assumes)."""
        if kind is None:
            return nl
        trivial = sorted({f.name for f, _ in nl.in_type.entries if self.g.trivial in f.irreps})
        if kind == "norm_batch" and trivial:
            message = f"norm_batch normalizes fields without a trivial irrep, but these fields hold one: {', '.join(trivial)}"
            hint = "use norm: iid_batch (it subtracts the mean of trivial irreps), or norm: layer"
            self.findings.append(make("invalid-nonlinearity", message, self.loaded.at(nl.path + ("norm",)), hint))
        params, stats = norm_counts(kind, nl.in_type, self.g.trivial)
        return dataclasses.replace(nl, norm=kind, norm_params=params, norm_stats=stats)

    def nonlinear(self, i: int, layer: Layer) -> Nonlinear:
        path = ("hidden", i)
        if isinstance(layer, FourierLayer):
            return self.fourier(i, layer, path)
        if isinstance(layer, QuotientLayer):
            return self.quotient(i, layer, path)
        if isinstance(layer, NormLayer):
            return self.norm(i, layer, path)
        if isinstance(layer, GatedLayer):
            return self.gated(i, layer, path)
        if isinstance(layer, TensorProductLayer):
            return self.tensor(i, layer, path)
        return self.pointwise(i, layer, path)

    def _channels(
        self,
        i: int,
        layer: _ChannelLayer,
        path: SpecPath,
        kind: str,
        channel: Counter[Irrep],
        name: str,
        *,
        band_limit: int | None = None,
        grid: Grid | None = None,
        quotient: str | None = None,
        poly: int | None = None,
    ) -> Nonlinear:
        t = FieldType.of((rep_field(name, channel), layer.channels)) if channel else FieldType.of()
        return Nonlinear(
            i,
            kind,
            layer.nonlinearity,
            t,
            t,
            path,
            layer.channels,
            channel,
            band_limit=band_limit,
            grid=grid,
            quotient=quotient,
            poly_degree=poly,
        )

    def fourier(self, i: int, layer: FourierLayer, path: SpecPath) -> Nonlinear:
        L = layer.band_limit
        if L is None and not self.g.finite:
            raise _Stop(
                make(
                    "schema", f"{layer.nonlinearity} on {self.g.label} needs a band_limit", self.loaded.at(path), "add 'band_limit: 2', say"
                )
            )
        channel = self.g.regular(L)
        p = self._poly_degree(layer, path)
        grid = self._grid(path, layer.grid, self.g.grid_types(), channel, GridContext(L, p, None, self.g.label))
        label = "regular" if L is None else f"regular(L={L})"
        return self._channels(i, layer, path, "fourier", channel, label, band_limit=L, grid=grid, poly=p)

    def quotient(self, i: int, layer: QuotientLayer, path: SpecPath) -> Nonlinear:
        quotients = self.g.quotients()
        name: str | None = layer.quotient or next(iter(quotients), None)
        p = self._poly_degree(layer, path)
        if name not in quotients:
            have = ", ".join(quotients) or "none"
            hint = "use fourier_elu (the regular representation) instead" if not quotients else f"use quotient: {next(iter(quotients))}"
            self.findings.append(
                make(
                    "invalid-nonlinearity",
                    f"{self.g.label} has no {name or 'quotient'} representation here (available: {have})",
                    self.loaded.at(path),
                    hint,
                )
            )
            return self._channels(i, layer, path, "quotient", Counter(), "none", band_limit=layer.band_limit, poly=p)
        channel = self.g.quotient(name, layer.band_limit)
        context = GridContext(layer.band_limit, p, name, f"the {name} of {self.g.label}")
        grid = self._grid(path, layer.grid, self.g.quotient_grid_types(name), channel, context)
        label = f"{name}(L={layer.band_limit})"
        return self._channels(i, layer, path, "quotient", channel, label, band_limit=layer.band_limit, grid=grid, quotient=name, poly=p)

    def _poly_degree(self, layer: FourierLayer | QuotientLayer, path: SpecPath) -> int | None:
        if layer.nonlinearity.endswith("_poly"):
            return layer.degree or 2
        if layer.degree is not None:
            self._refuse(
                path + ("degree",),
                f"{layer.nonlinearity} takes no degree (got degree: {layer.degree})",
                "degree is the polynomial's degree of fourier_poly and quotient_fourier_poly; remove it",
            )
        return None

    def _grid(
        self, path: SpecPath, spec_grid: GridField | None, types: dict[str, GridKind], channel: Counter[Irrep], at: GridContext
    ) -> Grid | None:
        """The sample points of a Fourier layer on ``at.space`` (the group, or one of its quotients)."""
        coeffs = dimension(channel)
        if self.g.finite:
            return Grid("elements", None, _order(self.g), coeffs)
        if not types:
            self.findings.append(
                make(
                    "invalid-nonlinearity",
                    f"Fourier layers on {self.g.label} are not supported yet",
                    self.loaded.at(path),
                    "use norm, gated or tensor_product layers on this group",
                )
            )
            return None
        given = GridSpec(type="auto") if spec_grid is None or spec_grid == "auto" else spec_grid
        self._grid_keys(path + ("grid",), given)
        qspace = self.g.quadrature_space(at.quotient)
        if given.type in ("auto", "quadrature") and qspace is not None:
            return self._rule_grid(path + ("grid",), given, qspace, coeffs, at)
        if given.type in ("auto", "quadrature"):  # no weighted rules on this space (none so far): escnn's default
            if spec_grid is not None and given.type == "quadrature":
                self._refuse(path + ("grid", "type"), f"no weighted quadrature on {at.space}", "use one of escnn's grid types")
            default = "thomson_cube" if "thomson_cube" in types else "regular"
            return Grid(default, *_default_n(types[default], coeffs, at.band_limit or 1), coeffs)
        kind = types.get(given.type)
        if kind is None:
            valid = ", ".join(["auto", "quadrature"] * (qspace is not None) + [f"{name} ({k.size} points)" for name, k in types.items()])
            self._refuse(path + ("grid", "type"), f"grid type {given.type!r} is not available on {at.space}", "valid: " + valid)
        n = self._grid_n(path + ("grid",), given, kind, coeffs, at.band_limit or 1)
        return Grid(given.type, n, kind.points(n or 1), coeffs)

    def _grid_keys(self, path: SpecPath, given: GridSpec) -> None:
        """Each key belongs to one kind of grid: n to escnn's, degree to quadrature, max_points to auto."""
        allowed = {"auto": "max_points", "quadrature": "degree"}.get(given.type, "n")
        for key in ("n", "degree", "max_points"):
            value = getattr(given, key)
            if value is not None and key != allowed:
                owner = {"n": "escnn's grid types", "degree": "type: quadrature", "max_points": "type: auto"}[key]
                self._refuse(
                    path + (key,), f"grid type {given.type!r} takes no {key} (got {key}: {value})", f"{key} belongs to {owner}; remove it"
                )

    def _rule_grid(self, path: SpecPath, given: GridSpec, qspace: tuple[Space, bool], coeffs: int, at: GridContext) -> Grid:
        L = at.band_limit or 1
        if given.type == "quadrature":
            if given.degree is None:
                hint = f"add degree: {exact_degree(L, at.poly) if at.poly else auto_start(L) + 4}"
                self._refuse(path, "grid type 'quadrature' needs degree (the rule is exact up to that degree)", hint)
            rule = RuleShape(qspace[0], given.degree, qspace[1], _step(qspace[0], L))
            return Grid("quadrature", None, rule.points, coeffs, rule)
        # auto: a polynomial's exact rule is known; otherwise build searches upwards from the exact transform
        start = exact_degree(L, at.poly) if at.poly else auto_start(L)
        rule = RuleShape(qspace[0], start, qspace[1], _step(qspace[0], L))
        cap = min(given.max_points or self.limits.max_points, self.limits.max_points)
        if rule.points > cap:
            message = f"grid: auto starts from {rule.describe()}, above the limit of {cap:,} points"
            raise _Stop(
                make("too-large", message, self.loaded.at(path), "lower the band_limit, or raise max_points / EQDESIGN_LIMIT_MAX_POINTS")
            )
        return Grid("auto", None, rule.points, coeffs, rule, cap)

    def _grid_n(self, path: SpecPath, spec_grid: GridSpec, kind: GridKind, coeffs: int, L: int) -> int | None:
        """The grid's n, refused where escnn would fail on it (missing, too small) or silently ignore it."""
        name, n = spec_grid.type, spec_grid.n
        if not kind.takes_n:
            if n is not None:
                self._refuse(
                    path + ("n",),
                    f"grid type {name!r} always has {kind.size} points and takes no n (got n: {n})",
                    f"remove 'n: {n}', or use a grid type that takes n",
                )
            return None
        good, points = _default_n(kind, coeffs, L)
        if n is None:
            self._refuse(
                path,
                f"grid type {name!r} needs n (it samples {kind.size} points)",
                f"add n: {good} ({points} points for {coeffs} Fourier coefficients)",
            )
        elif n < kind.min_n:
            self._refuse(
                path + ("n",),
                f"grid type {name!r} needs n >= {kind.min_n} (got n: {n})",
                f"use n: {good} ({points} points for {coeffs} Fourier coefficients)",
            )
        return n

    def _refuse(self, path: SpecPath, message: str, hint: str) -> NoReturn:
        raise _Stop(make("schema", message, self.loaded.at(path), hint))

    def norm(self, i: int, layer: NormLayer, path: SpecPath) -> Nonlinear:
        t = self.irreps(path + ("fields",))
        own = 0 if layer.nonlinearity == "norm_squash" else t.n_fields
        return Nonlinear(i, "norm", layer.nonlinearity, t, t, path, own_params=own)

    def gated(self, i: int, layer: GatedLayer, path: SpecPath) -> Nonlinear:
        gated = self.irreps(path + ("fields",))
        triv = irrep_field(self.g.trivial)
        gates = gated.n_fields
        t_in = FieldType.of((triv, layer.scalars), (triv, gates), *gated.entries)
        t_out = FieldType.of((triv, layer.scalars), *gated.entries)
        return Nonlinear(i, "gated", "gated", t_in, t_out, path, scalars=layer.scalars, own_params=gates)

    def tensor(self, i: int, layer: TensorProductLayer, path: SpecPath) -> Nonlinear:
        f = self.irreps(path + ("field",))
        if f.dim > self.limits.max_dim:  # refused before its copies are laid out one by one
            message = f"the tensor-product field of hidden[{i}] has {f.dim:,} features, above the limit of {self.limits.max_dim:,}"
            raise _Stop(make("too-large", message, self.loaded.at(path + ("field",)), "use fewer copies, or raise EQDESIGN_LIMIT_MAX_DIM"))
        channel = f.content()
        square: Counter[Irrep] = Counter()
        for a, ma in channel.items():
            for b, mb in channel.items():
                for c, mc in self.g.tensor(a, b).items():
                    square[c] += ma * mb * mc
        per_channel = sum(square[c] * m * c.endo for c, m in channel.items())
        t = FieldType.of((rep_field(f.describe(), channel), layer.channels))
        return Nonlinear(i, "tensor", "tensor_product", t, t, path, layer.channels, channel, own_params=layer.channels * per_channel)

    def pointwise(self, i: int, layer: PointwiseLayer, path: SpecPath) -> Nonlinear:
        if self.g.finite:
            order = _order(self.g)
            return self._channels(i, layer, path, "pointwise", self.g.regular(None), "regular", grid=Grid("elements", None, order, order))
        return self._channels(i, layer, path, "pointwise", Counter({self.g.trivial: 1}), self.g.trivial.name)


def _step(space: Space, band_limit: int) -> int:
    return circle_step(band_limit) if space == "circle" else 1


def _default_n(kind: GridKind, coeffs: int, L: int) -> tuple[int, int]:
    """Smallest n >= kind.min_n with enough points per coefficient (a multiple of lcm(1..L) on circles, so
    that the selection rules of every frequency hold exactly on the grid), and its number of points."""
    step = math.lcm(*range(1, L + 1)) if kind.circle else 1
    target = (_OVERSAMPLING_CIRCLE if kind.circle else _OVERSAMPLING_3D) * coeffs
    n = step * -(-kind.min_n // step)
    while kind.points(n) < target:
        n += step
    return n, kind.points(n)


def _get(spec: Spec, path: SpecPath) -> object:
    node: object = spec
    for part in path:
        if isinstance(part, str):
            node = getattr(node, part)
        elif isinstance(node, list):
            node = node[part]
        else:
            raise TypeError(f"cannot index {type(node).__name__} with {part!r}")
    return node
