"""Plain-torch nonlinearities matching escnn's, written so that TorchScript and torch.export accept them.

None of these import escnn: a compiled model needs torch alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _activate(x: torch.Tensor, name: str) -> torch.Tensor:
    if name == "relu":
        return F.relu(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "squash":
        return x / (1.0 + x)
    if name == "softplus":
        return F.softplus(x)
    return F.elu(x)


def _horner(x: torch.Tensor, poly: torch.Tensor) -> torch.Tensor:
    """sum_k poly[k] x^k; poly holds the coefficients constant first."""
    n = poly.shape[0]
    y = torch.zeros_like(x) + poly[n - 1]
    for k in range(n - 2, -1, -1):
        y = y * x + poly[k]
    return y


class Polynomial(nn.Module):
    """x -> sum_k c_k x^k, elementwise (the activation of the exactly equivariant Fourier layers)."""

    def __init__(self, coefficients: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("poly", coefficients.clone())  # constant first
        self.poly: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _horner(x, self.poly.to(x.dtype))


def _no_poly(dtype: torch.dtype) -> torch.Tensor:
    return torch.zeros(0, dtype=dtype)


def apply_activation(x: torch.Tensor, name: str, poly: torch.Tensor) -> torch.Tensor:
    """The activation ``name``; "poly" evaluates the polynomial ``poly``."""
    return _horner(x, poly) if name == "poly" else _activate(x, name)


#: bytes of grid samples one channel group may hold. The samples of a whole layer (batch x channels x points)
#: run to tens of megabytes, so sampling, activating and transforming back would each stream them through
#: memory; a group whose samples stay in cache between the three steps runs about twice as fast on CPU
CACHE_BYTES = 4 * 2**20
#: the batch a group is sized for where the size must not depend on the batch (torch.export, torch.compile)
REFERENCE_BATCH = 1024
#: bytes of distinct products x_i x_j one channel group of a tensor product may hold, per thread: about a third
#: of an L2 cache, since the forward forms two gathered factors besides the products and a training step's
#: backward more tensors of that size. An O(3) layer of 43 channels with d = 9, training step (square_grad's
#: backward), against one group of all channels: one thread, 0.25x at batch 512 (groups of 8; of 4: 0.24x) and
#: 0.28x at 4096 (one channel); two threads, 0.58x at 512 (16) and 0.26x at 4096 (2; groups of one: 0.30x)
SQUARE_BYTES = 3 * 2**18
#: the budget of the groups fixed in a saved module (TorchScript, torch.export), which cannot know its threads:
#: two threads' worth. Halving it made a 32-channel layer's .pt 1.3x slower (forward) and 1.4x (training step)
#: at batch 1024 on two threads (benchmarks/peer_speed.py)
STATIC_SQUARE_BYTES = 2 * SQUARE_BYTES
#: a layer whose products are at most this many budgets runs as one group, where the count of operations
#: outweighs the cache (43 channels at batch 64: one group took 0.78x the time of two in a training step)
ONE_GROUP = 4


def channel_group(channels: int, per_channel_bytes: int, budget: int) -> int:
    """How many channels a group holds so that their work tensors fit ``budget`` bytes (at least one)."""
    return max(1, min(channels, budget // max(1, per_channel_bytes)))


class FourierAct(nn.Module):
    """C channels: coefficients -> samples on a grid (A) -> activation -> coefficients (Ainv), a group of
    channels at a time (``CACHE_BYTES``). ``poly``: the coefficients of a polynomial activation (act "poly"),
    constant first."""

    def __init__(self, a: torch.Tensor, a_inv: torch.Tensor, channels: int, act: str, poly: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("a", a.contiguous())  # (N, D): coefficients -> samples
        self.register_buffer("a_inv", a_inv.contiguous())  # (D, N): samples -> coefficients
        self.register_buffer("poly", poly if poly is not None else _no_poly(a.dtype))
        self.a: torch.Tensor
        self.a_inv: torch.Tensor
        self.poly: torch.Tensor
        self.channels, self.act = channels, act
        self.d, self.points = a.shape[1], a.shape[0]
        self.cache_bytes = CACHE_BYTES  # an attribute: TorchScript reads no global numbers
        self.static_group = self._group(REFERENCE_BATCH, a.element_size())

    def _group(self, batch: int, itemsize: int) -> int:
        return channel_group(self.channels, batch * self.points * itemsize, self.cache_bytes)

    def _batch_group(self, x: torch.Tensor) -> int:
        """The channels per group on ``x``: fixed where groups must not depend on the batch (see ``square_group``)."""
        if _is_scripting() or torch.compiler.is_compiling():
            return self.static_group
        return self._group(x.shape[0], x.element_size())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        g = self._batch_group(x)
        v = x.view(b, self.channels, self.d).transpose(0, 1)  # (C, b, D), a view
        parts: list[torch.Tensor] = []
        for c in range(0, self.channels, g):
            samples = torch.matmul(v[c : c + g], self.a.t())  # (g, b, N)
            parts.append(torch.matmul(apply_activation(samples, self.act, self.poly), self.a_inv.t()))
        return torch.cat(parts, 0).transpose(0, 1).reshape(b, self.channels * self.d)


class Pointwise(nn.Module):
    """An elementwise activation on every coordinate (trivial fields, or regular fields in element basis)."""

    def __init__(self, act: str, poly: torch.Tensor | None = None) -> None:
        super().__init__()
        self.act = act
        self.register_buffer("poly", poly if poly is not None else _no_poly(torch.get_default_dtype()))
        self.poly: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return apply_activation(x, self.act, self.poly)


class FieldGroup(nn.Module):
    """n fields of one size: where they are read (src) and written (dst), as (n * size,) indices."""

    def __init__(self, src: torch.Tensor, dst: torch.Tensor, start: int) -> None:
        super().__init__()
        self.n, self.size, self.start = int(src.shape[0]), int(src.shape[1]), start
        self.register_buffer("src", src.reshape(-1))
        self.register_buffer("dst", dst.reshape(-1))
        self.src: torch.Tensor
        self.dst: torch.Tensor


class NormAct(nn.Module):
    """Each field x -> x * f(|x| - bias) / |x|, fields grouped by size. ``bias = exp(log_bias)``; each
    group's biases start at its ``start``."""

    def __init__(self, groups: list[FieldGroup], log_bias: torch.Tensor, act: str, use_bias: bool) -> None:
        super().__init__()
        self.groups = nn.ModuleList(groups)
        self.log_bias = nn.Parameter(log_bias.clone())
        self.act, self.use_bias = act, use_bias
        self.eps = 1e-10

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        out = torch.zeros_like(x)
        for group in self.groups:
            assert isinstance(group, FieldGroup)  # nn.ModuleList yields plain Modules (TorchScript drops the check)
            fields = x.index_select(1, group.src).view(b, group.n, group.size)
            norms = torch.linalg.vector_norm(fields, dim=2, keepdim=True)
            if self.use_bias:
                bias = torch.exp(self.log_bias[group.start : group.start + group.n]).view(1, -1, 1)
                new = _activate(norms - bias, self.act)
            else:
                new = _activate(norms, self.act)
            scale = new / torch.clamp(norms, min=self.eps)
            scale = torch.where(norms <= self.eps, torch.zeros_like(scale), scale)
            out = out.index_copy(1, group.dst, (fields * scale).reshape(b, group.n * group.size))
        return out

    def reorder(self, order: torch.Tensor, out: torch.Tensor) -> None:
        """Read the columns in ``order`` and write them in ``out`` (the same order: a norm layer keeps
        every field where it is); see export.orders."""
        inv_in, inv_out = torch.argsort(order), torch.argsort(out)
        for group in self.groups:
            assert isinstance(group, FieldGroup)
            group.src, group.dst = inv_in[group.src], inv_out[group.dst]


