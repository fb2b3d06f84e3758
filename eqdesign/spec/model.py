"""The spec language, version 1, as pydantic models. Unknown keys are errors everywhere."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

GROUP_NAMES = Literal["so2", "o2", "so3", "o3", "cyclic", "dihedral", "ico", "octa", "full_ico", "full_octa", "cylinder", "full_cylinder"]
ORDERED_GROUPS = ("cyclic", "dihedral")  # the groups that take an order n (registry.KINDS agrees; a test checks)
MAX_ORDER = 512  # largest n for cyclic and dihedral groups
SEED_MAX = 2**32 - 1  # numpy's RandomState takes seeds in [0, 2**32)

# YAML 1.1 (PyYAML) reads a float only with a dot: ``1e-3`` and ``1E5`` arrive as strings. Where the spec wants
# a float, such a string is read as the number it spells; anything else stays a string and is refused.
_FLOAT_LITERAL = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def float_literal(value: Any) -> bool:
    """Whether a string spells a plain decimal number (``1e-3``, ``0.5``; not ``inf`` or ``nan``)."""
    return isinstance(value, str) and _FLOAT_LITERAL.fullmatch(value.strip()) is not None


def _read_float_literal(value: Any) -> Any:
    return float(value) if float_literal(value) else value


# Constraints before the validator, so that they reach the JSON schema as exclusiveMinimum and maximum.
ReadFloat = BeforeValidator(_read_float_literal)
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False), ReadFloat]
Count = Annotated[int, Field(ge=1, le=4096)]
MAX_BAND_LIMIT = 12
BandLimit = Annotated[int, Field(ge=0, le=MAX_BAND_LIMIT)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class GroupSpec(_Strict):
    name: GROUP_NAMES
    n: Annotated[int, Field(ge=1, le=MAX_ORDER)] | None = None


class Grid(_Strict):
    """Sample points of a Fourier layer.

    ``auto`` (the default): the cheapest weighted quadrature that meets ``tests.tolerance``, measured by
    ``build`` (``max_points`` bounds it). ``quadrature``: the weighted rule exact to ``degree``. Any other
    type is one of escnn's unweighted grids, and ``n`` means what escnn's grid of that type takes."""

    type: str
    n: Annotated[int, Field(ge=1, le=100000)] | None = None
    degree: Annotated[int, Field(ge=1, le=200)] | None = None
    max_points: Annotated[int, Field(ge=1, le=10_000_000)] | None = None


#: ``grid: auto`` is short for ``grid: {type: auto}``
GridField = Grid | Literal["auto"]
PolyDegree = Annotated[int, Field(ge=2, le=6)]


NORMALIZATIONS = ("iid_batch", "norm_batch", "layer")


class _Hidden(_Strict):
    """What every hidden layer may add: ``norm``, a normalization applied to the layer's input fields, after
    the linear layer before it and before the nonlinearity (Linear -> norm -> nonlinearity):

    - ``iid_batch``: escnn's IIDBatchNorm1d. Batch statistics in training, running statistics in eval mode;
      the mean is subtracted only from trivial irreps, every field is scaled by one statistic of its norm;
      a learnable scale per field and a bias on each trivial irrep.
    - ``norm_batch``: escnn's NormBatchNorm, for fields without trivial irreps: a scale per field only.
    - ``layer``: an equivariant layer norm: the same per sample (no batch statistics, the same in training
      and eval mode); one scale from all fields of the sample, so every field depends on all of them."""

    norm: Literal["iid_batch", "norm_batch", "layer"] | None = None


class FourierLayer(_Hidden):
    """Pointwise nonlinearity on C copies of the band-limited regular representation (IFT, act, FT)."""

    nonlinearity: Literal["fourier_elu", "fourier_relu", "fourier_poly"]
    channels: Count
    band_limit: BandLimit | None = None  # finite groups: None means the whole regular representation
    grid: GridField | None = None
    degree: PolyDegree | None = None  # fourier_poly: the polynomial's degree (2 unless given)


class QuotientLayer(_Hidden):
    """Pointwise nonlinearity on C copies of a band-limited quotient representation (sphere, circle)."""

    nonlinearity: Literal["quotient_fourier_elu", "quotient_fourier_relu", "quotient_fourier_poly"]
    channels: Count
    band_limit: BandLimit
    quotient: Literal["sphere", "circle"] | None = None
    grid: GridField | None = None
    degree: PolyDegree | None = None  # quotient_fourier_poly: the polynomial's degree (2 unless given)


class NormLayer(_Hidden):
    """Each field is rescaled by a function of its norm (one learnable bias per field)."""

    nonlinearity: Literal["norm_relu", "norm_sigmoid", "norm_squash"]
    fields: str


class GatedLayer(_Hidden):
    """Each gated field is multiplied by sigmoid(gate); one gate scalar per field is added for you.
    ``scalars`` extra trivial fields pass through an ELU beside them."""

    nonlinearity: Literal["gated"]
    fields: str
    scalars: Annotated[int, Field(ge=0, le=4096)] = 0


class TensorProductLayer(_Hidden):
    """Each channel's field is multiplied by itself (x ⊗ x) and projected back onto the field."""

    nonlinearity: Literal["tensor_product"]
    channels: Count
    field: str


