"""Design -> a real escnn model (``gspaces.no_base_space(G)``), layer by layer.

The model alternates escnn ``Linear`` layers with the nonlinearity of every hidden layer, exactly as the
resolved Design lays them out, so parameter counts and field sizes can be compared one to one. Modules are
constructed under the float32 default dtype (escnn's ``Linear`` cannot be built under float64) and
converted afterwards; float64 models then get their bases projected onto the exact intertwiners and their
Fourier transforms recomputed in float64.
"""

from __future__ import annotations

from typing import Any

import torch

from ..analysis.design import Design, FieldType, Linear, Nonlinear, layer_rule
from ..export.modules import Polynomial
from ..theory.activation import elu_fit
from ..theory.group import Group
from ..theory.quadrature import RuleShape, rule
from .compat import (
    BuildError,
    attach_kernel,
    default_dtype,
    egroup,
    enn,
    fourier_kernel,
    gspaces,
    private_basis_cache,
    quiet,
    quotient_kernel,
    set_sampled_activation,
)
from .families import Elements, family
from .grids import normalized_kernel, sampling_matrix, set_fourier_sampling
from .model import BuiltLayer, EscnnModel
from .modules import BiasOnly, FiniteFourierPointwise, FixedTensorProduct, GatedBlock, ZeroMap, pointwise_module
from .norms import NORMALIZATIONS, EscnnLayerNorm, exact_norm_buffers
from .projection import exact_bases
from .types import design_irreps, eid_content, escnn_group, escnn_type, rep_content

_NORM_FUNCTIONS = {"norm_relu": "n_relu", "norm_sigmoid": "n_sigmoid", "norm_squash": "squash"}


def activation_function(activation: str) -> str:
    """The pointwise function of a spec nonlinearity: relu for the *_relu kinds, poly for the *_poly kinds,
    elu otherwise."""
    if activation.endswith("_poly"):
        return "poly"
    return "relu" if activation.endswith("relu") and not activation.startswith("norm") else "elu"


def poly_coefficients(nl: Nonlinear, dtype: torch.dtype = torch.float64) -> torch.Tensor | None:
    """The polynomial activation's coefficients (constant first), or None for the other activations."""
    return None if nl.poly_degree is None else torch.tensor(elu_fit(nl.poly_degree), dtype=dtype)


def sample_on_rule(module: Any, G: Any, group: Group, nl: Nonlinear, shape: RuleShape) -> None:
    """Resample an escnn Fourier module on a weighted rule (float64, weighted least squares)."""
    points = rule(shape)
    elements = family(group).rule_elements(G, points, nl.quotient)
    set_fourier_sampling(module, sampling_matrix(module, elements), points.weights)