class GatedAct(nn.Module):
    """[scalars, gates, gated fields] -> [ELU(scalars), fields * sigmoid(gate - bias)]; ``gate_of`` names
    the gate of every gated coordinate (escnn pairs gates with fields by size, smallest size first)."""

    def __init__(self, n_scalars: int, n_gates: int, gate_of: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.n_scalars, self.n_gates = n_scalars, n_gates
        self.register_buffer("gate_of", gate_of)
        self.gate_of: torch.Tensor
        self.bias = nn.Parameter(bias.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # one split, not three slices: the backward of a slice writes a zero-filled gradient of all of x
        scalars, gates, fields = torch.split(x, [self.n_scalars, self.n_gates, x.shape[1] - self.n_scalars - self.n_gates], dim=1)
        gates = torch.sigmoid(gates - self.bias)
        return torch.cat([F.elu(scalars), fields * gates.index_select(1, self.gate_of)], dim=1)

    def output_order(self, order: torch.Tensor) -> torch.Tensor | None:
        """The output order when the input comes in ``order``: scalars and fields where they came; None unless
        the scalars come first and the gates next, in their own order (export.orders)."""
        s, g = self.n_scalars, self.n_gates
        if not (self._scalars_first(order) and torch.equal(order[s : s + g], torch.arange(s, s + g))):
            return None
        return torch.cat([order[:s], order[s + g :] - g])

    def input_order(self, wanted: torch.Tensor) -> torch.Tensor | None:
        """The input order that makes the layer write ``wanted``, or None where the scalars do not come first."""
        s, g = self.n_scalars, self.n_gates
        if not self._scalars_first(wanted):
            return None
        return torch.cat([wanted[:s], torch.arange(s, s + g), wanted[s:] + g])

    def _scalars_first(self, order: torch.Tensor) -> bool:
        """Whether ``order`` puts the scalars, in any order, before everything else."""
        return torch.equal(order[: self.n_scalars].sort().values, torch.arange(self.n_scalars))

    def reorder(self, order: torch.Tensor, out: torch.Tensor) -> None:
        """Read ``order`` (``output_order`` accepted it), write ``out``: each coordinate keeps its gate."""
        self.gate_of = self.gate_of[order[self.n_scalars + self.n_gates :] - self.n_scalars - self.n_gates]


class Zero(nn.Module):
    """The zero map (a tensor product whose square holds none of the field's irreps)."""

    def __init__(self, out_dim: int) -> None:
        super().__init__()
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], self.out_dim)


