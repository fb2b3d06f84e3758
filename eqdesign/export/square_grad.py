"""The training step of a tensor-product layer: its projected square with a backward of its own.

Autograd's backward of ``modules.square_bmm`` keeps every group's products for the backward (the layer's
input times the number of pairs, 5 times it at d = 9), differentiates the two gathers that form them with
two scatters into zero-filled tensors, and runs its batched GEMMs on the gradient as the layer's output
layout leaves it, strided, which torch runs one matrix at a time on several threads. This one makes the
gradient contiguous once; where the products outgrow a cache (several channel groups) it keeps only the
layer's input and matrix and forms each group's products again in the backward, while they are in cache;
for one group it keeps them, as autograd does. The arithmetic is the same.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable


class SquareProjection(torch.autograd.Function):
    """(v (C, d_in, b), matrix (C, d_out, P), pairs i, j, group) -> (C, d_out, b), as ``modules.square_bmm``."""

    @staticmethod
    def forward(ctx: Any, v: torch.Tensor, matrix: torch.Tensor, i: torch.Tensor, j: torch.Tensor, group: int) -> torch.Tensor:
        ctx.group = group
        if group >= v.shape[0]:  # one group: keep the factors and products
            vi, vj = v.index_select(1, i), v.index_select(1, j)
            square = vi * vj
            ctx.save_for_backward(v, matrix, i, j, vi, vj, square)
            return torch.bmm(matrix, square)
        ctx.save_for_backward(v, matrix, i, j)
        out = v.new_empty(v.shape[0], matrix.shape[1], v.shape[2])
        for c in range(0, v.shape[0], group):
            vc = v[c : c + group]
            torch.bmm(matrix[c : c + group], vc.index_select(1, i) * vc.index_select(1, j), out=out[c : c + group])
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None, None, None]:
        v, matrix, i, j, *kept = ctx.saved_tensors
        grad = grad.contiguous()
        want_v, want_m = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_v = torch.zeros_like(v) if want_v else None
        grad_m = torch.empty_like(matrix) if want_m else None
        for c in range(0, v.shape[0], ctx.group):
            end = c + ctx.group
            vc, gc, mc = v[c:end], grad[c:end], matrix[c:end]
            vi, vj, square = kept if kept else _products(vc, i, j)
            if grad_m is not None:
                torch.bmm(gc, square.transpose(1, 2), out=grad_m[c:end])
            if grad_v is not None:
                # d(v_i v_j) = v_j dv_i + v_i dv_j: each pair's gradient goes to both of its factors
                gs = torch.bmm(mc.transpose(1, 2), gc)
                grad_v[c:end].index_add_(1, i, gs * vj).index_add_(1, j, gs * vi)
        return grad_v, grad_m, None, None, None


def _products(v: torch.Tensor, i: torch.Tensor, j: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    vi, vj = v.index_select(1, i), v.index_select(1, j)
    return vi, vj, vi * vj


def square_projection(v: torch.Tensor, matrix: torch.Tensor, i: torch.Tensor, j: torch.Tensor, group: int) -> torch.Tensor:
    """``SquareProjection.apply``, typed."""
    out: torch.Tensor = SquareProjection.apply(v, matrix, i, j, group)  # type: ignore[no-untyped-call]  # Function.apply is untyped
    return out
