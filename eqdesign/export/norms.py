"""Normalization layers in plain torch: exact twins of escnn's batch norms, and an equivariant layer norm.

Input is (batch, channels), fields in the field type's order. Fields of one representation (batch norms
and the layer norm) or one size (NormBatchNorm) form a group: n fields of size d, read from and written
back to their positions through an index buffer. For a representation rho = Q D Q^-1 (D its irreps) with
trivial irreps at positions T, escnn's averaging matrix P = Q S Q^-1 (S the 0/1 mask of T) projects a
field onto its invariant subspace, and Q[:, T] maps the trivial-irrep biases into the field's basis.

* ``IIDBatchNorm`` (escnn ``IIDBatchNorm1d``, affine, tracking running statistics). Per field f:
  training: mu_f = P mean_batch(x_f) (detached), var_f = mean over the d coordinates of the unbiased
  (Bessel) batch variance of x_f - mu_f (detached); running <- (1 - a) running + a batch, a = momentum,
  or 1 / num_batches_tracked when momentum is None; eval: mu_f, var_f = the running statistics.
  y_f = (x_f - mu_f) * w_f / sqrt(var_f + eps) + Q[:, T] b_f (mu_f = 0 for fields without trivial irreps).
* ``NormBatchNorm`` (escnn ``NormBatchNorm``, fields without trivial irreps, grouped by size). Training
  first updates running_var_f with the batch estimate mean_batch(|x_f|^2) / d * B / (B - 1) (detached;
  no correction when B = 1), then, in training and eval alike, y_f = x_f * w_f / sqrt(running_var_f + eps).
* Both batch norms refuse a training batch of fewer than 2 samples, as torch's batch norms do
  (``check_training_batch``): escnn's IIDBatchNorm1d returns NaN there and writes it into its running
  statistics. Eval mode takes any batch, an empty one included.
* ``EquivariantLayerNorm`` (no escnn counterpart; ``escnn_backend.norms.EscnnLayerNorm`` is its escnn
  module), per sample, the same in training and eval mode.

None of these import escnn; they script with TorchScript and export with torch.export.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

from .blocks import DenseLinear


def _empty(dtype: torch.dtype, *shape: int) -> torch.Tensor:
    return torch.zeros(*shape, dtype=dtype)


def _inverse(groups: list[torch.Tensor], size: int) -> torch.Tensor:
    """The permutation that puts the groups' concatenated outputs back at their positions."""
    order = torch.cat(groups) if groups else torch.zeros(0, dtype=torch.long)
    if order.numel() != size or not bool(torch.equal(torch.sort(order).values, torch.arange(size))):
        raise ValueError(f"the field groups do not cover the {size} channels exactly once")
    inverse = torch.empty(size, dtype=torch.long)
    inverse[order] = torch.arange(size)
    return inverse


def check_training_batch(x: torch.Tensor, kind: str) -> None:
    """Batch statistics need two samples: a batch of one has no variance (IID: NaN from Bessel's correction,
    written into the running statistics and from there into every later eval output), and NormBatchNorm's
    estimate from one sample is uncorrected. Refused, as torch's own batch norms refuse it."""
    if x.shape[0] < 2:
        raise ValueError(
            "Expected more than 1 value per channel when training, got input size "
            + str(list(x.shape))
            + ": a batch norm (norm: "
            + kind
            + ") in training mode needs at least 2 samples per batch; use larger batches, or model.eval() to"
            + " run on the running statistics"
        )


def _update(running: torch.Tensor, batch: torch.Tensor, factor: torch.Tensor) -> None:
    """running <- running * (1 - a) + a * batch, in place and in escnn's order of operations."""
    running.mul_(1.0 - factor)
    running.add_(factor * batch)


class _Statistics(nn.Module):
    """A batch norm's field groups, and eps, momentum and num_batches_tracked as escnn keeps them; the
    factor of a running update."""

    def __init__(self, groups: list[nn.Module], size: int, eps: float, momentum: float | None, num_batches_tracked: int) -> None:
        super().__init__()
        self.groups = nn.ModuleList(groups)
        self.size = size
        self.register_buffer("inverse", _inverse([cast(torch.Tensor, g.index) for g in groups], size))
        self.inverse: torch.Tensor
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.register_buffer("num_batches_tracked", torch.tensor(int(num_batches_tracked), dtype=torch.long))
        self.num_batches_tracked: torch.Tensor

    def _factor(self) -> torch.Tensor:
        """Counts one more batch; the weight of its statistics (momentum, or 1 / batches when None)."""
        self.num_batches_tracked.add_(1)
        momentum = self.momentum
        if momentum is None:
            return 1.0 / self.num_batches_tracked.to(torch.float64)
        return torch.full((), momentum, dtype=torch.float64, device=self.num_batches_tracked.device)


