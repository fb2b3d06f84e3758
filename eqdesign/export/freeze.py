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


@torch.no_grad()
def freeze(model: CompiledModel) -> CompiledModel:
    """A frozen copy for inference (the model itself is left as it is); no parameter requires grad."""
    layers: list[nn.Module] = [_frozen(layer) for layer in model.layers]
    frozen = CompiledModel(layers, model.input_dim, model.output_dim)
    frozen.frozen = True
    for p in frozen.parameters():
        p.requires_grad_(False)
    return frozen.eval()


def _frozen(layer: nn.Module) -> nn.Module:
    if isinstance(layer, BlockLinear) and not layer.per_block:
        return DenseLinear(*layer.dense())
    if isinstance(layer, TensorProductAct):
        return FrozenTensorProduct(layer.matrix(), layer.channels, layer.d_in, layer.d_out)
    return copy.deepcopy(layer)
