"""Lower an escnn model to the plain-torch modules of ``eqdesign.export``.

The compiled model computes the same function with the same parameters; linear layers run per Schur
block, and the columns between layers come in the order the layers read them (``export.orders``). The compiled modules never import escnn, so they script, export and load where escnn is absent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
import torch

from ..analysis.design import DesignLayer, Nonlinear
from ..export.blocks import BlockLinear
from ..export.modules import CompiledModel, FieldGroup, FourierAct, GatedAct, NormAct, Pointwise, TensorProductAct, Zero
from ..export.orders import arrange
from . import modules as em
from .builder import activation_function, poly_coefficients
from .compat import contiguous, enn, field_sizes, fields_of_size
from .lower_linear import compile_linear, irrep_layout
from .model import EscnnModel
from .norms import lower_norm

_NORM_ACT = {"norm_relu": "relu", "norm_sigmoid": "sigmoid", "norm_squash": "squash"}


def _t(a: Any, dtype: torch.dtype) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a), dtype=dtype).clone()


def _bias_only(m: em.BiasOnly, dtype: torch.dtype) -> BlockLinear:
    _, q_out, irreps = irrep_layout(m.out_type)
    G = m.out_type.fibergroup
    pos = [s for i, s, _ in irreps if G.irrep(*i).is_trivial()]
    bias = _t(m.bias, dtype) if m.bias is not None else torch.zeros(0, dtype=dtype)
    return BlockLinear(
        None,
        None if q_out is None else _t(q_out, dtype),
        [],
        torch.zeros(0, dtype=torch.long),
        torch.tensor(pos, dtype=torch.long),
        bias,
        m.out_type.size,
        in_dim=m.in_type.size,
    )


def _fourier(m: Any, layer: Nonlinear, dtype: torch.dtype) -> FourierAct:
    act, poly = activation_function(layer.activation), poly_coefficients(layer, dtype)
    return FourierAct(_t(m.A, dtype), _t(m.Ainv, dtype), len(m.in_type), act, poly)


def _norm(m: enn.NormNonLinearity, layer: Nonlinear, dtype: torch.dtype) -> NormAct:
    groups: list[FieldGroup] = []
    start = 0
    for s in field_sizes(m):
        ix = getattr(m, f"indices_{s}")
        idx = torch.arange(int(ix[0]), int(ix[1])) if contiguous(m, s) else ix.detach().cpu().long()
        src = idx.reshape(-1, s)
        groups.append(FieldGroup(src, src, start))
        start += fields_of_size(m, s)
    log_bias = _t(m.log_bias.reshape(-1), dtype) if m.log_bias is not None else torch.zeros(0, dtype=dtype)
    return NormAct(groups, log_bias, _NORM_ACT[layer.activation], m.log_bias is not None)


def _gated(m: em.GatedBlock, layer: Nonlinear, dtype: torch.dtype) -> GatedAct:
    return GatedAct(m.split, m.gated.n_gates, m.gated.coord_gate.detach().cpu().long(), _t(m.gated.bias.reshape(-1), dtype))


def _tensor(m: em.FixedTensorProduct, layer: Nonlinear, dtype: torch.dtype) -> TensorProductAct:
    n = m.weights.numel()
    d_in = m.in_type.representations[0].size
    d_out = m.out_type.representations[0].size
    with torch.no_grad():
        eye = torch.eye(n, dtype=m.weights.dtype, device=m.weights.device)
        basis = torch.stack([m.basisexpansion(eye[k]).reshape(m.out_type.size, d_in * d_in) for k in range(n)])
    return TensorProductAct(_t(basis, dtype), _t(m.weights, dtype), len(m.in_type), d_in, d_out)


def _pointwise(m: Any, layer: Nonlinear, dtype: torch.dtype) -> Pointwise:
    return Pointwise(activation_function(layer.activation), poly_coefficients(layer, dtype))


#: lowers an escnn nonlinearity (untyped) built for a hidden layer
_Lowering: TypeAlias = Callable[[Any, Nonlinear, torch.dtype], torch.nn.Module]

_LOWER: list[tuple[type[Any], _Lowering]] = [
    (em.GatedBlock, _gated),
    (em.FixedTensorProduct, _tensor),
    (em.FiniteFourierPointwise, _fourier),
    (enn.NormNonLinearity, _norm),
    (em.Elementwise, _pointwise),
    (enn.ELU, _pointwise),
    (enn.ReLU, _pointwise),
]


def lower(module: Any, layer: DesignLayer, dtype: torch.dtype) -> torch.nn.Module:
    if isinstance(module, enn.Linear):
        return compile_linear(module, dtype)
    if isinstance(module, em.BiasOnly):
        return _bias_only(module, dtype)
    if isinstance(module, em.ZeroMap):
        return Zero(module.out_type.size)
    if not isinstance(layer, Nonlinear):
        raise TypeError(f"{type(module).__name__} was built for a linear layer")
    if isinstance(module, enn.SequentialModule):  # a normalization, then the nonlinearity
        norm, act = list(module.children())
        return torch.nn.Sequential(lower_norm(norm, dtype), lower(act, layer, dtype))
    if hasattr(module, "A") and hasattr(module, "Ainv"):  # escnn FourierELU / QuotientFourierELU
        return _fourier(module, layer, dtype)
    for cls, fn in _LOWER:
        if isinstance(module, cls):
            return fn(module, layer, dtype)
    raise TypeError(f"no plain-torch lowering for {type(module).__name__}")


def compile_model(model: EscnnModel, dtype: torch.dtype = torch.float32) -> CompiledModel:
    """The compiled twin, in the escnn model's mode (eval after a build: batch norms use their running
    statistics; ``.train()`` switches to batch statistics, as in escnn)."""
    layers = [lower(b.module, b.layer, dtype) for b in model.built]
    orders = arrange(layers)  # the columns between layers in the order the layers read and write them
    edges = (_edge(model.embed_in, dtype), _edge(model.embed_out, dtype, transposed=True))
    compiled = CompiledModel(layers, model.in_width, model.out_width, dtype, edges)
    compiled.column_orders = orders
    return compiled.train(model.training)


def _edge(matrix: torch.Tensor, dtype: torch.dtype, transposed: bool = False) -> torch.Tensor | None:
    """An edge map as the compiled model multiplies by it (rows: what comes in), or None where there is none."""
    if not matrix.numel():
        return None
    return (matrix.T if transposed else matrix).to(dtype).contiguous().clone()
