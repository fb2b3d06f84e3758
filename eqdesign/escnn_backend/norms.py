"""Normalization layers on the escnn side: an escnn layer norm, and the lowering of escnn's norms.

* ``EscnnLayerNorm``: the escnn module of ``eqdesign.export.norms.EquivariantLayerNorm`` (escnn has none);
  parameters named and shaped as escnn's IIDBatchNorm1d names them (``<type>_weight`` (n, 1),
  ``<type>_bias`` (n, t)).
* ``lower_norm``: escnn's IIDBatchNorm1d / NormBatchNorm, or an EscnnLayerNorm, as its plain-torch twin,
  with the module's parameters, running statistics, eps, momentum and num_batches_tracked.
* ``norm_counts`` / ``type_counts``: learnable parameters and running-statistic numbers as escnn stores them.
* ``exact_norm_buffers``: escnn builds its averaging matrices in float32; recomputed in float64 here for
  float64 models (like the other exact bases of ``builder.exact_bases``).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import torch

from ..export.norms import EquivariantLayerNorm, IIDBatchNorm, IIDGroup, LayerGroup, NormBatchNorm, NormGroup
from ..theory.group import FloatArray
from .compat import contiguous, enn, escaped_name, field_sizes, representation_groups

KINDS = ("iid_batch", "norm_batch", "layer")


def averaging(rep: Any) -> tuple[FloatArray, FloatArray] | None:
    """(P = Q S Q^-1 (d, d), Q[:, T] (d, t)) of a representation in float64, or None without trivial irreps."""
    G = rep.group
    mask = np.zeros(rep.size)
    trivials: list[int] = []
    p = 0
    for irr in rep.irreps:
        irrep = G.irrep(*irr)
        if irrep.is_trivial():
            trivials.append(p)
            mask[p] = 1.0
        p += irrep.size
    if not trivials:
        return None
    Q = np.asarray(rep.change_of_basis, dtype=np.float64)
    P = Q @ np.diag(mask) @ np.asarray(rep.change_of_basis_inv, dtype=np.float64)
    return P, Q[:, trivials]


def _fields_by_name(in_type: Any) -> dict[str, tuple[Any, list[int]]]:
    """Representation name -> (representation, channel positions of its fields), in order of appearance."""
    groups: dict[str, tuple[Any, list[int]]] = {}
    position = 0
    for r in in_type.representations:
        groups.setdefault(r.name, (r, []))[1].extend(range(position, position + r.size))
        position += r.size
    return groups


class EscnnLayerNorm(enn.EquivariantModule):  # type: ignore[misc]  # escnn is untyped: its base classes are Any to mypy
    """The equivariant layer norm of ``eqdesign.export.norms.EquivariantLayerNorm`` as an escnn module.

    Per sample: m_tau = P_tau mean_{f of type tau} x_f, c_f = x_f - m_tau(f), sigma^2 = mean_f |c_f|^2 / d_f,
    y_f = c_f * w_f / sqrt(sigma^2 + eps) + Q_tau[:, T] b_f. The same in training and eval mode."""

    def __init__(self, in_type: Any, eps: float = 1e-5) -> None:
        super().__init__()
        self.space = in_type.gspace
        self.in_type = self.out_type = in_type
        self.eps = eps
        #: (representation name, size, whether it holds trivial irreps) per group of fields, as
        #: compat.representation_groups reads them from escnn's IIDBatchNorm1d
        self.groups: list[tuple[str, int, bool]] = []
        self.n_fields = 0
        dtype = torch.get_default_dtype()
        for name, (rep, positions) in _fields_by_name(in_type).items():
            key = escaped_name(name)
            n = len(positions) // rep.size
            self.n_fields += n
            self.register_buffer(f"{key}_indices", torch.tensor(positions, dtype=torch.long))
            pq = averaging(rep)
            self.groups.append((name, rep.size, pq is not None))
            self.register_parameter(f"{key}_weight", torch.nn.Parameter(torch.ones(n, 1, dtype=dtype)))
            if pq is not None:
                # kept in float64 (cast on use): a float64 model keeps the exact projection
                self.register_buffer(f"{key}_avg", torch.tensor(pq[0], dtype=torch.float64))
                self.register_buffer(f"{key}_change_of_basis", torch.tensor(pq[1], dtype=torch.float64))
                self.register_parameter(f"{key}_bias", torch.nn.Parameter(torch.zeros(n, pq[1].shape[1], dtype=dtype)))

    def forward(self, input: Any) -> Any:
        assert input.type == self.in_type
        x = input.tensor
        b = x.shape[0]
        centred: dict[str, torch.Tensor] = {}
        total = x.new_zeros(b)
        for name, size, trivial in self.groups:
            key = escaped_name(name)
            fields = x[:, getattr(self, f"{key}_indices")].view(b, -1, size)
            if trivial:
                P = getattr(self, f"{key}_avg").to(x.dtype)
                fields = fields - torch.einsum("ij,bj->bi", P, fields.mean(dim=1)).unsqueeze(1)
            centred[name] = fields
            total = total + (fields * fields).sum(dim=2).sum(dim=1) / size
        std = (total / self.n_fields + self.eps).sqrt()
        output = torch.empty_like(x)
        for name, _, trivial in self.groups:
            key = escaped_name(name)
            weight = getattr(self, f"{key}_weight")
            out = centred[name] * (weight.view(1, -1, 1) / std.view(b, 1, 1))
            if trivial:
                Q = getattr(self, f"{key}_change_of_basis").to(x.dtype)
                out = out + torch.einsum("ij,cj->ci", Q, getattr(self, f"{key}_bias")).unsqueeze(0)
            output[:, getattr(self, f"{key}_indices")] = out.reshape(b, -1)
        return self.out_type(output)

    def evaluate_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape


#: the escnn modules of a spec's ``norm:`` (for isinstance)
NORMALIZATIONS: tuple[type[Any], ...] = (enn.IIDBatchNorm1d, enn.NormBatchNorm, EscnnLayerNorm)


def _t(a: Any, dtype: torch.dtype) -> torch.Tensor:
    return torch.as_tensor(a).detach().cpu().to(dtype).clone()


def _positions(module: Any, key: str, contiguous: bool) -> torch.Tensor:
    """The channel positions escnn stores for a group of fields: [start, end] where contiguous, else all."""
    ix = getattr(module, f"{key}_indices")
    if contiguous:
        return torch.arange(int(ix[0]), int(ix[1]))
    return torch.as_tensor(ix).detach().cpu().long()


_GroupArgs: TypeAlias = tuple[str, torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor, torch.Tensor | None]


def field_groups(module: Any) -> list[tuple[str, int, bool]]:
    """(representation name, size, whether it holds trivial irreps) of each group of fields of an
    IIDBatchNorm1d or EscnnLayerNorm, in the order their buffers and parameters are grouped."""
    return module.groups if isinstance(module, EscnnLayerNorm) else representation_groups(module)


def _group_args(module: Any, name: str, trivial: bool, side_by_side: bool, dtype: torch.dtype) -> _GroupArgs:
    """(name, index, P, Q[:, T], weight, bias) of one representation's fields, from an escnn module;
    ``side_by_side``: whether the module keeps their positions as a [start, end) pair."""
    key = escaped_name(name)
    return (
        name,
        _positions(module, key, side_by_side),
        _t(getattr(module, f"{key}_avg"), dtype) if trivial else None,
        _t(getattr(module, f"{key}_change_of_basis"), dtype) if trivial else None,
        _t(getattr(module, f"{key}_weight"), dtype),
        _t(getattr(module, f"{key}_bias"), dtype) if trivial else None,
    )


def _iid_groups(module: Any, dtype: torch.dtype) -> list[IIDGroup]:
    groups: list[IIDGroup] = []
    for name, _, trivial in representation_groups(module):
        key = escaped_name(name)
        mean = _t(getattr(module, f"{key}_running_mean"), dtype) if trivial else None
        args = _group_args(module, name, trivial, contiguous(module, name), dtype)
        groups.append(IIDGroup(*args, mean, _t(getattr(module, f"{key}_running_var"), dtype)))
    return groups


def _lower_iid(module: Any, dtype: torch.dtype) -> IIDBatchNorm:
    if not (module.affine and module.track_running_stats):
        raise ValueError("only affine IIDBatchNorm1d tracking running statistics has a plain-torch twin")
    groups = _iid_groups(module, dtype)
    return IIDBatchNorm(groups, module.in_type.size, module.eps, module.momentum, int(module.num_batches_tracked))


def _lower_norm_batch(module: Any, dtype: torch.dtype) -> NormBatchNorm:
    if not module.affine:
        raise ValueError("only affine NormBatchNorm has a plain-torch twin")
    groups = [
        NormGroup(
            _positions(module, str(s), contiguous(module, s)),
            _t(getattr(module, f"{s}_weight"), dtype),
            _t(getattr(module, f"{s}_running_var"), dtype),
        )
        for s in field_sizes(module)
    ]
    return NormBatchNorm(groups, module.in_type.size, module.eps, module.momentum, int(module.num_batches_tracked))


def _lower_layer(module: EscnnLayerNorm, dtype: torch.dtype) -> EquivariantLayerNorm:
    groups = [LayerGroup(*_group_args(module, name, trivial, False, dtype)) for name, _, trivial in module.groups]
    return EquivariantLayerNorm(groups, module.in_type.size, module.eps)


def lower_norm(module: Any, dtype: torch.dtype) -> torch.nn.Module:
    """The plain-torch twin of an escnn IIDBatchNorm1d, NormBatchNorm or EscnnLayerNorm, in ``dtype``, in
    the module's training mode, with its current parameters and running statistics."""
    twin: torch.nn.Module
    if isinstance(module, EscnnLayerNorm):
        twin = _lower_layer(module, dtype)
    elif isinstance(module, enn.IIDBatchNorm1d):
        twin = _lower_iid(module, dtype)
    elif isinstance(module, enn.NormBatchNorm):
        twin = _lower_norm_batch(module, dtype)
    else:
        raise TypeError(f"no plain-torch normalization for {type(module).__name__}")
    return twin.train(module.training)


