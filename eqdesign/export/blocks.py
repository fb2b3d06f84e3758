"""Linear layers per Schur block, in plain torch.

An equivariant linear map in an irrep-adapted basis is block-sparse: between copies of the same irrep psi
each block is sum_k c_k E_k, E_k a basis of End(psi) (1, 2 or 4 matrices), and every other block is zero.
BlockLinear keeps exactly the coefficients c as trainable parameters, so training it with plain PyTorch
can never break equivariance. Features of one irrep are gathered as (batch, dim psi, copies), so each
irrep costs one GEMM of (batch * dim) x copies_in x copies_out.

Field bases that are not irrep-adapted (a permuted vector, the regular representation of a finite group)
get their change of basis applied as a fixed matrix before and after. These modules need torch alone;
``eqdesign.escnn_backend.lower_linear`` fills them from an escnn ``Linear``.
"""

from __future__ import annotations

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
        self.in_index: torch.Tensor
        self.out_index: torch.Tensor
        self.endo: torch.Tensor
        # contiguous: a clone keeps the strides of the permuted view (e = 1), and parameters_to_vector, which
        # flattens every parameter with .view, refused such a weight
        self.weight = nn.Parameter(coeffs.permute(0, 2, 1).reshape(e * m_in, m_out).clone(memory_format=torch.contiguous_format))

    def expansion(self, in_dim: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(parameter index, flat position row * in_dim + col, coefficient) of every nonzero entry this block
        writes into the irrep-basis matrix: entry (a, j; b, i) = sum_k c_kij E_k[a, b], c_kij = weight[k m_in + i, j]."""
        k, a, b = torch.nonzero(self.endo, as_tuple=True)
        i = torch.arange(self.m_in).view(1, -1, 1)
        j = torch.arange(self.m_out).view(1, 1, -1)
        param = ((k.view(-1, 1, 1) * self.m_in + i) * self.m_out + j).reshape(-1)
        rows = self.out_index[(a.view(-1, 1, 1) * self.m_out + j).expand(-1, self.m_in, -1)].reshape(-1)
        cols = self.in_index[(b.view(-1, 1, 1) * self.m_in + i).expand(-1, -1, self.m_out)].reshape(-1)
        coef = self.endo[k, a, b].view(-1, 1, 1).expand(-1, self.m_in, self.m_out).reshape(-1)
        return param, rows * in_dim + cols, coef

    def forward(self, xi: torch.Tensor) -> torch.Tensor:
        """(batch, d * m_in) inputs of this block, component-major -> (batch, d * m_out) outputs. A real irrep
        (e = 1) folds (batch, d) into the rows of one GEMM, which copies xi first, a slice of the features (one
        GEMM per component on the columns as they lie measured the same on one thread and lost on two, where
        each GEMM wakes the second thread)."""
        if self.e == self.d and self.e > 1:
            return torch.mm(xi, self.block_matrix())
        if self.e > 1:
            return self._images(xi)
        return torch.mm(xi.reshape(xi.shape[0] * self.d, self.m_in), self.weight).view(xi.shape[0], self.d * self.m_out)

    def block_matrix(self) -> torch.Tensor:
        """The whole block as one (d m_in, d m_out) matrix, V[(a, i), (k, j)] = sum_e E_e[k, a] c_eij, for a
        complex or quaternionic irrep (e = d): as many multiply-adds per sample as the e images and their GEMM,
        in one GEMM on the columns as they lie (the images ran as b tiny batched products). Formed with
        elementwise products, once per call."""
        endo = self.endo.permute(2, 1, 0).reshape(self.d, 1, self.d, 1, self.e)  # (a, 1, k, 1, e)
        coeffs = self.weight.view(self.e, self.m_in, self.m_out).permute(1, 2, 0).reshape(1, self.m_in, 1, self.m_out, self.e)
        return (endo * coeffs).sum(4).reshape(self.d * self.m_in, self.d * self.m_out)

    def _images(self, xi: torch.Tensor) -> torch.Tensor:
        """1 < e < d: E_k acts on the irrep component axis; the e images stacked along the copy axis, then one
        GEMM over (batch * d) rows (a 3-d matmul on a slice of the features could not fold its first two axes
        and ran as b tiny GEMMs against the weight expanded b times)."""
        b = xi.shape[0]
        xi = xi.view(b, self.d, self.m_in)
        xi = torch.matmul(self.endo.unsqueeze(0), xi.unsqueeze(1)).permute(0, 2, 1, 3)
        rows = xi.reshape(b * self.d, self.e * self.m_in)
        return torch.mm(rows, self.weight).view(b, self.d * self.m_out)

    def with_bias(self, xi: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """A one-dimensional real block (d = e = 1) whose outputs are the layer's biased columns, in order:
        the bias added by the GEMM itself."""
        return torch.addmm(bias, xi, self.weight)


#: the largest (out * in) x coefficients map a dense-form layer keeps (float entries): 4M, 16 MB in float32
MAX_MAP = 4_000_000


class BlockLinear(nn.Module):
    """An equivariant linear layer whose only parameters are Schur coefficients.

    ``per_block`` runs it block by block (fewer multiply-adds when the layer has large blocks of many
    irreps); otherwise every call assembles the dense matrix in one gather-multiply-scatter from the
    coefficients, folds the changes of basis into it, and runs one GEMM: its cost does not grow with the
    batch, and the backward of the assembly is one small scatter. ``lower_linear.choose_per_block`` picks
    the form from a cost model."""

    def __init__(
        self,
        q_in: torch.Tensor | None,
        q_out: torch.Tensor | None,
        blocks: list[IrrepBlock],
        out_index: torch.Tensor,
        bias_index: torch.Tensor,
        bias: torch.Tensor,
        out_dim: int,
        per_block: bool = True,
        in_dim: int | None = None,
    ) -> None:
        super().__init__()
        self.per_block = per_block
        self.has_q_in, self.has_q_out = q_in is not None, q_out is not None
        self.register_buffer("q_in", q_in if q_in is not None else torch.zeros(0))
        self.register_buffer("q_out", q_out if q_out is not None else torch.zeros(0))
        self.blocks = nn.ModuleList(blocks)
        self.register_buffer("out_index", out_index)  # irrep-basis position of each concatenated block output
        self.register_buffer("bias_index", bias_index)
        self.q_in: torch.Tensor
        self.q_out: torch.Tensor
        self.out_index: torch.Tensor
        self.bias_index: torch.Tensor
        self.bias = nn.Parameter(bias.clone())
        self.out_dim = out_dim
        self.in_dim = in_dim if in_dim is not None else _in_dim(q_in, blocks)
        param, position, coef = _expansion(blocks, self.in_dim, bias.dtype)
        self.register_buffer("exp_param", param)
        self.register_buffer("exp_position", position)
        self.register_buffer("exp_coef", coef)
        self.exp_param: torch.Tensor
        self.exp_position: torch.Tensor
        self.exp_coef: torch.Tensor
        # small layers with changes of basis: W and b as fixed linear maps of the coefficients, changes of
        # basis included, so that assembling is one matrix-vector product (each tiny op costs a thread wake-up)
        self.register_buffer("w_map", torch.zeros(0, dtype=bias.dtype))  # (out * in, coefficients) or empty
        self.register_buffer("b_map", torch.zeros(0, dtype=bias.dtype))  # (out, biases) or empty
        self.w_map: torch.Tensor
        self.b_map: torch.Tensor
        count = sum(block.weight.numel() for block in blocks)
        if (self.has_q_in or self.has_q_out) and self.out_dim * self.in_dim * max(count, 1) <= MAX_MAP:
            self.w_map, self.b_map = self._maps()
        # per block: one gather puts every block's inputs side by side, so that each block reads a slice; one
        # gather puts the blocks' outputs in place, reading zeros (one extra column) where no block writes
        self.register_buffer("in_gather", torch.cat([b.in_index for b in blocks]) if blocks else torch.zeros(0, dtype=torch.long))
        self.register_buffer("out_gather", _inverse(out_index, out_dim))
        self.in_gather: torch.Tensor
        self.out_gather: torch.Tensor
        self.widths = [int(b.in_index.numel()) for b in blocks]
        # where the features already come in the blocks' order (export.orders arranges it), the gathers are
        # skipped: the input is split as it is, and the outputs are concatenated in place
        self.gather_in, self.gather_out = True, True
        self.unread, self.unwritten = 0, 0  # trailing columns no block reads / writes (without the gathers)
        self.bias_block = -1  # the block whose GEMM adds the bias (addmm), or -1: added by index
        self._settle()

    def _theta(self) -> torch.Tensor:
        """Every block's coefficients, concatenated in the order of exp_param."""
        flat: list[torch.Tensor] = [self.bias[:0]]
        for block in self.blocks:
            assert isinstance(block, IrrepBlock)  # nn.ModuleList yields plain Modules (TorchScript drops the check)
            flat.append(block.weight.reshape(-1))
        return torch.cat(flat)

    @torch.no_grad()
    def _maps(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The dense form's W and b as matrices applied to the coefficients (basis vectors pushed through)."""
        count = self._theta().numel()
        eye = torch.eye(count, dtype=self.bias.dtype)
        columns = [self._fold(self._scatter(eye[k]), self.bias.new_zeros(self.out_dim))[0].reshape(-1) for k in range(count)]
        w_map = torch.stack(columns, dim=1) if columns else self.bias.new_zeros(self.out_dim * self.in_dim, 0)
        eye_b = torch.eye(self.bias.numel(), dtype=self.bias.dtype)
        b_cols = [
            self._fold(self.bias.new_zeros(self.out_dim, self.in_dim), self._bias_irrep(eye_b[k]))[1] for k in range(self.bias.numel())
        ]
        b_map = torch.stack(b_cols, dim=1) if b_cols else self.bias.new_zeros(self.out_dim, 0)
        return w_map, b_map

    def _scatter(self, theta: torch.Tensor) -> torch.Tensor:
        values = theta.index_select(0, self.exp_param) * self.exp_coef
        return self.bias.new_zeros(self.out_dim * self.in_dim).index_add(0, self.exp_position, values).view(self.out_dim, self.in_dim)

    def _bias_irrep(self, bias: torch.Tensor) -> torch.Tensor:
        return self.bias.new_zeros(self.out_dim).index_add(0, self.bias_index, bias)

    def _fold(self, w: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Irrep-basis (W, b) -> the fields' own bases."""
        if self.has_q_in:
            w = torch.matmul(w, self.q_in.t())
        if self.has_q_out:
            w = torch.matmul(self.q_out.t(), w)
            b = torch.matmul(b, self.q_out)
        return w, b

    def dense(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, b) with y = x @ W.T + b in the fields' own bases, assembled from the coefficients."""
        theta = self._theta()
        if self.w_map.numel() > 0:
            w = torch.mv(self.w_map, theta).view(self.out_dim, self.in_dim)
            return w, torch.mv(self.b_map, self.bias) if self.bias.numel() > 0 else self.bias.new_zeros(self.out_dim)
        return self._fold(self._scatter(theta), self._bias_irrep(self.bias))

    def _per_block(self, x: torch.Tensor) -> torch.Tensor:
        """The blocks' GEMMs: the inputs gathered into the blocks' order unless they come in it, the outputs
        put in place unless the blocks write them in order."""
        b = x.shape[0]
        gathered = x.index_select(1, self.in_gather) if self.gather_in else x
        inputs = torch.split(gathered, self.widths + [self.unread] if self.unread else self.widths, dim=1)
        parts: list[torch.Tensor] = []
        for i, block in enumerate(self.blocks):  # TorchScript takes no zip(strict=)
            assert isinstance(block, IrrepBlock)  # nn.ModuleList yields plain Modules (TorchScript drops the check)
            parts.append(block.with_bias(inputs[i], self.bias) if i == self.bias_block else block(inputs[i]))
        if not self.gather_out:
            if self.unwritten:
                parts.append(x.new_zeros(b, self.unwritten))
            return torch.cat(parts, dim=1)
        parts.append(x.new_zeros(b, 1))
        return torch.cat(parts, dim=1).index_select(1, self.out_gather)

    def reorderable(self, side: str) -> bool:
        """Whether the input ("in") or output ("out") columns can come in another order than the fields'
        (``export.orders``): not where a change of basis, or the maps that fold it in, are written for that order."""
        q = self.has_q_in if side == "in" else self.has_q_out
        return not q and self.w_map.numel() == 0

    def native_order(self, side: str) -> torch.Tensor | None:
        """The column order in which the blocks read their inputs ("in") or write their outputs ("out")
        without a gather, the columns no block touches last; None in dense form (any order costs the same)."""
        if not self.per_block or not self.reorderable(side):
            return None
        used = self.in_gather if side == "in" else self.out_index
        size = self.in_dim if side == "in" else self.out_dim
        rest = torch.ones(size, dtype=torch.bool)
        rest[used] = False
        return torch.cat([used, torch.nonzero(rest).flatten()])

    def read(self, order: torch.Tensor) -> None:
        """Take the input with its column t holding the field column ``order[t]``."""
        inv = torch.argsort(order)
        self.in_gather = inv[self.in_gather]
        self._move_entries(None, inv)

    def write(self, order: torch.Tensor) -> None:
        """Give the output with its column t holding the field column ``order[t]``."""
        inv = torch.argsort(order)
        self.out_gather = self.out_gather[order]
        self.bias_index = inv[self.bias_index]
        self._move_entries(inv, None)

    def _move_entries(self, rows: torch.Tensor | None, cols: torch.Tensor | None) -> None:
        """Move the dense form's entries to the new row (output) or column (input) positions, then settle."""
        row, col = self.exp_position // self.in_dim, self.exp_position % self.in_dim
        self.exp_position = (row if rows is None else rows[row]) * self.in_dim + (col if cols is None else cols[col])
        self._settle()

    def _settle(self) -> None:
        """Which gathers the present orders still need, and whether a block's GEMM can add the bias."""
        n_in, n_out = int(self.in_gather.numel()), sum(_outputs(b) for b in self.blocks)
        self.gather_in = not torch.equal(self.in_gather, torch.arange(n_in))
        self.unread = 0 if self.gather_in else self.in_dim - n_in
        placed = torch.cat([torch.arange(n_out), torch.full((self.out_dim - n_out,), n_out, dtype=torch.long)])
        self.gather_out = not torch.equal(self.out_gather, placed)
        self.unwritten = 0 if self.gather_out else self.out_dim - n_out
        self.bias_block = -1 if self.gather_out else _bias_block(self.blocks, self.bias_index)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.per_block:
            w, b = self.dense()
            return torch.nn.functional.linear(x, w, b)
        if self.has_q_in:
            x = torch.matmul(x, self.q_in)
        y = self._per_block(x)
        if self.bias_index.numel() > 0 and self.bias_block < 0:
            y = y.index_add(1, self.bias_index, self.bias.unsqueeze(0).expand(x.shape[0], -1))
        if self.has_q_out:
            y = torch.matmul(y, self.q_out)
        return y


class DenseLinear(nn.Module):
    """A frozen linear layer, y = x W^T + b: what a BlockLinear becomes in an inference artifact, where
    the parameters can no longer change and assembling them on every call would be wasted."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight.detach().clone().contiguous())
        self.register_buffer("bias", bias.detach().clone())
        self.weight: torch.Tensor
        self.bias: torch.Tensor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(x, self.weight, self.bias)


def _outputs(block: nn.Module) -> int:
    assert isinstance(block, IrrepBlock)
    return int(block.out_index.numel())


def _bias_block(blocks: nn.ModuleList, bias_index: torch.Tensor) -> int:
    """The block whose outputs, concatenated in place, are exactly the biased columns in the bias's order
    (a one-dimensional real irrep: the trivial one), or -1."""
    start = 0
    for i, block in enumerate(blocks):
        assert isinstance(block, IrrepBlock)
        n = _outputs(block)
        if block.d == 1 and block.e == 1 and n == bias_index.numel() > 0 and torch.equal(bias_index, torch.arange(start, start + n)):
            return i
        start += n
    return -1


def _inverse(out_index: torch.Tensor, out_dim: int) -> torch.Tensor:
    """For each output position, where the concatenated block outputs hold it; positions no block writes
    read the zero column after them."""
    inverse = torch.full((out_dim,), int(out_index.numel()), dtype=torch.long)
    inverse[out_index] = torch.arange(out_index.numel())
    return inverse


def _in_dim(q_in: torch.Tensor | None, blocks: list[IrrepBlock]) -> int:
    if q_in is not None:
        return int(q_in.shape[0])
    return max((int(b.in_index.max()) + 1 for b in blocks if b.in_index.numel()), default=0)


def _expansion(blocks: list[IrrepBlock], in_dim: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The whole layer's coefficients -> irrep-basis matrix, as one gather-multiply-scatter."""
    params, positions, coefs = [], [], []
    offset = 0
    for block in blocks:
        param, position, coef = block.expansion(in_dim)
        params.append(param + offset)
        positions.append(position)
        coefs.append(coef.to(dtype))
        offset += block.weight.numel()
    if not params:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=dtype)
    return torch.cat(params), torch.cat(positions), torch.cat(coefs)