def symmetric_pairs(d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(i, j) with i <= j: the d(d + 1)/2 distinct products x_i x_j of a square x (x) x."""
    pairs = torch.triu_indices(d, d)
    return pairs[0].contiguous(), pairs[1].contiguous()


def fold_symmetric(matrices: torch.Tensor, d: int) -> torch.Tensor:
    """(..., d^2) maps of x (x) x -> (..., d(d + 1)/2) maps of its distinct products: x_i x_j = x_j x_i, so the
    columns (i, j) and (j, i) add up."""
    square = matrices.reshape(*matrices.shape[:-1], d, d)
    both = square + square.transpose(-1, -2) - torch.diag_embed(torch.diagonal(square, dim1=-2, dim2=-1))
    i, j = symmetric_pairs(d)
    return both[..., i, j]


def project_square(
    x: torch.Tensor,
    matrix: torch.Tensor,
    channels: int,
    d_in: int,
    d_out: int,
    i: torch.Tensor,
    j: torch.Tensor,
    group: int,
    in_components: bool = False,
    out_components: bool = False,
) -> torch.Tensor:
    """Each channel's field times itself, x (x) x, mapped by that channel's (d_out, d_in(d_in + 1)/2) matrix
    of the distinct products x_i x_j (rows i, columns j), ``group`` channels at a time (``SQUARE_BYTES``). The
    batch runs last: every product and the batched GEMM then run along long contiguous rows, where
    batch-first they ran along rows of d_in. ``in_components``/``out_components``: the columns come (go)
    component-major, (component, channel), as per-block linear layers read and write them (export.orders),
    instead of channel by channel."""
    v = batch_last(x, channels, d_in, in_components)
    return batch_first(square_bmm(v, matrix, i, j, group, channels), out_components)


def batch_last(x: torch.Tensor, channels: int, d: int, components: bool) -> torch.Tensor:
    """(batch, C d) columns -> (C, d, batch), contiguous."""
    b = x.shape[0]
    if components:
        return x.view(b, d, channels).permute(2, 1, 0).contiguous()
    return x.view(b, channels, d).permute(1, 2, 0).contiguous()


def batch_first(y: torch.Tensor, components: bool) -> torch.Tensor:
    """(C, d, batch) -> (batch, C d) columns. Batch-last results leave as transposed views where they can,
    since a GEMM reads them as they are: channel by channel, (C, d, b) is one already; component-major takes
    one copy to (d, C, b), with long rows, where permuting to (b, d, C) directly copied along strides of
    d b (3-4 times slower)."""
    channels, d, b = y.shape[0], y.shape[1], y.shape[2]
    if components:
        return y.transpose(0, 1).contiguous().view(d * channels, b).t()
    return y.permute(2, 0, 1).reshape(b, channels * d)


def square_bmm(v: torch.Tensor, matrix: torch.Tensor, i: torch.Tensor, j: torch.Tensor, group: int, channels: int) -> torch.Tensor:
    """(C, d_in, b) -> (C, d_out, b): each channel's distinct products v_i v_j, projected, ``group`` channels
    at a time. ``channels`` (C) comes as a number, not from v's shape: in a saved module the test on the group
    is then one of constants, which torch's TorchScript converter folds away."""
    if group >= channels:  # one group: no concatenation, which would copy the output once more
        return torch.bmm(matrix, v.index_select(1, i) * v.index_select(1, j))
    parts: list[torch.Tensor] = []
    for c in range(0, channels, group):
        vc = v[c : c + group]  # a contiguous slice
        parts.append(torch.bmm(matrix[c : c + group], vc.index_select(1, i) * vc.index_select(1, j)))
    return torch.cat(parts, 0)


#: torch.jit re-exports it without listing it (TorchScript reads a type comment inside a scripted function as
#: its signature, so the ignore stays out here)
_is_scripting = torch.jit.is_scripting  # type: ignore[attr-defined]


def square_group(x: torch.Tensor, channels: int, pairs: int, budget: int, static_group: int) -> int:
    """The channels per group of a tensor product on ``x``: ``static_group``, sized for REFERENCE_BATCH,
    where the group must not depend on the batch, else sized for x's batch. TorchScript takes the first
    branch alone (it compiles a condition on ``is_scripting`` as a constant), so that the saved module holds
    no branch on the batch and converts to torch.export and ONNX; so do traced graphs (torch.export,
    torch.compile). Eager Python sizes the groups for each batch and the threads that share the work (each
    thread's share of a group is what has to stay in its cache; fewer groups are fewer thread wake-ups)."""
    if _is_scripting() or torch.compiler.is_compiling():
        return static_group
    per_channel, budget = x.shape[0] * pairs * x.element_size(), budget * torch.get_num_threads()
    if channels * per_channel <= ONE_GROUP * budget:  # small enough that fewer operations win over cache
        return channels
    return channel_group(channels, per_channel, budget)


class TensorProductAct(nn.Module):
    """Per channel: x (x) x projected back onto the field by an equivariant map sum_k w_k B_k.

    ``basis`` (K, C * d_out, d_in^2) holds one matrix per weight, kept folded onto the distinct products
    (``fold_symmetric``). Where every weight acts on one channel and all channels share one list of J
    matrices (as escnn builds it), the layer keeps that list alone, (J, d_out, pairs), and the position of
    each (channel, j) among the weights: assembling is then C times cheaper."""

    def __init__(self, basis: torch.Tensor, weights: torch.Tensor, channels: int, d_in: int, d_out: int) -> None:
        super().__init__()
        shared, order = _shared_basis(basis, channels, d_out)
        self.compact = shared is not None
        kept = basis if shared is None else shared  # (K, C d_out, d_in^2) or (J, d_out, d_in^2)
        self.register_buffer("basis", fold_symmetric(kept, d_in).contiguous())
        self.register_buffer("order", order if order is not None else torch.zeros(0, dtype=torch.long))  # (C, J) weight indices
        i, j = symmetric_pairs(d_in)
        self.register_buffer("pair_i", i)
        self.register_buffer("pair_j", j)
        self.basis: torch.Tensor
        self.order: torch.Tensor
        self.pair_i: torch.Tensor
        self.pair_j: torch.Tensor
        self.weight = nn.Parameter(weights.clone())
        self.channels, self.d_in, self.d_out = channels, d_in, d_out
        self.out_size = channels * d_out
        self.pairs = int(i.numel())
        self.square_bytes = SQUARE_BYTES  # an attribute: TorchScript reads no global numbers
        self.static_group = channel_group(channels, REFERENCE_BATCH * self.pairs * weights.element_size(), STATIC_SQUARE_BYTES)
        self.in_components, self.out_components = False, False  # see project_square

    def matrix(self) -> torch.Tensor:
        """(C, d_out, pairs): each channel's projection of its distinct products."""
        if self.compact:
            return torch.einsum("cj,joi->coi", self.weight[self.order], self.basis)
        return torch.einsum("k,koi->oi", self.weight, self.basis).view(self.channels, self.d_out, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = square_group(x, self.channels, self.pairs, self.square_bytes, self.static_group)
        if _is_scripting() or torch.compiler.is_compiling():  # as in square_group: the saved module holds no branch
            return self._plain(x, g)
        if not torch.is_grad_enabled() or (g >= self.channels and torch.get_num_threads() == 1):
            return self._plain(x, g)
        # training in eager PyTorch: a backward written for the square (see square_grad). One group on one
        # thread is the exception: autograd's runs fewer operations there, and its batched GEMMs on a strided
        # gradient cost little on one thread (small gallery models trained 1.1-1.2x as fast with it)
        v = batch_last(x, self.channels, self.d_in, self.in_components)
        return batch_first(_trained_square(v, self.matrix(), self.pair_i, self.pair_j, g), self.out_components)

    def _plain(self, x: torch.Tensor, g: int) -> torch.Tensor:
        m = self.matrix()
        return project_square(
            x, m, self.channels, self.d_in, self.d_out, self.pair_i, self.pair_j, g, self.in_components, self.out_components
        )

    def component_order(self, order: torch.Tensor, side: str) -> torch.Tensor | None:
        """sigma where ``order`` is component-major with the components of every channel in the order sigma
        (column k C + c holds component sigma[k] of channel c), else None (export.orders)."""
        d = self.d_in if side == "in" else self.d_out
        c = torch.arange(self.channels)
        sigma = order[:: self.channels] % d if order.numel() == d * self.channels else None
        if sigma is None or not torch.equal(sigma.sort().values, torch.arange(d)):
            return None
        return sigma if torch.equal(order, (c.view(1, -1) * d + sigma.view(-1, 1)).flatten()) else None

    def reorder(self, order: torch.Tensor, out: torch.Tensor) -> None:
        """Read ``order`` and write ``out``, each the fields' order or component-major (``component_order``)."""
        sigma_in, sigma_out = self.component_order(order, "in"), self.component_order(out, "out")
        if sigma_in is not None:
            inv = torch.argsort(sigma_in)
            self.pair_i, self.pair_j, self.in_components = inv[self.pair_i], inv[self.pair_j], True
        if sigma_out is not None:
            rows = sigma_out if self.compact else (torch.arange(self.channels).view(-1, 1) * self.d_out + sigma_out.view(1, -1)).flatten()
            self.basis, self.out_components = self.basis[:, rows].contiguous(), True


def _shared_basis(basis: torch.Tensor, channels: int, d_out: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(the shared per-channel list of matrices, (C, J) weight indices), or (None, None) where the basis is
    not of that form."""
    K = basis.shape[0]
    if channels < 1 or K % channels:
        return None, None
    per = basis.reshape(K, channels, d_out, -1)
    norms = per.flatten(2).norm(dim=2)  # (K, C)
    owner = norms.argmax(dim=1)
    if bool((norms.sum(dim=1) - norms.max(dim=1).values > 1e-12 * norms.max()).any()):
        return None, None  # some weight acts on several channels
    order = torch.stack([torch.nonzero(owner == c).flatten() for c in range(channels)]) if K else None
    if order is None or order.shape[1] * channels != K:
        return None, None
    lists = torch.stack([per[order[c], c] for c in range(channels)])  # (C, J, d_out, d_in^2)
    if not torch.allclose(lists, lists[:1].expand_as(lists), atol=1e-12 * float(lists.abs().max())):
        return None, None
    return lists[0].contiguous(), order


@torch.jit.unused  # TorchScript takes the other branch
def _trained_square(v: torch.Tensor, matrix: torch.Tensor, i: torch.Tensor, j: torch.Tensor, group: int) -> torch.Tensor:
    from .square_grad import square_projection

    return square_projection(v, matrix, i, j, group)


class FrozenTensorProduct(nn.Module):
    """A tensor-product layer with its matrix assembled once (inference artifacts)."""

    def __init__(self, layer: TensorProductAct) -> None:
        super().__init__()
        self.register_buffer("matrix", layer.matrix().detach().clone())  # (C, d_out, pairs)
        self.register_buffer("pair_i", layer.pair_i.clone())
        self.register_buffer("pair_j", layer.pair_j.clone())
        self.matrix: torch.Tensor
        self.pair_i: torch.Tensor
        self.pair_j: torch.Tensor
        self.channels, self.d_in, self.d_out = layer.channels, layer.d_in, layer.d_out
        self.pairs, self.square_bytes, self.static_group = layer.pairs, layer.square_bytes, layer.static_group
        self.in_components, self.out_components = layer.in_components, layer.out_components

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = square_group(x, self.channels, self.pairs, self.square_bytes, self.static_group)
        return project_square(
            x, self.matrix, self.channels, self.d_in, self.d_out, self.pair_i, self.pair_j, g, self.in_components, self.out_components
        )


def _dtype_name(dtype: torch.dtype) -> str:
    """The name of a dtype (TorchScript prints a dtype as a number)."""
    if dtype == torch.float32:
        return "float32"
    if dtype == torch.float64:
        return "float64"
    if dtype == torch.float16:
        return "float16"
    if dtype == torch.bfloat16:
        return "bfloat16"
    if dtype == torch.int64:
        return "int64"
    if dtype == torch.int32:
        return "int32"
    if dtype == torch.bool:
        return "bool"
    return "non-float"


def check_input(x: torch.Tensor, input_dim: int, dtype: torch.dtype) -> None:
    """A clear error for an input that is not (batch, input_dim) of the model's dtype, where torch would
    report its internals (a matmul's shapes or dtypes, an index out of range) or, for a 1-D input, run."""
    if x.dim() != 2 or x.shape[1] != input_dim or x.dtype != dtype:
        raise ValueError(
            "the model takes a "
            + _dtype_name(dtype)
            + " tensor of shape (batch, input_dim) = (batch, "
            + str(input_dim)
            + "), fields as layout.json lists them; got a "
            + _dtype_name(x.dtype)
            + " tensor of shape "
            + str(list(x.shape))
            + " (one sample: x.unsqueeze(0); another dtype: x.to(torch."
            + _dtype_name(dtype)
            + "))"
        )


class CompiledModel(nn.Module):
    """(batch, input_dim) -> (batch, output_dim); fields in the spec's order. Any batch size, 0 included;
    an input of another shape or dtype is refused with a message that names the layout (``check_input``).

    Every call, in training and in eval mode, computes from the parameters and running statistics as they
    are at that moment, however they were changed (an optimizer step, ``load_state_dict``, a write through
    ``.data``, a shared numpy array): nothing derived from them is kept between calls. The fast inference
    copy, with every matrix assembled once, is an explicit choice: ``eqdesign.freeze(model)`` (export.freeze)."""

    # the order of the columns between layers (export.orders), for tests of single layers; not part of the
    # saved module, whose layers hold what they need
    __jit_ignored_attributes__ = ["column_orders"]

    def __init__(
        self,
        layers: list[nn.Module],
        input_dim: int,
        output_dim: int,
        dtype: torch.dtype | None = None,
        edges: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None),
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.input_dim, self.output_dim = input_dim, output_dim
        # fields converted at the edges (Cartesian tensors, e3nn's basis): fixed maps (input columns x irreps, irreps x output columns)
        # between the components the user holds and the irreps the layers compute with
        embed_in, embed_out = edges
        self.has_embed_in, self.has_embed_out = embed_in is not None, embed_out is not None
        self.register_buffer("embed_in", embed_in if embed_in is not None else torch.zeros(0))
        self.register_buffer("embed_out", embed_out if embed_out is not None else torch.zeros(0))
        self.embed_in: torch.Tensor
        self.embed_out: torch.Tensor
        self.frozen = False  # True on an inference copy (export.freeze), whose matrices are assembled already
        orders: list[torch.Tensor | None] = [None] * (len(layers) + 1)  # annotated here: TorchScript reads self.x: T
        self.column_orders = orders
        # the dtype inputs must have, as a buffer: it follows the model through .to(), .double() and loading
        self.register_buffer("dtype_reference", torch.zeros(0, dtype=dtype or _layers_dtype(self.layers)))
        self.dtype_reference: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.input_dim, self.dtype_reference.dtype)
        if self.has_embed_in:
            x = x @ self.embed_in
        for layer in self.layers:
            x = layer(x)
        if self.has_embed_out:
            x = x @ self.embed_out
        return x

    @property
    def edges(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The fixed maps of Cartesian tensor fields at the input and the output (None where there are none)."""
        return (self.embed_in if self.has_embed_in else None, self.embed_out if self.has_embed_out else None)


def _layers_dtype(layers: nn.Module) -> torch.dtype:
    """The dtype of the layers' first floating-point parameter or buffer (the default dtype if none)."""
    tensors = [*layers.parameters(), *layers.buffers()]
    return next((t.dtype for t in tensors if t.is_floating_point()), torch.get_default_dtype())