def build_norm(kind: str, in_type: Any, eps: float = 1e-5, momentum: float | None = 0.1) -> Any:
    """The escnn module of a spec's ``norm:`` (``iid_batch``, ``norm_batch`` or ``layer``) on ``in_type``."""
    if kind == "iid_batch":
        return enn.IIDBatchNorm1d(in_type, eps=eps, momentum=momentum)
    if kind == "norm_batch":
        return enn.NormBatchNorm(in_type, eps=eps, momentum=momentum)
    if kind == "layer":
        return EscnnLayerNorm(in_type, eps=eps)
    raise ValueError(f"unknown normalization {kind!r}; expected one of {KINDS}")


def type_counts(kind: str, in_type: Any) -> tuple[int, int]:
    """(learnable parameters, running-statistic numbers) of the ``kind`` norm on ``in_type`` as escnn stores
    them: a weight per field and a bias per trivial irrep (IID and layer norms); for the batch norms,
    running_var one per field and (IID) running_mean (n, d) for types with trivial irreps. Not counted: the
    step counter num_batches_tracked, and the index and averaging-matrix buffers (as
    ``analysis.design.norm_counts``)."""
    fields = len(in_type.representations)
    if kind == "norm_batch":
        return fields, fields
    if kind not in ("iid_batch", "layer"):
        raise ValueError(f"unknown normalization {kind!r}; expected one of {KINDS}")
    params, means = fields, 0
    for rep, positions in _fields_by_name(in_type).values():
        pq = averaging(rep)
        if pq is not None:
            params += len(positions) // rep.size * pq[1].shape[1]
            means += len(positions)
    return (params, 0) if kind == "layer" else (params, means + fields)


