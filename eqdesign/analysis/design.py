"""The resolved design: field types of every layer, as `check` reports them and `build` constructs them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TypeAlias

from ..spec.model import Spec
from ..theory.group import Group
from ..theory.irreps import Irrep, content, dimension, format_content
from ..theory.notation import Field
from ..theory.quadrature import RuleShape, circle_step

#: Where in the spec something is, e.g. ``("hidden", 0)`` or ``("output",)``.
SpecPath: TypeAlias = tuple[str | int, ...]


@dataclass(frozen=True)
class FieldType:
    """Fields in order, each with a multiplicity: the layout of a feature vector."""

    entries: tuple[tuple[Field, int], ...]

    def content(self) -> Counter[Irrep]:
        return content((i, m) for f, m in self.entries for i in f.irreps)

    @property
    def dim(self) -> int:
        return dimension(self.content())

    @property
    def width(self) -> int:
        """The columns of the model's input or output: the dimension, with each Cartesian tensor field at its
        3^rank components."""
        return sum(f.width * m for f, m in self.entries)

    @property
    def cartesian(self) -> bool:
        return any(f.cartesian is not None for f, _ in self.entries)

    @property
    def converted(self) -> bool:
        """Whether some field's columns are not escnn's irreps (a Cartesian tensor, e3nn's basis): the model
        converts at its edges."""
        return self.cartesian or any(f.e3nn for f, _ in self.entries)

    @property
    def n_fields(self) -> int:
        return sum(m for _, m in self.entries)

    def describe(self) -> str:
        parts = [f"{m}x{f.name}" for f, m in self.entries]
        return " + ".join(parts) if parts else "0"

    def irreps_string(self) -> str:
        return format_content(self.content())

    @staticmethod
    def of(*entries: tuple[Field, int]) -> FieldType:
        return FieldType(tuple((f, m) for f, m in entries if m))


def irrep_field(irrep: Irrep) -> Field:
    return Field(irrep.name, (irrep,))


def rep_field(name: str, c: Counter[Irrep]) -> Field:
    """One field holding a whole representation (a regular or quotient channel, a tensor-product field)."""
    irreps = tuple(i for i in sorted(c, key=lambda i: (i.freq, repr(i.eid))) for _ in range(c[i]))
    return Field(name, irreps)


@dataclass(frozen=True)
class SchurBlock:
    irrep: Irrep
    m_in: int
    m_out: int

    @property
    def params(self) -> int:
        return self.m_in * self.m_out * self.irrep.endo


@dataclass(frozen=True)
class Linear:
    index: int  # position among the linear layers, 0-based
    in_type: FieldType
    out_type: FieldType
    path: SpecPath  # spec path this layer is reported at (the nonlinearity it feeds, or "output")
    trivial: Irrep  # biases are allowed on this irrep only

    @property
    def blocks(self) -> list[SchurBlock]:
        cin, cout = self.in_type.content(), self.out_type.content()
        order = sorted(set(cin) & set(cout), key=lambda i: (i.freq, repr(i.eid)))
        return [SchurBlock(i, cin[i], cout[i]) for i in order]

    @property
    def bias(self) -> int:
        return self.out_type.content()[self.trivial]

    @property
    def params(self) -> int:
        return sum(b.params for b in self.blocks) + self.bias


@dataclass(frozen=True)
class Grid:
    """The sample points of a Fourier layer. ``type``: "auto", "quadrature", "elements" (every element of a
    finite group) or one of escnn's unweighted grid types."""

    type: str
    n: int | None
    points: int  # number of sample points per channel (auto: of the rule build starts from)
    coefficients: int  # Fourier coefficients per channel
    rule: RuleShape | None = None  # the weighted rule (auto: the one build starts from)
    max_points: int | None = None  # auto: the largest rule build may pick

    @property
    def weighted(self) -> bool:
        return self.rule is not None


@dataclass(frozen=True)
class Nonlinear:
    index: int  # position in spec.hidden
    kind: str  # fourier, quotient, norm, gated, tensor, pointwise
    activation: str  # the spec's nonlinearity name
    in_type: FieldType
    out_type: FieldType
    path: SpecPath
    channels: int = 1
    channel: Counter[Irrep] = field(default_factory=Counter)  # per-channel content (fourier, quotient, pointwise, tensor)
    band_limit: int | None = None
    grid: Grid | None = None
    quotient: str | None = None
    scalars: int = 0  # gated: ELU'd trivial fields beside the gated ones
    poly_degree: int | None = None  # *_fourier_poly: the degree of the polynomial activation
    own_params: int = 0  # learnable parameters of the nonlinearity itself
    norm: str | None = None  # the normalization before the nonlinearity: iid_batch, norm_batch or layer
    norm_params: int = 0  # its learnable parameters (a scale per field, a bias per trivial irrep)
    norm_stats: int = 0  # its running statistics (batch norms: not learnable, updated in training)

    @property
    def params(self) -> int:
        return self.own_params + self.norm_params


def norm_counts(kind: str, t: FieldType, trivial: Irrep) -> tuple[int, int]:
    """(learnable parameters, running statistics) of a normalization of fields ``t``, as escnn stores them:
    a scale per field; batch norms keep a running variance per field, and the IID ones a bias per trivial
    irrep and a running mean of every field that holds a trivial irrep (the whole field, as escnn does)."""
    fields = [(f, m) for f, m in t.entries]
    scales = sum(m for _, m in fields)
    if kind == "norm_batch":
        return scales, scales
    biases = sum(m * f.irreps.count(trivial) for f, m in fields)
    if kind == "layer":
        return scales + biases, 0
    means = sum(m * sum(i.dim for i in f.irreps) for f, m in fields if trivial in f.irreps)
    return scales + biases, scales + means


DesignLayer: TypeAlias = Linear | Nonlinear  # one step of a design


@dataclass(frozen=True)
class Design:
    group: Group
    spec: Spec
    input: FieldType
    output: FieldType
    layers: tuple[DesignLayer, ...]  # Linear and Nonlinear, alternating, starting and ending with a Linear

    @property
    def linears(self) -> list[Linear]:
        return [x for x in self.layers if isinstance(x, Linear)]

    @property
    def hidden(self) -> list[Nonlinear]:
        return [x for x in self.layers if isinstance(x, Nonlinear)]

    @property
    def params(self) -> int:
        return sum(x.params for x in self.layers)


def layer_rule(group: Group, nl: Nonlinear, refinement: int = 1) -> RuleShape | None:
    """The weighted rule a Fourier layer samples: its own, or for ``refinement`` > 1 one about that factor
    finer (escnn-typed grids are then replaced by a rule too). None: the layer's escnn grid as it is."""
    assert nl.grid is not None and nl.band_limit is not None
    space = group.quadrature_space(nl.quotient)
    if space is None or (nl.grid.rule is None and refinement == 1):
        return None
    degree = nl.grid.rule.degree if nl.grid.rule is not None else 0
    if refinement > 1:
        degree = max(degree, 2 * nl.band_limit + 2) * refinement
    step = nl.grid.rule.step if nl.grid.rule is not None else (circle_step(nl.band_limit) if space[0] == "circle" else 1)
    return RuleShape(space[0], degree, space[1], step)