class FieldTypeGroup(nn.Module):
    """The n fields of one representation (size d): where they sit, the representation's averaging matrix
    ``avg`` P (d, d) and trivial columns ``basis`` Q[:, T] (d, t), and the learnable ``weight`` (n, 1) and
    ``bias`` (n, t), shaped as escnn's IIDBatchNorm1d keeps them. ``avg`` is empty, and ``bias`` has no
    columns, where the representation has no trivial irrep."""

    def __init__(
        self,
        name: str,
        index: torch.Tensor,
        avg: torch.Tensor | None,
        basis: torch.Tensor | None,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
    ) -> None:
        super().__init__()
        n = int(weight.shape[0])
        dtype = weight.dtype
        self.name, self.n = name, n
        self.size = int(index.numel()) // max(n, 1)
        self.has_trivial = avg is not None
        self.register_buffer("index", index.detach().clone().long())  # (n * d,) channel positions, field-major
        self.register_buffer("avg", avg.detach().clone() if avg is not None else _empty(dtype, 0, 0))
        self.register_buffer("basis", basis.detach().clone() if basis is not None else _empty(dtype, self.size, 0))
        self.index: torch.Tensor
        self.avg: torch.Tensor
        self.basis: torch.Tensor
        self.weight = nn.Parameter(weight.detach().clone().reshape(n, 1))
        # without trivial irreps escnn has no bias: an empty parameter here (one module type for every group,
        # which TorchScript needs to iterate over them)
        self.bias = nn.Parameter(bias.detach().clone() if bias is not None and self.has_trivial else _empty(dtype, n, 0))

    def fields(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n, d): this group's fields of x."""
        return x.index_select(1, self.index).view(x.shape[0], self.n, self.size)

    def shift(self) -> torch.Tensor:
        """(n, d): each field's bias Q[:, T] b_f in the field's basis."""
        return torch.einsum("ij,cj->ci", self.basis, self.bias)


class IIDGroup(FieldTypeGroup):
    """The fields of one representation in an IIDBatchNorm, with their running statistics:
    ``running_mean`` (n, d) ((n, 0) without trivial irreps) and ``running_var`` (n, 1), as escnn keeps them."""

    def __init__(
        self,
        name: str,
        index: torch.Tensor,
        avg: torch.Tensor | None,
        basis: torch.Tensor | None,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        running_mean: torch.Tensor | None = None,
        running_var: torch.Tensor | None = None,
    ) -> None:
        super().__init__(name, index, avg, basis, weight, bias)
        n, dtype = self.n, weight.dtype
        mean = running_mean if running_mean is not None and self.has_trivial else _empty(dtype, n, self.size if self.has_trivial else 0)
        self.register_buffer("running_mean", mean.detach().clone().reshape(n, -1))
        var = running_var if running_var is not None else torch.ones(n, 1, dtype=dtype)
        self.register_buffer("running_var", var.detach().clone().reshape(n, 1))
        self.running_mean: torch.Tensor
        self.running_var: torch.Tensor

    def forward(self, x: torch.Tensor, training: bool, factor: torch.Tensor, eps: float) -> torch.Tensor:
        """escnn's IIDBatchNorm1d on these fields; ``training`` updates the running statistics."""
        b = x.shape[0]
        s = self.fields(x)
        if training:
            centred = s
            mean = self.running_mean
            if self.has_trivial:
                means = torch.einsum("ij,bcj->bci", self.avg, s.mean(dim=0, keepdim=True).detach())
                centred = s - means
                mean = means.reshape(self.n, self.size)
            var = torch.var(centred, dim=[0], unbiased=True).mean(dim=1, keepdim=True).detach()
            _update(self.running_var, var, factor)
            if self.has_trivial:
                _update(self.running_mean, mean, factor)
        else:
            mean, var = self.running_mean, self.running_var
        if self.has_trivial:
            s = s - mean.view(1, self.n, self.size)
        scales = self.weight / (var + eps).sqrt()
        s = s * scales.view(1, self.n, 1)
        if self.has_trivial:
            s = s + self.shift().view(1, self.n, self.size)
        return s.reshape(b, self.n * self.size)