class _Builder:
    def __init__(self, design: Design, grid_refinement: int) -> None:
        self.d, self.g, self.family = design, design.group, family(design.group)
        self.refine = grid_refinement
        top = max((i.freq for i in design_irreps(design)), default=1)
        if any(nl.kind == "tensor" for nl in design.hidden):
            # escnn's intertwiner basis from the square (frequency 2f) to the field (f) multiplies those
            # irreps again: groups that only know their instantiated irreps (the cylinders) need up to 3f
            top *= 3
        self.G = escnn_group(self.g, top + 2)
        self.gspace = gspaces.no_base_space(self.G)
        self.notes: list[str] = []

    def type_of(self, t: FieldType) -> Any:
        return escnn_type(self.gspace, t)

    # nonlinearities ---------------------------------------------------------------------------------------
    def nonlinear(self, nl: Nonlinear) -> Any:
        m = getattr(self, "_" + nl.kind)(nl)
        if m.in_type.size != nl.in_type.dim or m.out_type.size != nl.out_type.dim:
            raise BuildError(f"escnn sizes {m.in_type.size}->{m.out_type.size}, design {nl.in_type.dim}->{nl.out_type.dim}", nl.path)
        want, have = eid_content(nl.in_type.content()), rep_content(m.in_type.representations)
        if want != have:
            raise BuildError(f"escnn's {nl.kind} fields hold {dict(have)}, the design {dict(want)}", nl.path)
        return m

    def _finite_regular(self, nl: Nonlinear) -> Any:
        keep = set(eid_content(nl.channel))
        fn, poly = activation_function(nl.activation), poly_coefficients(nl)
        if eid_content(nl.channel) == eid_content(self.g.regular(None)):
            return pointwise_module(self.gspace.type(*[self.G.regular_representation] * nl.channels), fn, poly)
        return FiniteFourierPointwise(self.gspace, nl.channels, keep, fn, poly)

    def _fourier(self, nl: Nonlinear) -> Any:
        if self.g.finite:
            return self._finite_regular(nl)
        if nl.grid is None or nl.band_limit is None:
            raise BuildError(f"Fourier layers on {self.g.label} have no grid", nl.path)
        weighted = nl.grid.rule is not None
        args, kwargs = self.family.placeholder_grid_args(nl.band_limit) if weighted else self.family.fourier_grid_args(nl.grid)
        irreps = self.G.bl_irreps(nl.band_limit)
        m = enn.FourierPointwise(self.gspace, nl.channels, irreps, *args, function=self._escnn_fn(nl), inplace=False, **kwargs)
        elements = None if weighted else self.family.design_grid(self.G, self.g, nl.grid, None)
        return self._sampled(m, nl, fourier_kernel(self.G, irreps), elements)

    def _quotient(self, nl: Nonlinear) -> Any:
        if nl.quotient is None or nl.grid is None:
            raise BuildError("no quotient representation to build", nl.path)
        sub = self.g.quotients()[nl.quotient].escnn_subgroup
        irreps = self.G.bl_irreps(nl.band_limit)
        elements = None if nl.grid.rule is not None else self.family.design_grid(self.G, self.g, nl.grid, nl.quotient)
        grid = elements or [self.G.identity]  # a weighted rule replaces the sampling right after
        m = enn.QuotientFourierPointwise(self.gspace, sub, nl.channels, irreps, grid=grid, function=self._escnn_fn(nl), inplace=False)
        return self._sampled(m, nl, quotient_kernel(self.G, sub, irreps), elements)

    @staticmethod
    def _escnn_fn(nl: Nonlinear) -> str:
        fn = activation_function(nl.activation)
        return "p_elu" if fn == "poly" else "p_" + fn  # the polynomial replaces escnn's function below

    def _sampled(self, m: Any, nl: Nonlinear, kernel: Any, elements: Elements | None) -> Any:
        """escnn's transforms recomputed in float64, on the design's grid (escnn's or a weighted rule) or a
        finer one; a polynomial activation replaces escnn's function."""
        assert nl.grid is not None and nl.band_limit is not None
        attach_kernel(m, normalized_kernel(kernel))
        poly = poly_coefficients(nl)
        if poly is not None:
            set_sampled_activation(m, Polynomial(poly))
        if elements is not None:
            self._note_points(nl, len(elements))
            set_fourier_sampling(m, sampling_matrix(m, elements))
        shape = layer_rule(self.g, nl, self.refine)
        if shape is not None:
            sample_on_rule(m, self.G, self.g, nl, shape)
        return m

    def _note_points(self, nl: Nonlinear, n: int) -> None:
        if nl.grid is not None and nl.grid.points != n:
            self.notes.append(
                f"hidden layer {nl.index}: the design counts {nl.grid.points} grid points ({nl.grid.type}, n={nl.grid.n}), escnn samples {n}"
            )

    def _pointwise(self, nl: Nonlinear) -> Any:
        if self.g.finite:
            return self._finite_regular(nl)
        t = self.gspace.type(*[self.G.trivial_representation] * nl.channels)
        return pointwise_module(t, activation_function(nl.activation))

    def _norm(self, nl: Nonlinear) -> Any:
        fn = _NORM_FUNCTIONS[nl.activation]
        return enn.NormNonLinearity(self.type_of(nl.in_type), function=fn, bias=fn != "squash")

    def _gated(self, nl: Nonlinear) -> Any:
        n_gates = nl.in_type.n_fields - nl.out_type.n_fields
        return GatedBlock(self.gspace, self.type_of(nl.in_type), nl.scalars, n_gates)

    def _tensor(self, nl: Nonlinear) -> Any:
        ((f, channels),) = nl.in_type.entries
        irreps = [self.G.irrep(*i.eid) for i in f.irreps]
        t = self.gspace.type(*[egroup.directsum(irreps) if len(irreps) > 1 else irreps[0]] * channels)
        if nl.own_params == 0:
            self.notes.append(
                f"hidden layer {nl.index}: the square of {f.name} holds none of its irreps; the tensor product is the zero map"
            )
            return ZeroMap(t, t)
        return FixedTensorProduct(t, t)

    # linear layers --------------------------------------------------------------------------------------
    def linear(self, layer: Linear, in_type: Any, out_type: Any) -> Any:
        m = enn.Linear(in_type, out_type, bias=True) if layer.blocks else BiasOnly(in_type, out_type)
        if m.in_type.size != layer.in_type.dim or m.out_type.size != layer.out_type.dim:
            raise BuildError(
                f"escnn sizes {m.in_type.size}->{m.out_type.size}, design {layer.in_type.dim}->{layer.out_type.dim}", layer.path
            )
        return m

    # normalizations --------------------------------------------------------------------------------------
    def normalized(self, nl: Nonlinear, act: Any) -> Any:
        """The nonlinearity, preceded by the layer's normalization on the same fields (escnn's batch norms,
        or eqdesign's equivariant layer norm)."""
        if nl.norm is None:
            return act
        norm = {"iid_batch": enn.IIDBatchNorm1d, "norm_batch": enn.NormBatchNorm, "layer": EscnnLayerNorm}[nl.norm](act.in_type)
        return enn.SequentialModule(norm, act)

    def build(self) -> list[BuiltLayer]:
        hidden = {id(nl): self.normalized(nl, self.nonlinear(nl)) for nl in self.d.hidden}
        built: list[BuiltLayer] = []
        current = self.type_of(self.d.input)
        layers = self.d.layers
        for k, layer in enumerate(layers):
            if isinstance(layer, Nonlinear):
                m = hidden[id(layer)]
            else:
                # the next nonlinearity's escnn module fixes the hidden type (Fourier fields above all)
                target = hidden[id(layers[k + 1])].in_type if k + 1 < len(layers) else self.type_of(self.d.output)
                m = self.linear(layer, current, target)
            current = m.out_type
            built.append(BuiltLayer(layer, m))
        return built


def build_escnn(design: Design, dtype: torch.dtype = torch.float64, seed: int | None = 0, grid_refinement: int = 1) -> EscnnModel:
    """Build the escnn model of a design.

    ``seed``: redraw every parameter (weights and biases) from that seed, so that bias-only paths are alive
    (escnn initialises biases to zero); None keeps escnn's own initialisation.
    ``grid_refinement`` > 1 samples every Fourier layer of a continuous group on a finer grid than the
    design's (about that factor more points per direction); parameters are unaffected."""
    with quiet(), default_dtype(torch.float32), private_basis_cache():
        b = _Builder(design, grid_refinement)
        model = EscnnModel(design, b.G, b.gspace, b.build(), b.notes)
    model = model.to(dtype)
    if dtype == torch.float64:
        with quiet():
            exact_bases(model, b.G, design.group)
        for m in model.modules():  # escnn builds the normalizations' projections in float32
            if isinstance(m, NORMALIZATIONS):
                exact_norm_buffers(m)
    if seed is not None:
        model.reinitialize(seed)
    model.eval()
    return model
