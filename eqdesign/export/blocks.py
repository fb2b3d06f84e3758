"""Linear layers per Schur block, in plain torch.

An equivariant linear map in an irrep-adapted basis is block-sparse: between copies of the same irrep psi
each block is sum_k c_k E_k, E_k a basis of End(psi) (1, 2 or 4 matrices), and every other block is zero.
BlockLinear keeps exactly the coefficients c as trainable parameters, so training it with plain PyTorch
can never break equivariance. Features of one irrep are gathered as (batch, dim psi, copies), so each
irrep costs one GEMM of (batch * dim) x copies_in x copies_out.

Field bases that are not irrep-adapted (a permuted vector, the regular representation of a finite group)
get their change of basis applied as a fixed matrix before and after.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn


class IrrepBlock(nn.Module):
    """The Schur block of one irrep type: copies_in -> copies_out, with End(psi) basis ``endo``."""

    def __init__(self, in_index: torch.Tensor, out_index: torch.Tensor, coeffs: torch.Tensor, endo: torch.Tensor) -> None:
        super().__init__()
        e, m_out, m_in = coeffs.shape
        self.e, self.m_in, self.m_out, self.d = e, m_in, m_out, endo.shape[-1]
        self.register_buffer("in_index", in_index)  # (d * m_in,) positions, component-major
        self.register_buffer("out_index", out_index)  # (d * m_out,) positions, component-major
        self.register_buffer("endo", endo)  # (e, d, d)
        self.weight = nn.Parameter(coeffs.permute(0, 2, 1).reshape(e * m_in, m_out).clone())

    def dense(self, w: torch.Tensor) -> torch.Tensor:
        """Write this block into the irrep-basis matrix w (out, in): entry (a, j; b, i) = sum_k c_kji E_k[a, b]."""
        c = self.weight.view(self.e, self.m_in, self.m_out)
        block = torch.einsum("kio,kab->aobi", c, self.endo).reshape(self.d * self.m_out, self.d * self.m_in)
        rows = self.out_index.unsqueeze(1).expand(-1, self.d * self.m_in)
        cols = self.in_index.unsqueeze(0).expand(self.d * self.m_out, -1)
        return w.index_put((rows, cols), block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        xi = x.index_select(1, self.in_index).view(b, self.d, self.m_in)
        if self.e > 1:
            # E_k acts on the irrep component axis; stack the e images along the copy axis
            xi = torch.matmul(self.endo.unsqueeze(0), xi.unsqueeze(1)).permute(0, 2, 1, 3).reshape(b, self.d, self.e * self.m_in)
        return torch.matmul(xi, self.weight).reshape(b, self.d * self.m_out)


class BlockLinear(nn.Module):
    """An equivariant linear layer whose only parameters are Schur coefficients.

    ``per_block`` runs it block by block (fewer multiply-adds when the layer has many irreps); otherwise it
    assembles the dense matrix from the coefficients on every call (a cost independent of the batch) and
    runs one GEMM, which is faster when the blocks are too small to keep a CPU busy."""

    def __init__(self, q_in: Optional[torch.Tensor], q_out: Optional[torch.Tensor], blocks: list[IrrepBlock],
                 out_index: torch.Tensor, bias_index: torch.Tensor, bias: torch.Tensor, out_dim: int, per_block: bool = True) -> None:
        super().__init__()
        self.per_block = per_block
        self.has_q_in, self.has_q_out = q_in is not None, q_out is not None
        self.register_buffer("q_in", q_in if q_in is not None else torch.zeros(0))
        self.register_buffer("q_out", q_out if q_out is not None else torch.zeros(0))
        self.blocks = nn.ModuleList(blocks)
        self.register_buffer("out_index", out_index)  # irrep-basis position of each concatenated block output
        self.register_buffer("bias_index", bias_index)
        self.bias = nn.Parameter(bias.clone())
        self.out_dim = out_dim

    def dense(self, in_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, b) with y = x @ W.T + b in the fields' own bases."""
        w = self.bias.new_zeros(self.out_dim, in_dim)
        for block in self.blocks:
            w = block.dense(w)
        b = self.bias.new_zeros(self.out_dim).index_add(0, self.bias_index, self.bias)
        if self.has_q_in:
            w = torch.matmul(w, self.q_in.t())
        if self.has_q_out:
            w = torch.matmul(self.q_out.t(), w)
            b = torch.matmul(b, self.q_out)
        return w, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.per_block:
            w, b = self.dense(x.shape[1])
            return torch.nn.functional.linear(x, w, b)
        if self.has_q_in:
            x = torch.matmul(x, self.q_in)
        parts = [block(x) for block in self.blocks]
        y = x.new_zeros(x.shape[0], self.out_dim)
        if len(parts) > 0:
            y = y.index_copy(1, self.out_index, torch.cat(parts, dim=1))
        if self.bias_index.numel() > 0:
            y = y.index_add(1, self.bias_index, self.bias.unsqueeze(0).expand(x.shape[0], -1))
        if self.has_q_out:
            y = torch.matmul(y, self.q_out)
        return y


