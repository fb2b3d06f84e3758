"""The cost of a design per sample, from the resolved design alone (no torch, no escnn): what `check` reports.

Three forms of the same network are counted, in multiply-adds (MACs) of matrix products per sample:

* ``compiled``: the compiled model's eval forward as ``eqdesign build`` exports it (``export.freeze``): each
  linear layer in the form the compiler picks (``linear_form``: per Schur block, or one dense GEMM), a batch
  norm folded into the linear layer before it (which then runs dense), each Fourier or quotient layer's two
  transforms (channels x points x coefficients, twice), each tensor product's projection of the distinct products x_i x_j (i <= j) of x (x) x.
* ``escnn_dense``: escnn's own forward: every linear layer a dense (in x out) matrix, the same nonlinear layers.
* ``plain_mlp``: an MLP of the same widths, dense linear layers and elementwise activations.

Elementwise work (activations, gathers, the squares of tensor products, norms) is not a matrix product and is
counted apart: ``activations`` is the number of activation-function evaluations per sample, ``elementwise``
the values per sample that the compiled forward's other operations write (activations, products, gathers,
concatenations, layout copies; ``elementwise_work``). Neither is free: ``time_units`` weighs both in
multiply-adds (``ELEMENTWISE_MACS`` per value), which is what ``design`` ranks by. For ``grid: auto`` the
points are those of the rule build starts from (``Grid.points``); build may pick a larger rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from ..theory.group import Group
from .design import Design, FieldType, Linear, Nonlinear

#: the batch the linear-form cost model weighs (per-sample work against per-call work)
REFERENCE_BATCH = 512
#: one operation that runs on every thread, in multiply-adds of a dense CPU GEMM: on a 2-core machine with
#: sleeping OpenMP threads (OMP_WAIT_POLICY=PASSIVE, as the CLI sets it) waking them costs about 50-100 us,
#: while dense GEMMs run at about 45 GMAC/s
LAUNCH_COST = 3_000_000
#: the operations a per-block layer runs beside one GEMM per block (export.blocks.BlockLinear: gather the
#: inputs, make the zero column, concatenate, put the outputs in place, add the bias); dense runs one GEMM
PER_BLOCK_EXTRA_OPS = 5
#: moving one feature through a gather or scatter, in multiply-adds
GATHER_COST = 4
#: normalizations that are affine in eval mode: folded into the linear layer before them (export.norms)
FOLDED_NORMS = ("iid_batch", "norm_batch")
#: nonlinear kinds whose fields are a finite group's regular representation in escnn's element basis
REGULAR_KINDS = ("pointwise", "fourier", "quotient")

#: one value written by an elementwise operation, in multiply-adds of a GEMM: about the ratio of their rates in
#: the compiled models on one CPU thread at batch 512 (benchmarks/gemm_speed.py: the blocks' GEMMs run at about
#: 25 GMAC/s, an O(3) tensor-product and gated model's other operations write about 3 G values/s)
ELEMENTWISE_MACS = 8
#: nonlinear layers whose columns the linear layers beside them read and write without gathers (export.orders)
ARRANGED_KINDS = ("gated", "norm", "tensor", "pointwise")

Form = Literal["per_block", "dense"]
#: the per-sample totals reported (``Cost.total``)
TOTALS = (
    "compiled_macs",
    "escnn_dense_macs",
    "plain_mlp_macs",
    "activations",
    "elementwise",
    "time_units",
    "params",
    "plain_mlp_params",
)


class BlockShape(NamedTuple):
    """One Schur block: irrep dimension d, End(psi) dimension e (1 real, 2 complex, 4 quaternionic), copies."""

    d: int
    e: int
    m_in: int
    m_out: int

    @property
    def macs(self) -> int:
        """Per sample in per-block form: the block's GEMM over e images, and, where 1 < e < d, the e End(psi)
        images of its input (e = d runs as one (d m_in, d m_out) GEMM, export.blocks.IrrepBlock.block_matrix)."""
        return self.d * self.e * self.m_in * self.m_out + (1 < self.e < self.d) * self.e * self.d * self.d * self.m_in

    @property
    def launches(self) -> int:
        """The GEMMs the block runs per call: one, and the images before it where 1 < e < d."""
        return 1 + (1 < self.e < self.d)


def linear_form(blocks: Sequence[BlockShape], in_dim: int, out_dim: int, q_in: bool, q_out: bool, batch: int = REFERENCE_BATCH) -> Form:
    """Per-block GEMMs or one dense GEMM for a compiled linear layer, whichever costs less for one call.

    ``blocks``: the Schur blocks; ``in_dim``/``out_dim``: the layer's feature sizes; ``q_in``/``q_out``:
    whether that side's field type has a change of basis (``basis_change``); ``batch``: the batch weighed.
    Dense: the GEMM, plus assembling the matrix (one entry per Schur coefficient and nonzero of an End(psi)
    basis matrix; each of the e basis matrices of a d-dimensional irrep has d nonzeros) and folding the
    changes of basis into it, once per call. Per block: each block's GEMM and its End(psi) images, one
    gather and one scatter of the features, a launch per block and a few per layer, and the changes of basis
    applied to every sample."""
    nnz = sum(b.e * b.d * b.m_in * b.m_out for b in blocks)
    dense = batch * in_dim * out_dim + 2 * nnz + q_in * out_dim * in_dim * in_dim + q_out * out_dim * out_dim * in_dim
    per_block = batch * sum(b.macs for b in blocks)
    launches = sum(b.launches for b in blocks) + PER_BLOCK_EXTRA_OPS
    per_block += batch * (in_dim + out_dim) * GATHER_COST + launches * LAUNCH_COST
    per_block += batch * (q_in * in_dim * in_dim + q_out * out_dim * out_dim)
    return "per_block" if per_block < dense + LAUNCH_COST else "dense"


def block_shapes(layer: Linear) -> list[BlockShape]:
    return [BlockShape(b.irrep.dim, b.irrep.endo, b.m_in, b.m_out) for b in layer.blocks]


def basis_change(group: Group, t: FieldType, beside: Nonlinear | None) -> bool:
    """Whether escnn's representation of ``t`` has a change of basis other than the identity (the compiler
    then applies Q): a finite group's whole regular representation, held in the basis of group elements
    (``beside``: the nonlinear layer whose fields these are, see ``element_basis``), and the xyz vector of the 3D groups, whose irrep escnn keeps in
    another basis (SO(3)'s l = 1 orders its coordinates y, z, x). Irreps and direct sums of irreps have none."""
    return (beside is not None and element_basis(group, beside)) or any(
        f.basis == "xyz" and len(f.irreps) == 1 and f.dim == 3 for f, _ in t.entries
    )


def element_basis(group: Group, layer: Nonlinear) -> bool:
    """A finite group's layer on whole regular representations: escnn holds them in the basis of group
    elements and activates each coordinate (no transform); a band-limited channel (some irreps only) is
    sampled on every element by two transforms instead, in a direct sum of irreps."""
    return group.finite and layer.kind in REGULAR_KINDS and layer.channel == group.regular(None)


@dataclass(frozen=True)
class LayerCost:
    """One layer's cost per sample. ``form``: the compiled linear layer's form ("" for nonlinear layers)."""

    layer: str
    kind: str
    form: str
    compiled_macs: int
    escnn_dense_macs: int
    plain_mlp_macs: int
    activations: int
    elementwise: int  # values written by the compiled forward's operations other than matrix products
    time_units: int  # compiled_macs + ELEMENTWISE_MACS * elementwise: what the layer costs in time, in MACs
    params: int
    plain_mlp_params: int


@dataclass(frozen=True)
class Cost:
    layers: tuple[LayerCost, ...]
    auto_grids: tuple[str, ...]  # layers whose points are the starting rule's (build may pick more)

    def total(self, name: str) -> int:
        """The sum of one LayerCost field over the layers (e.g. "compiled_macs")."""
        return sum(int(getattr(x, name)) for x in self.layers)


def cost_of(design: Design) -> Cost:
    layers = design.layers
    out: list[LayerCost] = []
    for k, layer in enumerate(layers):
        if isinstance(layer, Linear):
            before = layers[k - 1] if k > 0 else None
            after = layers[k + 1] if k + 1 < len(layers) else None
            out.append(_linear_cost(design.group, layer, _nl(before), _nl(after)))
        else:
            out.append(_nonlinear_cost(design.group, layer))
    out = _edge_costs(design, out)
    auto = tuple(f"hidden[{x.index}]" for x in design.hidden if x.grid is not None and x.grid.type == "auto")
    return Cost(tuple(out), auto)


def _edge_costs(design: Design, layers: list[LayerCost]) -> list[LayerCost]:
    """Fields whose columns are not escnn's irreps (Cartesian tensors, e3nn's basis) add a fixed map at each
    edge: columns -> irreps in front, irreps -> columns after."""
    out = list(layers)
    if design.input.converted:
        macs = design.input.width * design.input.dim
        out.insert(0, LayerCost("input edge", "edge", "dense", macs, macs, 0, 0, 0, macs, 0, 0))
    if design.output.converted:
        macs = design.output.dim * design.output.width
        out.append(LayerCost("output edge", "edge", "dense", macs, macs, 0, 0, 0, macs, 0, 0))
    return out


def _nl(layer: Linear | Nonlinear | None) -> Nonlinear | None:
    return layer if isinstance(layer, Nonlinear) else None


def compiled_form(group: Group, layer: Linear, before: Nonlinear | None, after: Nonlinear | None) -> tuple[str, int]:
    """(form, MACs per sample) of a linear layer in the exported model. A batch norm after it is folded in,
    which makes it dense; a layer without blocks is a bias alone (only its change of basis costs)."""
    n_in, n_out = layer.in_type.dim, layer.out_type.dim
    q_in, q_out = basis_change(group, layer.in_type, before), basis_change(group, layer.out_type, after)
    if after is not None and after.norm in FOLDED_NORMS:
        return "dense (norm folded in)", n_in * n_out
    if not layer.blocks:
        return "bias only", q_out * n_out * n_out
    if linear_form(block_shapes(layer), n_in, n_out, q_in, q_out) == "dense":
        return "dense", n_in * n_out
    blocks = sum(b.macs for b in block_shapes(layer))
    return "per_block", blocks + q_in * n_in * n_in + q_out * n_out * n_out


def _linear_cost(group: Group, layer: Linear, before: Nonlinear | None, after: Nonlinear | None) -> LayerCost:
    form, macs = compiled_form(group, layer, before, after)
    dense = layer.in_type.dim * layer.out_type.dim
    mlp_params = dense + layer.out_type.dim
    work = _linear_elementwise(group, layer, form, before, after)
    return LayerCost(f"linear {layer.index}", "linear", form, macs, dense, dense, 0, work, _time(macs, work), layer.params, mlp_params)


def _nonlinear_cost(group: Group, layer: Nonlinear) -> LayerCost:
    macs = transform_macs(group, layer) + _layer_norm_macs(layer)
    name = f"hidden[{layer.index}] {layer.activation}"
    work = elementwise_work(group, layer)
    return LayerCost(name, layer.kind, "", macs, macs, 0, activations(group, layer), work, _time(macs, work), layer.params, 0)


def _time(macs: int, elementwise: int) -> int:
    return macs + ELEMENTWISE_MACS * elementwise


def _linear_elementwise(group: Group, layer: Linear, form: str, before: Nonlinear | None, after: Nonlinear | None) -> int:
    """A per-block layer concatenates its blocks' outputs, and gathers its columns where the layer beside it
    cannot take the blocks' order (the model's ends, Fourier layers, changes of basis: export.orders); a dense
    one adds its bias in its GEMM."""
    if form != "per_block":
        return 0
    n_in, n_out = layer.in_type.dim, layer.out_type.dim
    gathered_in = not _arranged(group, before, layer.in_type)
    gathered_out = not _arranged(group, after, layer.out_type)
    return n_out + gathered_in * n_in + gathered_out * 2 * n_out  # the gather of the outputs, and the bias added


def _arranged(group: Group, beside: Nonlinear | None, t: FieldType) -> bool:
    return beside is not None and beside.kind in ARRANGED_KINDS and not basis_change(group, t, beside)


def elementwise_work(group: Group, layer: Nonlinear) -> int:
    """Values per sample written by a nonlinear layer's operations other than matrix products, as compiled:

    * Fourier and quotient layers: the activation of every grid sample (a polynomial of degree k: 2k + 2
      passes, by Horner's rule), the concatenation of the channel groups and the copy back to batch-first;
    * tensor products: each channel's two gathered factors and their products (3 per distinct pair), and the
      layout copies into and out of batch-last form;
    * gated layers: the gates' sigmoid (after subtracting their bias), the scalars' ELU, each field
      coordinate's gate gathered and the products, then the concatenation;
    * norm layers: the gathered fields, about eight values per field (norm, bias, activation, scale), the
      products and the scatter back;
    * pointwise layers: one activation per coordinate (a polynomial: 2k + 2 passes);
    a layer norm adds its centring and scaling (batch norms fold into the linear layer before them).
    tests/test_cost.py holds the total within a factor of two of what the compiled model's operations write."""
    n_in, n_out = layer.in_type.dim, layer.out_type.dim
    norm = 3 * n_in if layer.norm == "layer" else 0
    passes = 2 * layer.poly_degree + 2 if layer.poly_degree else 1
    if layer.grid is not None and layer.kind in REGULAR_KINDS and not element_basis(group, layer):
        return norm + layer.channels * layer.grid.points * passes + 2 * n_out
    if layer.kind == "tensor" and layer.channels and layer.own_params:
        d_in, d_out = n_in // layer.channels, n_out // layer.channels
        return norm + layer.channels * (d_in + 3 * (d_in * (d_in + 1) // 2) + 2 * d_out)
    if layer.kind == "gated":  # the gates are what the layer drops; each field coordinate's gate is gathered
        return norm + n_in + (n_in - n_out) + 2 * n_out - layer.scalars
    if layer.kind == "norm":
        return norm + 4 * n_in + 8 * layer.in_type.n_fields
    return norm + n_in * passes


def transform_macs(group: Group, layer: Nonlinear) -> int:
    """Matrix products of a nonlinear layer per sample: a Fourier layer's A (points x coefficients) and its
    inverse on every channel; a tensor product's (d_out x d_in(d_in + 1)/2) projection of each channel's distinct products."""
    if layer.grid is not None and layer.kind in REGULAR_KINDS and not element_basis(group, layer):
        return 2 * layer.channels * layer.grid.points * layer.grid.coefficients
    if layer.kind == "tensor" and layer.channels and layer.own_params:
        d_in, d_out = layer.in_type.dim // layer.channels, layer.out_type.dim // layer.channels
        return layer.channels * d_out * (d_in * (d_in + 1) // 2)  # x_i x_j = x_j x_i: distinct products only
    return 0


def _layer_norm_macs(layer: Nonlinear) -> int:
    """The equivariant layer norm projects the field mean onto the trivial irreps: one (d x d) product per
    distinct field that holds a trivial irrep (the batch norms are folded away in eval mode)."""
    if layer.norm != "layer":
        return 0
    fields = {f for f, _ in layer.in_type.entries if any(i.freq == 0 and i.dim == 1 for i in f.irreps)}
    return sum(f.dim * f.dim for f in fields)


def activations(group: Group, layer: Nonlinear) -> int:
    """Activation-function evaluations per sample: one per grid sample of a Fourier layer, per coordinate of
    a pointwise layer, per field of a norm layer, per gate and scalar of a gated layer; none in a tensor
    product (its nonlinearity is the product itself)."""
    if layer.grid is not None and layer.kind in REGULAR_KINDS and not element_basis(group, layer):
        return layer.channels * layer.grid.points
    if layer.kind in REGULAR_KINDS:  # every coordinate (trivial fields, or regular ones in element basis)
        return layer.in_type.dim
    if layer.kind == "norm":
        return layer.in_type.n_fields
    if layer.kind == "gated":
        return layer.scalars + layer.in_type.n_fields - layer.out_type.n_fields
    return 0


def cost_totals(design: Design) -> dict[str, int]:
    """The totals per sample: compiled, escnn dense and plain-MLP MACs, activations, parameters."""
    cost = cost_of(design)
    return {name: cost.total(name) for name in TOTALS}


def cost_line(totals: dict[str, int]) -> str:
    """One sentence of the totals, as build reports them for the grids it chose."""
    return (
        f"Cost per sample as built: {totals['compiled_macs']:,} multiply-adds compiled, {totals['escnn_dense_macs']:,} in escnn's "
        f"dense form, {totals['plain_mlp_macs']:,} in a plain MLP of the same widths; {totals['activations']:,} activations, "
        f"{totals['elementwise']:,} elementwise values, time {totals['time_units']:,} (MACs + {ELEMENTWISE_MACS} per value)"
    )


def cost_json(cost: Cost) -> dict[str, object]:
    """The cost as `check --format json` reports it (``cost`` of each spec)."""
    names = TOTALS
    return {
        "unit": "per sample; MACs are multiply-adds of matrix products",
        "layers": [dict(x.__dict__) for x in cost.layers],
        "total": {n: cost.total(n) for n in names},
        "auto_grids_at_starting_points": list(cost.auto_grids),
    }