def norm_counts(module: Any) -> tuple[int, int]:
    """(learnable parameters, running-statistic numbers) of an escnn norm module (see ``type_counts``)."""
    if isinstance(module, EscnnLayerNorm):
        return type_counts("layer", module.in_type)
    if isinstance(module, enn.IIDBatchNorm1d):
        return type_counts("iid_batch", module.in_type)
    if isinstance(module, enn.NormBatchNorm):
        return type_counts("norm_batch", module.in_type)
    raise TypeError(f"not a normalization: {type(module).__name__}")


@torch.no_grad()
def exact_norm_buffers(module: Any) -> None:
    """Overwrite an IIDBatchNorm1d's or EscnnLayerNorm's averaging matrices and changes of basis with their
    float64 values (escnn computes them in float32), kept in each buffer's dtype."""
    if not isinstance(module, (enn.IIDBatchNorm1d, EscnnLayerNorm)):
        return
    for name, (rep, _) in _fields_by_name(module.in_type).items():
        pq = averaging(rep)
        if pq is None:
            continue
        for suffix, value in (("avg", pq[0]), ("change_of_basis", pq[1])):
            buffer = getattr(module, f"{escaped_name(name)}_{suffix}")
            buffer.copy_(torch.as_tensor(value, dtype=torch.float64).to(buffer.dtype))
