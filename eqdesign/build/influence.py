"""Measured influence: which input irreps each output irrep of a built escnn model really depends on.

For generic random parameters (several draws, biases included) and random inputs at several scales, the
Jacobian d out / d in is split into blocks (output irrep c, input irrep psi), every copy of an irrep taken
together, in the irrep coordinates of the input and output types. A block counts as a dependence when its
largest Frobenius norm, relative to the largest norm of the whole Jacobian (or to an absolute floor, for
models whose output is constant), exceeds a threshold.

Fourier layers on continuous groups sample on a finite grid and are only approximately equivariant, so
blocks no exactly equivariant map could have still receive a small "leak" (ESCNN-NOTES.md). For such
designs the model is rebuilt, with the same parameters, on grids several times finer: a leak shrinks by
a clear factor, a genuine dependence does not.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch

from ..analysis.design import Design
from .escnn_model import EscnnModel, build_escnn

DEFAULT_THRESHOLD = 1e-3  # relative block size below which a block is numerically absent
DEFAULT_SHRINK = 4.0  # a block that shrinks by more than this factor on the finer grid is a leak
DEFAULT_SCALES = (0.3, 1.0, 3.0)
#: Jacobian norms are measured relative to max(|J|, ABSOLUTE_FLOOR): a model whose output is identically zero
#: (or constant) has a Jacobian of rounding noise (~1e-16) that must not count as a dependence. With escnn's
#: He-initialised weights and unit biases, genuine Jacobians are many orders of magnitude above the floor.
ABSOLUTE_FLOOR = 1e-9
#: per parameter draw (cycled), the mean log-bias of norm nonlinearities: thresholds from about 0.4 down to
#: 0.002, so that small genuine signals pass a norm-ReLU in some draw (a cubic invariant out of a Fourier
#: layer can be ~1e-2 where the default threshold ~1 would cut it off for every input)
NORM_LOG_BIAS_MEANS = (-1.0, -3.0, -6.0)


@dataclass
class Block:
    output: str
    input: str
    rel: float  # max over samples of |J_block| / max |J|, on the design's grid
    rel_refined: Optional[float] = None  # |J_block| on the finer grid, over the same scale (approximate designs only)
    genuine: bool = False

    @property
    def shrink(self) -> Optional[float]:
        """How many times smaller the block is on the finer grid (None without refinement)."""
        if self.rel_refined is None:
            return None
        if self.rel_refined > 0:
            return self.rel / self.rel_refined
        return float("inf") if self.rel > 0 else 1.0


@dataclass
class Measurement:
    influence: dict[str, list[str]]  # output irrep -> input irreps it depends on (the genuine blocks)
    blocks: list[Block] = field(default_factory=list)
    refined: bool = False  # whether a finer-grid model was used to tell leaks from dependencies
    threshold: float = DEFAULT_THRESHOLD

    def block(self, output: str, input: str) -> Block:
        return next(b for b in self.blocks if b.output == output and b.input == input)

    def leaks(self) -> list[Block]:
        """Blocks above the threshold on the design's grid that shrink under refinement."""
        return [b for b in self.blocks if b.rel > self.threshold and not b.genuine]


def approximate(design: Design) -> bool:
    """Does the design have Fourier layers sampled on a grid of a continuous group?"""
    return not design.group.finite and any(nl.kind in ("fourier", "quotient") for nl in design.hidden)


def irrep_bases(ftype, names: dict) -> dict[str, np.ndarray]:
    """Irrep name -> (type size, k) matrix whose columns span that irrep's coordinates (all its copies),
    orthonormal in the field type's coordinates. ``names`` maps escnn irrep ids to our names."""
    rep = ftype.representation
    Q = np.asarray(rep.change_of_basis)
    cols: dict[str, list[int]] = {}
    p = 0
    G = ftype.fibergroup
    for irr in rep.irreps:
        size = G.irrep(*irr).size
        cols.setdefault(names[tuple(irr)], []).extend(range(p, p + size))
        p += size
    out = {}
    for name, idx in cols.items():
        basis, _ = np.linalg.qr(Q[:, idx])
        out[name] = basis
    return out


def _names(design: Design) -> dict:
    c = design.input.content() + design.output.content()
    return {tuple(i.eid): i.name for i in c}


def jacobians(model: EscnnModel, x: torch.Tensor) -> torch.Tensor:
    """(batch, out, in) Jacobians of the model at every row of x (rows are independent)."""
    x = x.detach().clone().requires_grad_(True)
    y = model(x)
    n_out = y.shape[1]
    if not y.requires_grad or n_out == 0:  # the output does not depend on the input (a bias-only last layer)
        return x.new_zeros(x.shape[0], n_out, x.shape[1])
    seeds = torch.eye(n_out, dtype=y.dtype).unsqueeze(1).expand(n_out, *y.shape)
    try:
        (g,) = torch.autograd.grad(y, x, grad_outputs=seeds, is_grads_batched=True, allow_unused=True)
    except RuntimeError:  # an operation without a batching rule: one backward pass per output coordinate
        rows = [torch.autograd.grad(y[:, j].sum(), x, retain_graph=True, allow_unused=True)[0] for j in range(n_out)]
        g = torch.stack([torch.zeros_like(x) if r is None else r for r in rows])
    if g is None:
        return x.new_zeros(x.shape[0], n_out, x.shape[1])
    return g.permute(1, 0, 2).detach()


