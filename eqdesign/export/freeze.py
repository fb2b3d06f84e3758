"""Inference copies of compiled models: every weight assembled once.

A trainable compiled model keeps only Schur coefficients as parameters and assembles each linear layer's
matrix from them on every call (training must see every step's coefficients). When the parameters can no
longer change, that work is wasted: ``freeze`` assembles the dense-form layers once (changes of basis
folded in) and every tensor-product matrix once, and keeps the per-block layers as they are, which the cost model found cheaper per block.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .blocks import BlockLinear, DenseLinear
from .modules import CompiledModel, FrozenTensorProduct, TensorProductAct
from .norms import BATCH_NORMS, fold_into


@torch.no_grad()
def freeze(model: CompiledModel) -> CompiledModel:
    """A frozen copy for inference (the model itself is left as it is); no parameter requires grad."""
    layers: list[nn.Module] = []
    for layer in model.layers:
        _append_frozen(layers, layer)
    frozen = CompiledModel(layers, model.input_dim, model.output_dim, model.dtype_reference.dtype, model.edges)
    frozen.frozen = True
    for p in frozen.parameters():
        p.requires_grad_(False)
    return frozen.eval()


def _append_frozen(layers: list[nn.Module], layer: nn.Module) -> None:
    """A batch normalization in eval mode is an affine map per field: folded into the linear layer before it
    (made dense), it costs nothing at inference."""
    if isinstance(layer, nn.Sequential) and isinstance(layer[0], BATCH_NORMS) and layers:
        before = layers[-1]
        dense = before if isinstance(before, DenseLinear) else DenseLinear(*before.dense()) if isinstance(before, BlockLinear) else None
        if dense is not None:
            layers[-1] = fold_into(dense, layer[0])
            layers.append(_frozen(layer[1]))
            return
    layers.append(_frozen(layer))


def _frozen(layer: nn.Module) -> nn.Module:
    if isinstance(layer, BlockLinear) and not layer.per_block:
        return DenseLinear(*layer.dense())
    if isinstance(layer, TensorProductAct):
        return FrozenTensorProduct(layer)
    return copy.deepcopy(layer)
