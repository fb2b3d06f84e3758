"""The order of the feature columns between a compiled model's layers.

escnn lays a field type out field by field. A per-block linear layer reads and writes irrep by irrep,
component-major (``blocks.IrrepBlock``), so in escnn's order it gathers its inputs before its GEMMs and
scatters its outputs after them: two passes over the features, and two more in the backward. Inside the
model the order is free, as long as each layer reads the order the layer before it writes. ``arrange``
picks, around each nonlinear layer, the order the linear layer before it writes without a gather, or the one
the linear layer after it reads without one, where the nonlinear layer can take it; the model's input and
output keep the fields' order. Every choice is a permutation fixed at build time: the function, the
parameters and the multiply-adds stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .blocks import BlockLinear
from .modules import GatedAct, NormAct, Pointwise, TensorProductAct


def arrange(layers: list[nn.Module]) -> list[torch.Tensor | None]:
    """Reorder the columns between the layers in place, around every nonlinear layer between two linear ones.
    Returns the order of every interface (the model's input, then each layer's output): column t holds the
    fields' column ``order[t]``, None where they keep the fields' order (always at the model's two ends)."""
    orders: list[torch.Tensor | None] = [None] * (len(layers) + 1)
    for k in range(1, len(layers) - 1):
        before, layer, after = layers[k - 1], layers[k], layers[k + 1]
        if isinstance(before, BlockLinear) and isinstance(after, BlockLinear) and reorderable(layer):
            chosen = _arrange_around(before, layer, after)
            orders[k], orders[k + 1] = (None, None) if chosen is None else (_or_none(chosen[0]), _or_none(chosen[1]))
    return orders


def in_fields_order(
    fn: Callable[[torch.Tensor], torch.Tensor], order_in: torch.Tensor | None, order_out: torch.Tensor | None
) -> Callable[[torch.Tensor], torch.Tensor]:
    """A layer that reads ``order_in`` and writes ``order_out`` (``arrange``) as a function of columns in the
    fields' order, which is what a test of the layer alone feeds it and expects."""
    back = None if order_out is None else torch.argsort(order_out)

    def call(x: torch.Tensor) -> torch.Tensor:
        y = fn(x if order_in is None else x.index_select(1, order_in))
        return y if back is None else y.index_select(1, back)

    return call


def _or_none(order: torch.Tensor) -> torch.Tensor | None:
    return None if _identity(order) else order


def reorderable(layer: nn.Module) -> bool:
    """The nonlinear layers that can take their columns in another order than the fields'."""
    return isinstance(layer, (GatedAct, NormAct, Pointwise, TensorProductAct))


def _arrange_around(before: BlockLinear, layer: nn.Module, after: BlockLinear) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The (input, output) orders chosen for ``layer``, applied to it and its neighbours."""
    wanted = after.native_order("in") if after.reorderable("in") else None
    for order in _candidates(before, layer, wanted):
        out = output_order(layer, order, wanted)
        if out is not None and (_identity(out) or after.reorderable("in")):
            before.write(order)
            adopt(layer, order, out)
            after.read(out)
            return order, out
    return None


def _candidates(before: BlockLinear, layer: nn.Module, wanted: torch.Tensor | None) -> list[torch.Tensor]:
    """Input orders to try for ``layer``, best first: what ``before`` writes without a scatter, what makes the
    layer write what ``after`` reads without a gather; the fields' order, which every layer takes, last."""
    out: list[torch.Tensor] = []
    if before.reorderable("out"):
        native = before.native_order("out")
        if native is not None:
            out.append(native)
        if wanted is not None:
            fed = input_for(layer, wanted)
            if fed is not None:
                out.append(fed)
    size = int(before.out_dim)
    return out + [torch.arange(size)]


def output_order(layer: nn.Module, order: torch.Tensor, wanted: torch.Tensor | None) -> torch.Tensor | None:
    """The order ``layer`` writes when it reads ``order`` (the one closest to ``wanted`` where it may choose),
    or None where it cannot read that order."""
    if isinstance(layer, (Pointwise, NormAct)):
        return order
    if isinstance(layer, GatedAct):
        return layer.output_order(order)
    if isinstance(layer, TensorProductAct):
        if not _identity(order) and layer.component_order(order, "in") is None:
            return None
        return wanted if wanted is not None and layer.component_order(wanted, "out") is not None else torch.arange(layer.out_size)
    return order if _identity(order) else None


def input_for(layer: nn.Module, wanted: torch.Tensor) -> torch.Tensor | None:
    """An input order that makes ``layer`` write ``wanted``, where one follows from it."""
    if isinstance(layer, (Pointwise, NormAct)):
        return wanted
    if isinstance(layer, GatedAct):
        return layer.input_order(wanted)
    return None


def adopt(layer: nn.Module, order: torch.Tensor, out: torch.Tensor) -> None:
    """Make ``layer`` read ``order`` and write ``out`` (as ``output_order`` found them)."""
    if isinstance(layer, (NormAct, GatedAct, TensorProductAct)) and not (_identity(order) and _identity(out)):
        layer.reorder(order, out)


def _identity(order: torch.Tensor) -> bool:
    return torch.equal(order, torch.arange(order.numel()))