@contextlib.contextmanager
def single_thread():
    """Tiny batches: one torch thread is faster, and much faster on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


@dataclass
class RawMagnitudes:
    """Per (parameter draw, input scale) group: the largest |J_block| of every block and the largest |J|."""

    blocks: dict[tuple[str, str], np.ndarray]
    totals: np.ndarray

    def reference(self) -> np.ndarray:
        return np.maximum(self.totals, ABSOLUTE_FLOOR)

    def relative(self, reference: Optional[np.ndarray] = None) -> dict[tuple[str, str], float]:
        ref = self.reference() if reference is None else reference
        return {k: float((v / ref).max()) if v.size else 0.0 for k, v in self.blocks.items()}


def raw_magnitudes(
    model: EscnnModel,
    seeds: Sequence[int] = (0, 1, 2),
    scales: Sequence[float] = DEFAULT_SCALES,
    samples: int = 24,
    input_seed: int = 1234,
) -> RawMagnitudes:
    """Jacobian block norms of the model, its parameters redrawn from each seed, at random inputs of each scale
    (the same inputs for every model of one design, so two grids can be compared draw by draw)."""
    design = model.design
    names = _names(design)
    out_b = irrep_bases(model.out_type, names)
    in_b = irrep_bases(model.in_type, names)
    dtype = next((p.dtype for p in model.parameters()), torch.float64)
    blocks: dict[tuple[str, str], list[float]] = {(c, psi): [] for c in out_b for psi in in_b}
    totals: list[float] = []
    gen = torch.Generator().manual_seed(input_seed)
    with single_thread():
        for i, seed in enumerate(seeds):
            model.reinitialize(seed, norm_log_bias=(NORM_LOG_BIAS_MEANS[i % len(NORM_LOG_BIAS_MEANS)], 1.0))
            for scale in scales:
                x = scale * torch.randn(samples, model.in_type.size, generator=gen, dtype=torch.float64).to(dtype)
                with torch.enable_grad():
                    J = jacobians(model, x).to(torch.float64).numpy()
                totals.append(float(np.sqrt((J**2).sum(axis=(1, 2))).max()) if J.size else 0.0)
                for c, Pc in out_b.items():
                    for psi, Ppsi in in_b.items():
                        blk = np.einsum("oc,boi,ip->bcp", Pc, J, Ppsi)
                        blocks[(c, psi)].append(float(np.sqrt((blk**2).sum(axis=(1, 2))).max()))
    return RawMagnitudes({k: np.asarray(v) for k, v in blocks.items()}, np.asarray(totals))


def block_magnitudes(model: EscnnModel, **kwargs) -> dict[tuple[str, str], float]:
    """(output irrep, input irrep) -> max over draws, scales and inputs of |J_block| / max |J| (per draw and
    scale, with the absolute floor)."""
    return raw_magnitudes(model, **kwargs).relative()


def measure_influence(
    design: Design,
    seeds: Sequence[int] = (0, 1, 2),
    scales: Sequence[float] = DEFAULT_SCALES,
    samples: int = 24,
    threshold: float = DEFAULT_THRESHOLD,
    refinement: int = 2,
    shrink: float = DEFAULT_SHRINK,
    model: Optional[EscnnModel] = None,
) -> Measurement:
    """Build the design with escnn (float64, generic random parameters) and measure its influence.

    A block is genuine when it exceeds ``threshold`` relative to the whole Jacobian and, for designs with
    Fourier layers on a continuous group, it still does on grids ``refinement`` times finer without
    shrinking by more than ``shrink``."""
    model = model or build_escnn(design, torch.float64)
    coarse = raw_magnitudes(model, seeds, scales, samples)
    reference = coarse.reference()
    rel = coarse.relative(reference)
    refined = None
    if approximate(design):
        # the finer model is measured against the design grid's scale: where every output is a leak, the
        # leak shrinks in absolute terms while its share of the (equally leaky) Jacobian would not
        fine = build_escnn(design, torch.float64, grid_refinement=refinement)
        refined = raw_magnitudes(fine, seeds, scales, samples).relative(reference)
    blocks = []
    for (c, psi), r in rel.items():
        b = Block(c, psi, r, None if refined is None else refined[(c, psi)])
        if refined is None:
            b.genuine = r > threshold
        else:
            rf = refined[(c, psi)]
            b.genuine = rf > threshold and rf * shrink > r
        blocks.append(b)
    influence: dict[str, list[str]] = {}
    out_names = [i.name for i in sorted(design.output.content(), key=lambda i: (i.freq, repr(i.eid)))]
    for c in out_names:
        influence[c] = sorted(b.input for b in blocks if b.output == c and b.genuine)
    return Measurement(influence, blocks, refined is not None, threshold)