class LayerGroup(FieldTypeGroup):
    """The fields of one representation in an EquivariantLayerNorm (no running statistics)."""

    def centre(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n, d): the fields less, per sample, the mean over the n fields of their projections P x_f."""
        s = self.fields(x)
        if self.has_trivial:
            s = s - torch.einsum("ij,bj->bi", self.avg, s.mean(dim=1)).unsqueeze(1)
        return s

    def finish(self, centred: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        """centred_f * w_f / std + Q[:, T] b_f, with std (batch,) one scale per sample."""
        b = centred.shape[0]
        scales = self.weight.view(1, self.n, 1) / std.view(b, 1, 1)
        out = centred * scales
        if self.has_trivial:
            out = out + self.shift().view(1, self.n, self.size)
        return out.reshape(b, self.n * self.size)


class IIDBatchNorm(_Statistics):
    """escnn's ``IIDBatchNorm1d`` (affine, tracking running statistics) in plain torch; see the module doc.

    ``groups``: one IIDGroup per representation, holding its parameters (``weight`` (n, 1), ``bias``
    (n, t)) and running statistics (``running_mean`` (n, d), ``running_var`` (n, 1)) in escnn's shapes."""

    def __init__(
        self, groups: list[IIDGroup], size: int, eps: float = 1e-5, momentum: float | None = 0.1, num_batches_tracked: int = 0
    ) -> None:
        super().__init__(list(groups), size, eps, momentum, num_batches_tracked)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        training = self.training
        if training:
            check_training_batch(x, "iid_batch")
        factor = self._factor() if training else torch.zeros((), dtype=torch.float64)
        parts: list[torch.Tensor] = []
        for group in self.groups:
            assert isinstance(group, IIDGroup)  # nn.ModuleList yields plain Modules (TorchScript drops the check)
            parts.append(group(x, training, factor, self.eps))
        return torch.cat(parts, dim=1).index_select(1, self.inverse)

    @torch.no_grad()
    def affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift), each (channels,): the eval-mode map is y = scale * x + shift."""
        scale = self.inverse.new_zeros(self.size, dtype=torch.float64)
        shift = torch.zeros_like(scale)
        for group in self.groups:
            assert isinstance(group, IIDGroup)
            s = (group.weight.double() / (group.running_var.double() + self.eps).sqrt()).expand(group.n, group.size)
            t = group.shift().double() - s * group.running_mean.double() if group.has_trivial else torch.zeros_like(s)
            scale[group.index] = s.reshape(-1)
            shift[group.index] = t.reshape(-1)
        return scale, shift


class NormGroup(nn.Module):
    """The n fields of one size d of a NormBatchNorm: ``weight`` and ``running_var``, (1, n, 1) as in escnn."""

    def __init__(self, index: torch.Tensor, weight: torch.Tensor, running_var: torch.Tensor | None = None) -> None:
        super().__init__()
        n = int(weight.numel())
        self.n, self.size = n, int(index.numel()) // max(n, 1)
        self.register_buffer("index", index.detach().clone().long())
        self.index: torch.Tensor
        self.weight = nn.Parameter(weight.detach().clone().reshape(1, n, 1))
        var = running_var if running_var is not None else torch.ones(1, n, 1, dtype=weight.dtype)
        self.register_buffer("running_var", var.detach().clone().reshape(1, n, 1))
        self.running_var: torch.Tensor

    def update(self, squares: torch.Tensor, factor: torch.Tensor) -> None:
        """running_var <- (1 - a) running_var + a mean_batch(|x_f|^2) / d * B / (B - 1); squares = x.detach()^2."""
        b = squares.shape[0]
        norms = squares.index_select(1, self.index).view(b, self.n, self.size).sum(dim=2)
        norms = norms.transpose(0, 1).reshape(self.n, -1)
        m = norms.shape[1]
        correction = float(m) / float(m - 1) if m > 1 else 1.0
        var = norms.mean(dim=1).view(1, -1, 1) / self.size
        var = var * correction
        _update(self.running_var, var, factor)

    def forward(self, x: torch.Tensor, eps: float) -> torch.Tensor:
        b = x.shape[0]
        multipliers = self.weight / (self.running_var + eps).sqrt()
        return (x.index_select(1, self.index).view(b, self.n, self.size) * multipliers).reshape(b, self.n * self.size)


class NormBatchNorm(_Statistics):
    """escnn's ``NormBatchNorm`` (affine) in plain torch: fields without trivial irreps, one scale each."""

    def __init__(
        self, groups: list[NormGroup], size: int, eps: float = 1e-5, momentum: float | None = 0.1, num_batches_tracked: int = 0
    ) -> None:
        super().__init__(list(groups), size, eps, momentum, num_batches_tracked)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            check_training_batch(x, "norm_batch")
            factor = self._factor()
            squares = x.detach() ** 2
            for group in self.groups:
                assert isinstance(group, NormGroup)
                group.update(squares, factor)
        parts: list[torch.Tensor] = []
        for group in self.groups:
            assert isinstance(group, NormGroup)
            parts.append(group(x, self.eps))
        return torch.cat(parts, dim=1).index_select(1, self.inverse)

    @torch.no_grad()
    def affine(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift), each (channels,): the eval-mode map is y = scale * x + shift (shift = 0)."""
        scale = self.inverse.new_zeros(self.size, dtype=torch.float64)
        for group in self.groups:
            assert isinstance(group, NormGroup)
            s = (group.weight.double() / (group.running_var.double() + self.eps).sqrt()).reshape(group.n, 1)
            scale[group.index] = s.expand(group.n, group.size).reshape(-1)
        return scale, torch.zeros_like(scale)


class EquivariantLayerNorm(nn.Module):
    """An equivariant layer norm: each sample normalized on its own, the same in training and eval mode.

    Fields are grouped by representation as in IIDBatchNorm (``groups``, with the same ``weight`` (n, 1) and
    ``bias`` (n, t) per group, and no running statistics). For one sample x, with F fields in all:

        m_tau     = P_tau (1/n_tau) sum_{f of type tau} x_f            (types with trivial irreps; else 0)
        c_f       = x_f - m_tau(f)
        sigma^2   = (1/F) sum_f |c_f|^2 / d_f
        y_f       = c_f * w_f / sqrt(sigma^2 + eps) + Q_tau[:, T] b_f

    Only the trivial subspaces are shifted (by the mean of the fields' invariant parts, so a type's trivial
    part is not deleted outright unless it has one field), and every field of the sample is divided by one
    invariant scale: for orthogonal representations, y(rho(g) x) = rho(g) y(x) exactly, sample by sample.
    No Bessel correction; gradients flow through m and sigma (nothing is detached)."""

    def __init__(self, groups: list[LayerGroup], size: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.groups = nn.ModuleList(groups)
        self.size, self.eps = size, float(eps)
        self.n_fields = sum(g.n for g in groups)
        self.register_buffer("inverse", _inverse([g.index for g in groups], size))
        self.inverse: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred: list[torch.Tensor] = []
        total = x.new_zeros(x.shape[0])
        for group in self.groups:
            assert isinstance(group, LayerGroup)
            c = group.centre(x)
            centred.append(c)
            total = total + (c * c).sum(dim=2).sum(dim=1) / group.size
        std = (total / self.n_fields + self.eps).sqrt()
        parts: list[torch.Tensor] = []
        for i, group in enumerate(self.groups):
            assert isinstance(group, LayerGroup)
            parts.append(group.finish(centred[i], std))
        return torch.cat(parts, dim=1).index_select(1, self.inverse)


#: the normalizations that are affine in eval mode, so ``fold_into`` folds them into a linear layer
BATCH_NORMS = (IIDBatchNorm, NormBatchNorm)


@torch.no_grad()
def fold_into(linear: DenseLinear, norm: IIDBatchNorm | NormBatchNorm) -> DenseLinear:
    """The DenseLinear computing norm(linear(x)) with ``norm`` in eval mode (running statistics): each
    field's affine map y_f = s_f x_f + (Q b_f - s_f mu_f) folded into W and b (in float64, then cast)."""
    if not isinstance(norm, (IIDBatchNorm, NormBatchNorm)):
        raise TypeError(f"only batch norms are affine in eval mode, not {type(norm).__name__}")
    if linear.weight.shape[0] != norm.size:
        raise ValueError(f"the linear layer has {linear.weight.shape[0]} outputs, the norm {norm.size} channels")
    scale, shift = norm.affine()
    weight = scale.unsqueeze(1) * linear.weight.double()
    bias = scale * linear.bias.double() + shift
    return DenseLinear(weight.to(linear.weight.dtype), bias.to(linear.bias.dtype))