class PointwiseLayer(_Hidden):
    """Elementwise activation on regular fields (finite groups) or on trivial fields (any group)."""

    nonlinearity: Literal["elu", "relu"]
    channels: Count


Layer = Annotated[
    FourierLayer | QuotientLayer | NormLayer | GatedLayer | TensorProductLayer | PointwiseLayer,
    Field(discriminator="nonlinearity"),
]
NONLINEARITIES = (
    "fourier_elu",
    "fourier_relu",
    "fourier_poly",
    "quotient_fourier_elu",
    "quotient_fourier_relu",
    "quotient_fourier_poly",
    "norm_relu",
    "norm_sigmoid",
    "norm_squash",
    "gated",
    "tensor_product",
    "elu",
    "relu",
)


class Tests(_Strict):
    """How ``eqdesign build`` tests equivariance."""

    tolerance: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False), ReadFloat] = 0.05
    samples: Annotated[int, Field(ge=1, le=10000)] = 32
    dtype: Literal["float64", "float32"] = "float64"
    seed: Annotated[int, Field(ge=0, le=SEED_MAX)] = 0
    scales: Annotated[list[PositiveFloat], Field(min_length=1)] = [0.1, 1.0, 10.0]


class Lint(_Strict):
    """What ``eqdesign check`` reports for this spec: ``ignore`` names rules (by id, such as ``EQ202``, or by
    name, such as ``unused-input``) whose findings it silences. A suppression that silences nothing is
    reported (``unused-suppression``); rules for broken specs cannot be silenced."""

    ignore: list[Annotated[str, Field(max_length=100)]] = []


class Spec(_Strict):
    version: Literal[1] = 1

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_a_number(cls, value: object) -> object:
        if isinstance(value, bool):  # True == 1 in Python, and pydantic's Literal check takes it
            raise ValueError("the spec language version is the number 1, not a boolean")
        return value

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=100)]
    description: str | None = None
    group: str | GroupSpec
    input: str
    output: str
    #: whose real basis the irreps of the input and output are in: escnn's, or e3nn's (converted at the edges)
    basis: Literal["escnn", "e3nn"] = "escnn"
    hidden: list[Layer] = []
    tests: Tests = Tests()
    lint: Lint = Lint()


def all_keys() -> set[str]:
    """Every key the spec language knows, for "did you mean" hints."""
    models = (Spec, GroupSpec, Grid, FourierLayer, QuotientLayer, NormLayer, GatedLayer, TensorProductLayer, PointwiseLayer, Tests, Lint)
    return {name for m in models for name in m.model_fields}
