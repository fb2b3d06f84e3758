"""Inference copies of compiled models: every weight assembled once.

A trainable compiled model keeps only Schur coefficients as parameters and assembles each linear layer's
matrix from them on every call (training must see every step's coefficients). When the parameters can no
longer change, that work is wasted: ``freeze`` assembles the dense-form layers once (changes of basis
folded in) and every tensor-product matrix once, and keeps the per-block layers as they are, which the cost
model found cheaper per block. The copy is made only when asked for: a compiled model keeps no inference copy
of its own, so that no call ever runs on weights older than the model's.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .blocks import BlockLinear, DenseLinear
from .modules import CompiledModel, FrozenTensorProduct, TensorProductAct
from .norms import BATCH_NORMS, fold_into


def freeze(model: CompiledModel) -> CompiledModel:
    """A separate inference copy of a compiled model, every matrix assembled once: the fast way to run it
    when its weights no longer change.

    The copy is in eval mode, batch norms folded into the linear layer before them (their running
    statistics as they are now), and none of its parameters requires grad. It is a new module holding
    its own tensors: it does not follow later changes of the original's weights (an optimizer step,
    ``load_state_dict``, a write through ``.data``). Freezing is the caller's explicit choice; freeze again
    after the weights change. The original is left as it is, and a plain call of it always computes from
    its current weights.

    Raises TypeError for anything but a ``CompiledModel`` (the ``.module`` of a build).

    >>> import torch
    >>> import eqdesign
    >>> model = eqdesign.build("specs/ico-regular-elu.yaml", influence=False).module.double()
    >>> frozen = eqdesign.freeze(model)
    >>> x = torch.randn(4, model.input_dim, dtype=torch.float64)
    >>> with torch.no_grad():
    ...     torch.allclose(frozen(x), model.eval()(x))
    True
    >>> with torch.no_grad():  # the original's weights change; the copy keeps those it was made from
    ...     _ = [p.mul_(2.0) for p in model.parameters()]
    ...     torch.allclose(frozen(x), model(x)), torch.allclose(freeze(model)(x), model(x))
    (False, True)
    >>> frozen is model, any(p.requires_grad for p in frozen.parameters())
    (False, False)
    """
    if not isinstance(model, CompiledModel):
        raise TypeError(_not_compiled(model))
    return _frozen_model(model)


def _not_compiled(model: object) -> str:
    """What freeze says about an argument it cannot freeze, with what to pass instead."""
    if isinstance(model, torch.jit.ScriptModule):
        hint = "a loaded .pt cannot be frozen: load the .pt2 artifact, which is the frozen copy already"
    elif isinstance(model, torch.fx.GraphModule):
        hint = "a loaded .pt2 is the frozen copy already: run it as it is"
    elif isinstance(getattr(model, "module", None), CompiledModel):
        hint = "pass its .module"
    else:
        hint = "pass the .module of a build"
    return f"freeze takes a compiled eqdesign model (CompiledModel), got {type(model).__name__}; {hint}"


@torch.no_grad()
def _frozen_model(model: CompiledModel) -> CompiledModel:
    layers: list[nn.Module] = []
    for layer in model.layers:
        _append_frozen(layers, layer)
    frozen = CompiledModel(layers, model.input_dim, model.output_dim, model.dtype_reference.dtype, model.edges)
    frozen.frozen = True
    frozen.column_orders = list(model.column_orders)
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
