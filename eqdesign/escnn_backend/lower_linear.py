"""An escnn ``Linear`` as a BlockLinear: its Schur coefficients read off in irrep bases."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import torch

from ..analysis.cost import BlockShape, linear_form
from ..export.blocks import BlockLinear, IrrepBlock
from ..theory.group import FloatArray
from .families import IrrepId

#: (escnn irrep id, start, dim) of every irrep copy of a field type, in irrep basis
IrrepSlots: TypeAlias = list[tuple[IrrepId, int, int]]


def irrep_layout(field_type: Any) -> tuple[FloatArray | None, FloatArray | None, IrrepSlots]:
    """(Q^-1 applied to the right of row vectors, Q likewise, [(irrep id, start, dim)]) in irrep basis.

    Q is None where the basis is already irrep-adapted (the identity)."""
    q_blocks: list[FloatArray] = []
    qinv_blocks: list[FloatArray] = []
    irreps: IrrepSlots = []
    offset = 0
    for rep in field_type.representations:
        q_blocks.append(rep.change_of_basis)
        qinv_blocks.append(rep.change_of_basis_inv)
        for irrep_id in rep.irreps:
            d = rep.group.irrep(*irrep_id).size
            irreps.append((irrep_id, offset, d))
            offset += d
    q = _block_diag(q_blocks)
    qinv = _block_diag(qinv_blocks)
    if np.allclose(q, np.eye(q.shape[0])):
        return None, None, irreps
    # row-vector convention: x_irrep = x @ Qinv^T, x = x_irrep @ Q^T
    return qinv.T, q.T, irreps


def _block_diag(blocks: list[FloatArray]) -> FloatArray:
    n = sum(b.shape[0] for b in blocks)
    out = np.zeros((n, n))
    i = 0
    for b in blocks:
        out[i : i + b.shape[0], i : i + b.shape[0]] = b
        i += b.shape[0]
    return out


def compile_linear(linear: Any, dtype: torch.dtype) -> BlockLinear:
    """BlockLinear with the same function as an escnn Linear, and the Schur coefficients as parameters."""
    group = linear.in_type.gspace.fibergroup
    was_training = linear.training
    linear.eval()
    w = linear.matrix.detach().double().cpu().numpy()
    b = linear.expanded_bias.detach().double().cpu().numpy() if linear.expanded_bias is not None else np.zeros(w.shape[0])
    linear.train(was_training)
    qin_r, _, irr_in = irrep_layout(linear.in_type)
    _, qout_r, irr_out = irrep_layout(linear.out_type)
    # W in irrep bases: W_irr = Qout^-1 W Qin
    w_irr = _to_irrep_basis(w, linear.in_type, linear.out_type)
    b_irr = _bias_to_irrep(b, linear.out_type)
    blocks: list[IrrepBlock] = []
    out_positions: list[int] = []
    for irrep_id in _ordered_ids(irr_in, irr_out):
        ins = [(s, d) for i, s, d in irr_in if i == irrep_id]
        outs = [(s, d) for i, s, d in irr_out if i == irrep_id]
        endo = group.irrep(*irrep_id).endomorphism_basis()
        coeffs = _schur_coefficients(w_irr, ins, outs, endo)
        d = ins[0][1]
        in_index = torch.tensor([s + k for k in range(d) for s, _ in ins], dtype=torch.long)
        out_index = [s + k for k in range(d) for s, _ in outs]
        blocks.append(
            IrrepBlock(
                in_index, torch.tensor(out_index, dtype=torch.long), torch.tensor(coeffs, dtype=dtype), torch.tensor(endo, dtype=dtype)
            )
        )
        out_positions += out_index
    trivial = group.trivial_representation.id
    bias_pos = [s for i, s, _ in irr_out if i == trivial]
    sizes = (linear.in_type.size, linear.out_type.size)
    return BlockLinear(
        _tensor(qin_r, dtype),
        _tensor(qout_r, dtype),
        blocks,
        torch.tensor(out_positions, dtype=torch.long),
        torch.tensor(bias_pos, dtype=torch.long),
        torch.tensor(b_irr[bias_pos], dtype=dtype),
        sizes[1],
        per_block=choose_per_block(blocks, *sizes, qin_r is not None, qout_r is not None),
        in_dim=sizes[0],
    )


def choose_per_block(blocks: list[IrrepBlock], in_dim: int, out_dim: int, q_in: bool, q_out: bool) -> bool:
    """Per-block GEMMs or one dense GEMM: the form ``analysis.cost.linear_form`` (the cost model `check`
    reports) expects to be cheaper for one call."""
    shapes = [BlockShape(b.d, b.e, b.m_in, b.m_out) for b in blocks]
    return linear_form(shapes, in_dim, out_dim, q_in, q_out) == "per_block"


def _tensor(a: FloatArray | None, dtype: torch.dtype) -> torch.Tensor | None:
    return None if a is None else torch.tensor(a, dtype=dtype)


def _to_irrep_basis(w: FloatArray, in_type: Any, out_type: Any) -> FloatArray:
    q_in = _block_diag([r.change_of_basis for r in in_type.representations])
    qinv_out = _block_diag([r.change_of_basis_inv for r in out_type.representations])
    return qinv_out @ w @ q_in


def _bias_to_irrep(b: FloatArray, out_type: Any) -> FloatArray:
    return _block_diag([r.change_of_basis_inv for r in out_type.representations]) @ b


def _ordered_ids(irr_in: IrrepSlots, irr_out: IrrepSlots) -> list[IrrepId]:
    shared = {i for i, _, _ in irr_in} & {i for i, _, _ in irr_out}
    return [i for i in dict.fromkeys(x for x, _, _ in irr_out) if i in shared]


def _schur_coefficients(w_irr: FloatArray, ins: list[tuple[int, int]], outs: list[tuple[int, int]], endo: FloatArray) -> FloatArray:
    """c[k, j, i] with block(out j, in i) = sum_k c_k E_k; checks that nothing else is there."""
    e, d = endo.shape[0], endo.shape[1]
    norms = np.einsum("kab,kab->k", endo, endo)
    coeffs = np.zeros((e, len(outs), len(ins)))
    for j, (so, _) in enumerate(outs):
        for i, (si, _) in enumerate(ins):
            block = w_irr[so : so + d, si : si + d]
            c = np.einsum("kab,ab->k", endo, block) / norms
            residual = np.abs(block - np.einsum("k,kab->ab", c, endo)).max()
            if residual > 1e-5 * max(1.0, np.abs(block).max()):
                raise ValueError(f"block is not in End(psi): residual {residual:.2e}")
            coeffs[:, j, i] = c
    return coeffs