def irrep_layout(field_type) -> tuple[Optional[np.ndarray], Optional[np.ndarray], list[tuple[tuple, int, int]]]:
    """(Q^-1 applied to the right of row vectors, Q likewise, [(irrep id, start, dim)]) in irrep basis.

    Q is None where the basis is already irrep-adapted (the identity)."""
    q_blocks, qinv_blocks, irreps = [], [], []
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


def _block_diag(blocks: list[np.ndarray]) -> np.ndarray:
    n = sum(b.shape[0] for b in blocks)
    out = np.zeros((n, n))
    i = 0
    for b in blocks:
        out[i:i + b.shape[0], i:i + b.shape[0]] = b
        i += b.shape[0]
    return out


def compile_linear(linear, dtype: torch.dtype) -> BlockLinear:
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
    blocks, out_positions = [], []
    for irrep_id in _ordered_ids(irr_in, irr_out):
        ins = [(s, d) for i, s, d in irr_in if i == irrep_id]
        outs = [(s, d) for i, s, d in irr_out if i == irrep_id]
        endo = group.irrep(*irrep_id).endomorphism_basis()
        coeffs = _schur_coefficients(w_irr, ins, outs, endo)
        d = ins[0][1]
        in_index = torch.tensor([s + k for k in range(d) for s, _ in ins], dtype=torch.long)
        out_index = [s + k for k in range(d) for s, _ in outs]
        blocks.append(IrrepBlock(in_index, torch.tensor(out_index, dtype=torch.long), torch.tensor(coeffs, dtype=dtype), torch.tensor(endo, dtype=dtype)))
        out_positions += out_index
    trivial = group.trivial_representation.id
    bias_pos = [s for i, s, _ in irr_out if i == trivial]
    block_work = sum(b.d * b.m_in * b.m_out * b.e for b in blocks)
    return BlockLinear(
        _tensor(qin_r, dtype), _tensor(qout_r, dtype), blocks, torch.tensor(out_positions, dtype=torch.long),
        torch.tensor(bias_pos, dtype=torch.long), torch.tensor(b_irr[bias_pos], dtype=dtype), linear.out_type.size,
        per_block=block_work * PER_BLOCK_ADVANTAGE < w.size,
    )


#: run per block only when it saves at least this factor of multiply-adds over one dense GEMM: gathering
#: and scattering small blocks costs more than the arithmetic it saves on a CPU
PER_BLOCK_ADVANTAGE = 8


def _tensor(a: Optional[np.ndarray], dtype: torch.dtype) -> Optional[torch.Tensor]:
    return None if a is None else torch.tensor(a, dtype=dtype)


def _to_irrep_basis(w: np.ndarray, in_type, out_type) -> np.ndarray:
    q_in = _block_diag([r.change_of_basis for r in in_type.representations])
    qinv_out = _block_diag([r.change_of_basis_inv for r in out_type.representations])
    return qinv_out @ w @ q_in


def _bias_to_irrep(b: np.ndarray, out_type) -> np.ndarray:
    return _block_diag([r.change_of_basis_inv for r in out_type.representations]) @ b


def _ordered_ids(irr_in: list, irr_out: list) -> list[tuple]:
    shared = {i for i, _, _ in irr_in} & {i for i, _, _ in irr_out}
    return [i for i in dict.fromkeys(x for x, _, _ in irr_out) if i in shared]


def _schur_coefficients(w_irr: np.ndarray, ins: list, outs: list, endo: np.ndarray) -> np.ndarray:
    """c[k, j, i] with block(out j, in i) = sum_k c_k E_k; checks that nothing else is there."""
    e, d = endo.shape[0], endo.shape[1]
    norms = np.einsum("kab,kab->k", endo, endo)
    coeffs = np.zeros((e, len(outs), len(ins)))
    for j, (so, _) in enumerate(outs):
        for i, (si, _) in enumerate(ins):
            block = w_irr[so:so + d, si:si + d]
            c = np.einsum("kab,ab->k", endo, block) / norms
            residual = np.abs(block - np.einsum("k,kab->ab", c, endo)).max()
            if residual > 1e-5 * max(1.0, np.abs(block).max()):
                raise ValueError(f"block is not in End(psi): residual {residual:.2e}")
            coeffs[:, j, i] = c
    return coeffs
