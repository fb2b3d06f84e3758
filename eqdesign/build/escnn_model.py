"""Design -> a real escnn model (`gspaces.no_base_space(G)`), layer by layer.

The model alternates escnn ``Linear`` layers with the nonlinearity of every hidden layer, exactly as the
resolved :class:`~eqdesign.analysis.design.Design` lays them out, so parameter counts and field sizes can be
compared one to one. Workarounds for escnn 1.0.11 (see ESCNN-NOTES.md):

* modules are constructed under the float32 default dtype (``Linear`` cannot be built under float64) and
  converted afterwards. escnn samples bases, changes of basis and Fourier transforms in float32 (about
  1e-8); for float64 models every basis is projected onto the exact intertwiners by a Haar average
  (:func:`exact_bases`) and the Fourier transforms are recomputed in float64, so exact layers are exact;
* escnn caches sampled bases process-wide, so converting one model's dtype would convert every other
  model's: each build uses a private cache;
* ``TensorProductModule.forward`` uses ``.view`` on a non-contiguous tensor: fixed in a subclass;
* ``GatedNonLinearity1.forward`` allocates a float32 output: a subclass computes the same thing in the
  input's dtype;
* ``ELU`` is refused on the trivial irrep of direct-product groups: a plain elementwise wrapper;
* ``FourierELU`` cannot be built on the polyhedral groups: finite groups use ELU on regular fields (the
  whole regular representation) or an exact Fourier layer over all group elements (band-limited);
* a ``Linear`` with no valid weights crashes in ``forward``: such a layer is built as its bias alone;
* ``TensorProductModule`` refuses a field whose square holds none of its irreps: built as the zero map;
* escnn prints joblib banners and stray lines while building: construction runs with stdout captured.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Capture escnn's stray prints (joblib ``[Memory]`` banners, numerical Clebsch-Gordan progress)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


with quiet():
    import escnn.group as egroup
    from escnn import gspaces
    from escnn import nn as enn
    from escnn.nn.modules.basismanager import basisexpansion_singleblock as _singleblock
    from escnn.nn.modules.basismanager.basisexpansion_blocks import BlocksBasisExpansion
    from escnn.nn.modules.nonlinearities.fourier import _build_kernel as _fourier_kernel

from ..analysis.design import Design, FieldType, Grid, Linear, Nonlinear
from ..theory.group import Group
from ..theory.irreps import Irrep
from ..theory.notation import Field


class BuildError(Exception):
    """The design cannot be built with escnn (or escnn disagrees with the design's layout)."""


@contextlib.contextmanager
def private_basis_cache() -> Iterator[None]:
    """escnn shares sampled bases between all layers of a process (a module-level cache), so converting one
    model to float64 would convert the bases of every other model. Build with a cache of our own."""
    saved = _singleblock._stored_filters
    _singleblock._stored_filters = {}
    try:
        yield
    finally:
        _singleblock._stored_filters = saved


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


# -- groups and representations ----------------------------------------------------------------------------


def design_irreps(design: Design) -> set[Irrep]:
    """Every irrep that occurs anywhere in the design."""
    out: set[Irrep] = set()
    for t in _field_types(design):
        out |= set(t.content())
    for nl in design.hidden:
        out |= set(nl.channel)
    return out


def _field_types(design: Design) -> list[FieldType]:
    types = [design.input, design.output]
    for nl in design.hidden:
        types += [nl.in_type, nl.out_type]
    return types


def escnn_group(group: Group, max_freq: int = 2):
    """The escnn group object (a process-wide singleton in escnn) for one of our groups."""
    factory = getattr(egroup, group.escnn_factory)
    with quiet():
        if group.finite:
            return factory(*group.escnn_args)
        return factory(max(max_freq, 1))


def standard_representation(G) -> Any:
    """escnn's standard representation where the group has one (a method on some groups, a property on others)."""
    sr = getattr(type(G), "standard_representation", None)
    if sr is None:
        return None
    try:
        rep = G.standard_representation
        # a Representation is callable too (on group elements): call only the method form
        return rep if isinstance(rep, egroup.Representation) else rep()
    except (NotImplementedError, AttributeError, TypeError):
        return None


def field_representation(G, f: Field):
    """The escnn representation of one field: an irrep, the standard representation, or a direct sum."""
    eids = [tuple(i.eid) for i in f.irreps]
    if f.name == "vector":
        std = standard_representation(G) or _product_vector(G, eids)
        if std is not None and sorted(map(repr, std.irreps)) == sorted(map(repr, eids)):
            return std
    if len(eids) == 1:
        return G.irrep(*eids[0])
    return egroup.directsum([G.irrep(*e) for e in eids])


def _product_vector(G, eids: list) -> Any:
    """full_ico/full_octa (C2 x polyhedral): the vector in xyz coordinates, i.e. the irrep (-1) x T1 in the
    basis of the polyhedral group's standard representation (escnn has no standard representation here)."""
    inner_group = getattr(G, "G2", None)
    inner = standard_representation(inner_group) if inner_group is not None else None
    if inner is None or len(eids) != 1 or len(inner.irreps) != 1 or tuple(eids[0][1]) != tuple(inner.irreps[0]):
        return None
    name = "eqdesign_vector"
    if name in G.representations:
        return G.representations[name]
    return egroup.change_basis(G.irrep(*eids[0]), inner.change_of_basis, name)


def escnn_type(gspace, t: FieldType):
    G = gspace.fibergroup
    reps = [field_representation(G, f) for f, m in t.entries for _ in range(m)]
    return gspace.type(*reps) if reps else gspace.type()


def rep_content(reps) -> Counter:
    """Irrep-id content of a list of escnn representations."""
    c: Counter = Counter()
    for r in reps:
        for i in r.irreps:
            c[tuple(i)] += 1
    return c


def _eid_content(c) -> Counter:
    return Counter({tuple(i.eid): m for i, m in c.items() if m})


# -- grids --------------------------------------------------------------------------------------------------

_NEEDS_NO_N = {"ico", "cube", "tetra"}


def _so3_like(group: Group) -> bool:
    return group.key in ("so3", "o3")


def design_grid(G, group: Group, grid: Grid, quotient: Optional[str] = None) -> list:
    """The escnn group elements of a design grid (continuous groups)."""
    kind, n = grid.type, grid.n
    extra = {"seed": 0} if kind == "rand" else {}
    with quiet():
        if quotient is None:
            if group.key in ("so2", "o2"):
                return G.grid(N=n, type=kind, **extra)
            if _so3_like(group):
                args = () if kind in _NEEDS_NO_N else (n,)
                return G.grid(kind, *args, **extra)
        else:
            if _so3_like(group):
                args = () if kind in _NEEDS_NO_N else (n,)
                return G.sphere_grid(kind, *args, **extra)
            if group.key == "o2":
                return _circle_cosets(G, n, kind)
    raise BuildError(f"no grid of type {kind!r} for {group.label}" + (f" ({quotient})" if quotient else ""))


def _circle_cosets(G, n: int, kind: str) -> list:
    """O(2)/{1, reflection}: one rotation per point of the circle."""
    if kind == "rand":
        angles = np.random.RandomState(0).uniform(0, 2 * np.pi, n)
    else:
        angles = 2 * np.pi * np.arange(n) / n
    return [G.element((0, float(a)), "radians") for a in angles]


def refined_sampling(module, G, group: Group, grid: Grid, band_limit: int, factor: int, quotient: Optional[str] = None) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Sampling matrix (points x field size) and quadrature weights (None: equal) of a grid about ``factor``
    times finer per direction than a good grid for the band limit. Used to tell genuine dependencies from
    discretization leakage; see :func:`set_fourier_sampling`."""
    L = max(band_limit or 1, 1)
    if quotient is None and group.key in ("so2", "o2"):
        n = max(grid.n or 1, 2 * L + 2) * factor
        return sampling_matrix(module, G.grid(N=n, type="regular")), None
    if quotient == "circle":
        n = max(grid.n or 1, 2 * L + 2) * factor
        return sampling_matrix(module, _circle_cosets(G, n, "regular")), None
    if quotient is not None and _so3_like(group):
        return _sphere_sampling(module, G, group, (2 * L + 2) * factor)
    if _so3_like(group):
        return _euler_sampling(module, G, group, (2 * L + 2) * factor)
    raise BuildError(f"cannot refine a {grid.type} grid of {group.label}")


def sampling_matrix(module, elements: list) -> np.ndarray:
    """Rows rho(g) k of an escnn Fourier module (k its normalized kernel) for the given group elements."""
    kernel = module._eqd_kernel
    return np.stack([(module.rho(g) @ kernel).reshape(-1) for g in elements], axis=0)


def _euler_sampling(module, G, group: Group, m: int) -> tuple[np.ndarray, np.ndarray]:
    """ZYZ Euler product quadrature g = Rz(a) Ry(b) Rz(c): m uniform a, m uniform c, m Gauss-Legendre nodes in
    cos(b); exact for the Haar integral of functions of degree < m. Times {1, inversion} for O(3).
    Rows are assembled from the three factors' representation matrices (rho is a homomorphism)."""
    x, w = np.polynomial.legendre.leggauss(m)
    beta = np.arccos(x)
    ang = 2 * np.pi * np.arange(m) / m

    def el(a: float, b: float, c: float, inv: int = 0):
        rot = (float(a), float(b), float(c))
        return G.element(rot if group.key == "so3" else (inv, rot), "zyz")

    rho, kernel = module.rho, module._eqd_kernel.reshape(-1)
    Ra = np.stack([rho(el(a, 0, 0)) for a in ang])  # (m, d, d)
    Rb = np.stack([rho(el(0, b, 0)) for b in beta])
    vc = np.stack([rho(el(0, 0, c)) @ kernel for c in ang])  # (m, d)
    inner = np.einsum("bjk,ck->bcj", Rb, vc)  # (m, m, d)
    rows = np.einsum("aij,bcj->abci", Ra, inner).reshape(-1, kernel.size)
    weights = np.broadcast_to(w[None, :, None], (m, m, m)).reshape(-1) / (2 * m * m)
    if group.key == "o3":
        inv = rho(el(0, 0, 0, 1))
        rows = np.concatenate([rows, rows @ inv.T])
        weights = np.concatenate([weights, weights]) / 2
    return rows, weights


def _sphere_sampling(module, G, group: Group, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Product quadrature on the sphere (G/H for the sphere quotient): m Gauss-Legendre nodes in cos(theta) times
    2m uniform azimuths, exact for degrees below m. Coset representatives as escnn's sphere grids take them."""
    x, w = np.polynomial.legendre.leggauss(m)
    theta = np.arccos(x)
    phi = 2 * np.pi * np.arange(2 * m) / (2 * m)
    elements, weights = [], []
    for t, wt in zip(theta, w):
        for f in phi:
            rot = (0.0, float(t), float(f))
            elements.append(G.element(rot if group.key == "so3" else (0, rot), "zyz"))
            weights.append(wt / (2 * 2 * m))
    return sampling_matrix(module, elements), np.asarray(weights)


def set_fourier_sampling(module, A: np.ndarray, weights: Optional[np.ndarray] = None) -> None:
    """Replace the sampling (A) and the least-squares transform (Ainv) of an escnn FourierPointwise or
    QuotientFourierPointwise, in float64 (escnn computes them in the default dtype, float32 here).

    Without weights, Ainv is escnn's own formula, inv(A^T A + 1e-8 I) A^T; with quadrature weights W it is
    the weighted least squares inv(A^T W A) A^T W."""
    if weights is None:
        M, AtW, ridge = A.T @ A, A.T, 1e-8
    else:
        AtW = A.T * np.asarray(weights, dtype=float)
        M = AtW @ A
        ridge = 1e-14 * np.trace(M) / M.shape[0]
    Ainv = np.linalg.solve(M + ridge * np.eye(M.shape[0]), AtW)
    module.A = torch.tensor(A, dtype=torch.float64)
    module.Ainv = torch.tensor(Ainv, dtype=torch.float64)
    module._eqd_points = A.shape[0]


# -- modules ------------------------------------------------------------------------------------------------


class BiasOnly(enn.EquivariantModule):
    """A linear layer with no equivariant weights (no irrep in common): its output is its bias alone.
    escnn's ``Linear`` crashes on such a layer."""

    def __init__(self, in_type, out_type):
        super().__init__()
        self.in_type, self.out_type = in_type, out_type
        G = out_type.fibergroup
        cols = []
        p = 0
        for r in out_type.representations:
            q = 0
            for irr in r.irreps:
                size = G.irrep(*irr).size
                if G.irrep(*irr).is_trivial():
                    col = np.zeros(out_type.size)
                    col[p:p + r.size] = r.change_of_basis[:, q]
                    cols.append(col)
                q += size
            p += r.size
        expansion = np.stack(cols, axis=1) if cols else np.zeros((out_type.size, 0))
        self.register_buffer("bias_expansion", torch.tensor(expansion, dtype=torch.float64))
        self.bias = torch.nn.Parameter(torch.zeros(len(cols), dtype=torch.float64)) if cols else None

    def forward(self, input):
        x = input.tensor
        out = x.new_zeros(x.shape[0], self.out_type.size)
        if self.bias is not None:
            out = out + (self.bias_expansion.to(x.dtype) @ self.bias.to(x.dtype))
        return self.out_type(out)

    def evaluate_output_shape(self, input_shape):
        return input_shape[:1] + (self.out_type.size,)


class ZeroMap(enn.EquivariantModule):
    """The zero map between two field types: a tensor product whose square holds none of the field's irreps
    (escnn's TensorProductModule refuses to construct it)."""

    def __init__(self, in_type, out_type):
        super().__init__()
        self.in_type, self.out_type = in_type, out_type

    def forward(self, input):
        x = input.tensor
        return self.out_type(x.new_zeros(x.shape[0], self.out_type.size))

    def evaluate_output_shape(self, input_shape):
        return input_shape[:1] + (self.out_type.size,)


class Elementwise(enn.EquivariantModule):
    """ELU/ReLU applied coordinatewise; for field types escnn's ELU refuses (trivial irreps of direct
    products), where it is exactly what escnn's ELU would compute."""

    def __init__(self, in_type, function: str):
        super().__init__()
        self.in_type = self.out_type = in_type
        self.function = function

    def forward(self, input):
        fn = F.elu if self.function == "elu" else F.relu
        return self.out_type(fn(input.tensor))

    def evaluate_output_shape(self, input_shape):
        return input_shape


class FiniteFourierPointwise(enn.EquivariantModule):
    """Band-limited Fourier nonlinearity of a finite group, sampled on every group element (exact).

    The channel holds the irreps of the regular representation whose ids are kept; a channel's vector is
    mapped to a function on the group (the kept columns of the regular representation's change of basis),
    the activation is applied pointwise, and the result is projected back by least squares. The regular
    representation permutes group elements, so every step commutes with the group action."""

    def __init__(self, gspace, channels: int, keep: set, function: str):
        super().__init__()
        G = gspace.fibergroup
        reg = G.regular_representation
        cols, kept = [], []
        p = 0
        for irr in reg.irreps:
            size = G.irrep(*irr).size
            if tuple(irr) in keep:
                cols.extend(range(p, p + size))
                kept.append(G.irrep(*irr))
            p += size
        A = np.asarray(reg.change_of_basis)[:, cols]
        self.rho = egroup.directsum(kept) if len(kept) > 1 else kept[0]
        self.in_type = self.out_type = gspace.type(*[self.rho] * channels)
        self.channels, self.function = channels, function
        self.register_buffer("A", torch.tensor(A, dtype=torch.float64))
        self.register_buffer("Ainv", torch.tensor(np.linalg.pinv(A), dtype=torch.float64))

    def forward(self, input):
        x = input.tensor
        b = x.shape[0]
        x = x.reshape(b, self.channels, self.rho.size)
        f = torch.einsum("bcf,gf->bcg", x, self.A.to(x.dtype))
        f = F.elu(f) if self.function == "elu" else F.relu(f)
        y = torch.einsum("bcg,fg->bcf", f, self.Ainv.to(x.dtype))
        return self.out_type(y.reshape(b, -1))

    def evaluate_output_shape(self, input_shape):
        return input_shape


class FixedTensorProduct(enn.TensorProductModule):
    """escnn's TensorProductModule with its forward fixed (``.reshape`` where escnn uses ``.view`` on a
    non-contiguous einsum output)."""

    def forward(self, input):
        assert input.type == self.in_type
        x = input.tensor
        b = x.shape[0]
        size = self.in_type.representations[0].size
        x = x.reshape(b, self._C, size)
        t = torch.einsum("bci,bco->bcio", x, x).reshape(b, self._C, size * size)
        matrix = self.matrix if not self.training else self.expand_parameters()
        matrix = matrix.reshape(self._C, self.out_type.representations[0].size, size * size)
        out = torch.einsum("coi,bci->bco", matrix.to(x.dtype), t)
        return self.out_type(out.reshape(b, self.out_type.size))


class FixedGated(enn.GatedNonLinearity1):
    """escnn's GatedNonLinearity1 (gates first, then the gated fields), computed in the input's dtype.

    escnn allocates a float32 output; here every gated field is multiplied by sigmoid(gate - bias) with the
    same pairing of gates to fields as escnn (fields grouped by size, smallest first)."""

    def __init__(self, in_type, n_gates: int):
        labels = ["gate"] * n_gates + ["gated"] * (len(in_type) - n_gates)
        super().__init__(in_type, gates=labels, drop_gates=True)
        sizes = [r.size for r in in_type.representations[n_gates:]]
        # escnn consumes gates size by size (sorted), and fields of one size in order
        gate_of_field = [0] * len(sizes)
        g = 0
        for s in sorted(set(sizes)):
            for i, si in enumerate(sizes):
                if si == s:
                    gate_of_field[i] = g
                    g += 1
        index = [gate_of_field[i] for i, s in enumerate(sizes) for _ in range(s)]
        self.n_gates = n_gates
        self.register_buffer("coord_gate", torch.tensor(index, dtype=torch.long))

    def forward(self, input):
        x = input.tensor
        gates = torch.sigmoid(x[:, : self.n_gates] - self.bias.view(1, -1).to(x.dtype))
        out = x[:, self.n_gates:] * gates[:, self.coord_gate]
        return self.out_type(out)


class GatedBlock(enn.EquivariantModule):
    """Our gated layer: [scalars (ELU), gates, gated fields] -> [scalars, gated fields]."""

    def __init__(self, gspace, in_type, n_scalars: int, n_gates: int):
        super().__init__()
        reps = in_type.representations
        self.in_type = in_type
        self.n_scalars = n_scalars
        self.split = sum(r.size for r in reps[:n_scalars])
        self.scalars = pointwise_module(gspace.type(*reps[:n_scalars]), "elu") if n_scalars else None
        self.gated = FixedGated(gspace.type(*reps[n_scalars:]), n_gates)
        self.out_type = gspace.type(*reps[:n_scalars], *self.gated.out_type.representations)

    def forward(self, input):
        x = input.tensor
        parts = []
        if self.scalars is not None:
            s = x[:, : self.split]
            parts.append(self.scalars(self.scalars.in_type(s)).tensor)
        parts.append(self.gated(self.gated.in_type(x[:, self.split:])).tensor)
        return self.out_type(torch.cat(parts, dim=1))

    def evaluate_output_shape(self, input_shape):
        return input_shape[:1] + (self.out_type.size,)


def pointwise_module(ftype, function: str):
    """escnn's ELU/ReLU where it accepts the field type, else the identical elementwise wrapper."""
    cls = enn.ELU if function == "elu" else enn.ReLU
    try:
        return cls(ftype)
    except AssertionError:
        return Elementwise(ftype, function)


# -- the model ----------------------------------------------------------------------------------------------


@dataclass
class BuiltLayer:
    """One layer of the design and the escnn module built for it."""

    layer: Any  # our Linear or Nonlinear
    module: torch.nn.Module

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)

    @property
    def in_size(self) -> int:
        return self.module.in_type.size

    @property
    def out_size(self) -> int:
        return self.module.out_type.size


class EscnnModel(torch.nn.Module):
    """The escnn layers of a design, applied to plain tensors (batch, input dim) -> (batch, output dim)."""

    def __init__(self, design: Design, G, gspace, built: list[BuiltLayer], notes: list[str]):
        super().__init__()
        self.design, self.G, self.gspace = design, G, gspace
        self.layers = torch.nn.ModuleList([b.module for b in built])
        self._built = built
        self.notes = notes  # discrepancies between escnn and the design worth reporting (grid sizes, ...)

    @property
    def built(self) -> list[BuiltLayer]:
        return self._built

    @property
    def in_type(self):
        return self.layers[0].in_type

    @property
    def out_type(self):
        return self.layers[-1].out_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.layers:
            x = m(m.in_type(x)).tensor
        return x

    def params(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def input_matrix(self, g) -> np.ndarray:
        return np.asarray(self.in_type.representation(g))

    def output_matrix(self, g) -> np.ndarray:
        return np.asarray(self.out_type.representation(g))

    @torch.no_grad()
    def reinitialize(self, seed: int, bias_scale: float = 1.0, norm_log_bias: tuple[float, float] = (-2.0, 1.0)) -> "EscnnModel":
        """Generic random parameters: every weight and every bias redrawn (escnn starts biases at zero).

        Weights follow escnn's generalized He initialisation, biases N(0, bias_scale^2). Norm nonlinearities
        get log-biases N(mean, std^2) from ``norm_log_bias``: thresholds well below the field norms, so that
        small but genuine signals (a cubic invariant, say) are not cut off everywhere."""
        gen = torch.Generator().manual_seed(seed)

        def randn(p: torch.Tensor) -> torch.Tensor:
            return torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p.dtype)

        for m in self.modules():
            if isinstance(m, (enn.Linear, enn.TensorProductModule)):
                if m.weights.numel():
                    variances = _he_std(m)
                    m.weights.copy_(randn(m.weights) * variances.to(m.weights.dtype))
                if getattr(m, "bias", None) is not None:
                    m.bias.copy_(bias_scale * randn(m.bias))
            elif isinstance(m, BiasOnly):
                if m.bias is not None:
                    m.bias.copy_(bias_scale * randn(m.bias))
            elif isinstance(m, enn.GatedNonLinearity1):
                m.bias.copy_(randn(m.bias))
            elif isinstance(m, enn.NormNonLinearity):
                if m.log_bias is not None:
                    mean, std = norm_log_bias
                    m.log_bias.copy_(mean + std * randn(m.log_bias))
        self.train(self.training)
        return self


class _HaarAverage:
    """Exact Haar averages g -> rho_out(g) B rho_in(g)^T over the model's group, in float64.

    Finite groups: every element. Circle-type groups: a finite subgroup (m rotations, with the reflections
    and mirrors), exact for frequencies below m. SO(3)/O(3): the ZYZ Euler product rule (m uniform angles,
    m Gauss-Legendre nodes in cos(beta)) applied factor by factor, exact for degrees below m."""

    def __init__(self, model: "EscnnModel"):
        self.G, self.group = model.G, model.design.group
        self._freq: dict = {}
        self._mats: dict = {}  # (representation, grid key) -> stacked matrices
        self._grids: dict = {}

    def freq(self, rep) -> int:
        top = 0
        for irr in rep.irreps:
            irr = tuple(irr)
            if irr not in self._freq:
                self._freq[irr] = _escnn_freq(self.group, irr)
            top = max(top, self._freq[irr])
        return top

    def __call__(self, rep_out, rep_in, B: np.ndarray) -> np.ndarray:
        """B: (k, out, in) -> its projection onto the intertwiners."""
        if self.group.finite:
            return self._average(("all",), None, rep_out, rep_in, B)
        m = self.freq(rep_out) + self.freq(rep_in) + 1
        if self.group.key in ("so3", "o3"):
            x, w = np.polynomial.legendre.leggauss(m)
            B = self._average(("gamma", m), None, rep_out, rep_in, B)
            B = self._average(("beta", m), w / 2, rep_out, rep_in, B)
            B = self._average(("alpha", m), None, rep_out, rep_in, B)
            if self.group.key == "o3":
                B = self._average(("inversion",), None, rep_out, rep_in, B)
            return B
        return self._average(("circle", max(m, 2)), None, rep_out, rep_in, B)

    def _average(self, grid: tuple, weights, rep_out, rep_in, B):
        Ro, Ri = self._matrices(rep_out, grid), self._matrices(rep_in, grid)
        w = np.full(len(Ro), 1.0 / len(Ro)) if weights is None else weights
        return np.einsum("g,goa,kab,gib->koi", w, Ro, B, Ri, optimize=True)

    def _matrices(self, rep, grid: tuple) -> np.ndarray:
        key = (id(rep), rep.name, grid)
        if key not in self._mats:
            self._mats[key] = np.stack([np.asarray(rep(g), dtype=float) for g in self._elements(grid)])
        return self._mats[key]

    def _elements(self, grid: tuple) -> list:
        if grid not in self._grids:
            self._grids[grid] = self._make_elements(grid)
        return self._grids[grid]

    def _make_elements(self, grid: tuple) -> list:
        G, key = self.G, self.group.key
        kind = grid[0]
        if kind == "all":
            return list(G.elements)
        if kind == "circle":
            m = grid[1]
            if key in ("so2", "o2"):
                return G.grid(N=m, type="regular")
            # cylinder groups: C2 x SO(2) or O(2)
            return [G.pair_elements(a, b) for a in G.G1.elements for b in G.G2.grid(N=m, type="regular")]
        o3 = key == "o3"

        def el(a: float, b: float, c: float, inv: int = 0):
            rot = (float(a), float(b), float(c))
            return G.element((inv, rot) if o3 else rot, "zyz")

        if kind == "inversion":
            return [el(0, 0, 0, 0), el(0, 0, 0, 1)]
        m = grid[1]
        ang = 2 * np.pi * np.arange(m) / m
        if kind == "beta":
            return [el(0, float(b), 0) for b in np.arccos(np.polynomial.legendre.leggauss(m)[0])]
        if kind == "gamma":
            return [el(0, 0, a) for a in ang]
        return [el(a, 0, 0) for a in ang]


def _escnn_freq(group: Group, eid: tuple) -> int:
    """The frequency (band-limit degree) of an escnn irrep id of one of our continuous groups."""
    key = group.key
    if key in ("so2",):
        return abs(int(eid[0]))
    if key in ("o2", "o3"):
        return int(eid[1])
    if key == "so3":
        return int(eid[0])
    if key in ("cylinder", "full_cylinder"):
        inner = eid[1]
        return abs(int(inner[-1]))
    return 0


@torch.no_grad()
def exact_bases(model: "EscnnModel") -> None:
    """Project every sampled basis (and bias direction) of the model onto the exact intertwiners, in float64,
    by an exact Haar average over the group.

    escnn samples its bases in float32 (changes of basis and Clebsch-Gordan coefficients are rounded), so a
    float64 model is only equivariant to about 1e-8 (tensor products, regular fields); after the projection
    the exactly equivariant layers are exact to rounding."""
    average = _HaarAverage(model)
    for mod in model.modules():
        if isinstance(mod, BlocksBasisExpansion):
            ins = {r.name: r for r in mod._in_reprs}
            outs = {r.name: r for r in mod._out_reprs}
            for pair in mod._representations_pairs:
                block = getattr(mod, f"block_expansion_{mod._escape_pair(pair)}")
                B = block.sampled_basis.detach().to(torch.float64).numpy()  # (k, out, in, points)
                Bp = np.stack([average(outs[pair[1]], ins[pair[0]], B[..., p]) for p in range(B.shape[-1])], axis=-1)
                block.sampled_basis = torch.tensor(Bp, dtype=block.sampled_basis.dtype)
        if isinstance(mod, (enn.Linear, BiasOnly)) and getattr(mod, "bias_expansion", None) is not None:
            E = mod.bias_expansion.detach().to(torch.float64).numpy()  # (out, trivials)
            trivial = mod.out_type.fibergroup.trivial_representation
            Ep = average(mod.out_type.representation, trivial, E.T[:, :, None])[:, :, 0].T
            mod.bias_expansion = torch.tensor(Ep, dtype=mod.bias_expansion.dtype)


def _he_std(m) -> torch.Tensor:
    """escnn's generalized He standard deviations for a module's weights (cached on the module)."""
    if not hasattr(m, "_eqd_he_std"):
        from escnn.nn.init import _generalized_he_init_variances

        m._eqd_he_std = _generalized_he_init_variances(m.basisexpansion).to(torch.float64)
    return m._eqd_he_std


def _function(activation: str) -> str:
    return "relu" if activation.endswith("relu") and not activation.startswith("norm") else "elu"


_NORM_FUNCTIONS = {"norm_relu": "n_relu", "norm_sigmoid": "n_sigmoid", "norm_squash": "squash"}


class _Builder:
    def __init__(self, design: Design, grid_refinement: int):
        self.d, self.g = design, design.group
        self.refine = grid_refinement
        freqs = [i.freq for i in design_irreps(design)]
        top = max(freqs, default=1)
        if any(nl.kind == "tensor" for nl in design.hidden):
            # escnn's intertwiner basis from the square (frequency 2f) to the field (f) multiplies those
            # irreps again: groups that only know their instantiated irreps (the cylinders) need up to 3f
            top *= 3
        self.G = escnn_group(self.g, top + 2)
        self.gspace = gspaces.no_base_space(self.G)
        self.notes: list[str] = []

    def type_of(self, t: FieldType):
        return escnn_type(self.gspace, t)

    def check_channel(self, nl: Nonlinear, reps) -> None:
        want = _eid_content(nl.in_type.content())
        have = rep_content(reps)
        if want != have:
            raise BuildError(f"hidden layer {nl.index}: escnn's {nl.kind} fields hold {dict(have)}, the design {dict(want)}")

    # nonlinearities ---------------------------------------------------------------------------------------
    def nonlinear(self, nl: Nonlinear):
        m = getattr(self, "_" + nl.kind)(nl)
        if m.in_type.size != nl.in_type.dim or m.out_type.size != nl.out_type.dim:
            raise BuildError(f"hidden layer {nl.index}: escnn sizes {m.in_type.size}->{m.out_type.size}, design {nl.in_type.dim}->{nl.out_type.dim}")
        self.check_channel(nl, m.in_type.representations)
        return m

    def _finite_regular(self, nl: Nonlinear):
        G = self.G
        keep = set(_eid_content(nl.channel))
        full = _eid_content(self.g.regular(None))
        fn = _function(nl.activation)
        if _eid_content(nl.channel) == full:
            return pointwise_module(self.gspace.type(*[G.regular_representation] * nl.channels), fn)
        return FiniteFourierPointwise(self.gspace, nl.channels, keep, fn)

    def _fourier(self, nl: Nonlinear):
        if self.g.finite:
            return self._finite_regular(nl)
        if nl.grid is None:
            raise BuildError(f"hidden layer {nl.index}: Fourier layers on {self.g.label} have no grid")
        irreps = self.G.bl_irreps(nl.band_limit)
        elements = design_grid(self.G, self.g, nl.grid)
        self._note_points(nl, len(elements))
        fn = "p_" + _function(nl.activation)
        if self.g.key in ("so2", "o2"):
            grid_kw = {"N": nl.grid.n, "type": nl.grid.type}
            if nl.grid.type == "rand":
                grid_kw["seed"] = 0
            m = enn.FourierPointwise(self.gspace, nl.channels, irreps, function=fn, inplace=False, **grid_kw)
        else:
            args = (nl.grid.type,) if nl.grid.type in _NEEDS_NO_N else (nl.grid.type, nl.grid.n)
            extra = {"seed": 0} if nl.grid.type == "rand" else {}
            m = enn.FourierPointwise(self.gspace, nl.channels, irreps, *args, function=fn, inplace=False, **extra)
        kernel = _fourier_kernel(self.G, irreps)
        m._eqd_kernel = (kernel / np.linalg.norm(kernel)).reshape(-1, 1)
        set_fourier_sampling(m, sampling_matrix(m, elements))  # escnn's transform, in float64
        if self.refine > 1:
            set_fourier_sampling(m, *refined_sampling(m, self.G, self.g, nl.grid, nl.band_limit, self.refine))
        return m

    def _quotient(self, nl: Nonlinear):
        if nl.quotient is None or nl.grid is None:
            raise BuildError(f"hidden layer {nl.index}: no quotient representation to build")
        sub = self.g.quotients()[nl.quotient].escnn_subgroup
        irreps = self.G.bl_irreps(nl.band_limit)
        elements = design_grid(self.G, self.g, nl.grid, nl.quotient)
        self._note_points(nl, len(elements))
        fn = "p_" + _function(nl.activation)
        m = enn.QuotientFourierPointwise(self.gspace, sub, nl.channels, irreps, grid=elements, function=fn, inplace=False)
        from escnn.nn.modules.nonlinearities.fourier_quotient import _build_kernel as qkernel

        kernel = qkernel(self.G, sub, irreps)
        m._eqd_kernel = (kernel / np.linalg.norm(kernel)).reshape(-1, 1)
        set_fourier_sampling(m, sampling_matrix(m, elements))  # escnn's transform, in float64
        if self.refine > 1:
            set_fourier_sampling(m, *refined_sampling(m, self.G, self.g, nl.grid, nl.band_limit, self.refine, nl.quotient))
        return m

    def _note_points(self, nl: Nonlinear, n: int) -> None:
        if nl.grid is not None and nl.grid.points != n:
            self.notes.append(
                f"hidden layer {nl.index}: the design counts {nl.grid.points} grid points ({nl.grid.type}, n={nl.grid.n}), escnn samples {n}"
            )

    def _pointwise(self, nl: Nonlinear):
        if self.g.finite:
            return self._finite_regular(nl)
        t = self.gspace.type(*[self.G.trivial_representation] * nl.channels)
        return pointwise_module(t, _function(nl.activation))

    def _norm(self, nl: Nonlinear):
        fn = _NORM_FUNCTIONS[nl.activation]
        return enn.NormNonLinearity(self.type_of(nl.in_type), function=fn, bias=fn != "squash")

    def _gated(self, nl: Nonlinear):
        t = self.type_of(nl.in_type)
        n_gates = nl.in_type.n_fields - nl.out_type.n_fields
        return GatedBlock(self.gspace, t, nl.scalars, n_gates)

    def _tensor(self, nl: Nonlinear):
        (f, channels), = nl.in_type.entries
        rep = egroup.directsum([self.G.irrep(*i.eid) for i in f.irreps]) if len(f.irreps) > 1 else self.G.irrep(*f.irreps[0].eid)
        t = self.gspace.type(*[rep] * channels)
        if nl.own_params == 0:
            self.notes.append(f"hidden layer {nl.index}: the square of {f.name} holds none of its irreps; the tensor product is the zero map")
            return ZeroMap(t, t)
        return FixedTensorProduct(t, t)

    # linear layers --------------------------------------------------------------------------------------
    def linear(self, layer: Linear, in_type, out_type):
        if not layer.blocks:
            return BiasOnly(in_type, out_type)
        return enn.Linear(in_type, out_type, bias=True)

    def build(self) -> list[BuiltLayer]:
        hidden = {id(nl): self.nonlinear(nl) for nl in self.d.hidden}
        built: list[BuiltLayer] = []
        current = self.type_of(self.d.input)
        layers = self.d.layers
        for k, layer in enumerate(layers):
            if isinstance(layer, Nonlinear):
                m = hidden[id(layer)]
                current = m.out_type
            else:
                # the next nonlinearity's escnn module fixes the hidden type (Fourier fields above all)
                target = hidden[id(layers[k + 1])].in_type if k + 1 < len(layers) else self.type_of(self.d.output)
                m = self.linear(layer, current, target)
                if m.in_type.size != layer.in_type.dim or m.out_type.size != layer.out_type.dim:
                    raise BuildError(
                        f"linear layer {layer.index}: escnn sizes {m.in_type.size}->{m.out_type.size}, "
                        f"design {layer.in_type.dim}->{layer.out_type.dim}"
                    )
            built.append(BuiltLayer(layer, m))
        return built


def build_escnn(design: Design, dtype: torch.dtype = torch.float64, seed: Optional[int] = 0, grid_refinement: int = 1) -> EscnnModel:
    """Build the escnn model of a design.

    ``seed``: redraw every parameter (weights and biases) from that seed, so that bias-only paths are alive
    (escnn initialises biases to zero); None keeps escnn's own initialisation.
    ``grid_refinement`` > 1 samples every Fourier layer of a continuous group on a finer grid than the
    design's (about that factor more points per direction); parameters are unaffected."""
    with quiet(), default_dtype(torch.float32), private_basis_cache():
        b = _Builder(design, grid_refinement)
        built = b.build()
        model = EscnnModel(design, b.G, b.gspace, built, b.notes)
    model = model.to(dtype)
    if dtype == torch.float64:
        with quiet():
            exact_bases(model)
    if seed is not None:
        model.reinitialize(seed)
    model.eval()
    return model
