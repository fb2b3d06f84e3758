"""Measured influence: which input irreps each output irrep of a built model really depends on.

For generic random parameters (several draws, biases included) and random inputs at several scales, the
Jacobian d out / d in is split into blocks (output irrep c, input irrep psi), every copy of an irrep taken
together, in the irrep coordinates of the input and output types. A block counts as a dependence when its
largest Frobenius norm, relative to the largest norm of the whole Jacobian (or to an absolute floor, for
models whose output is constant), exceeds a threshold.

Fourier layers on continuous groups sample on a finite grid and are only approximately equivariant, so
blocks no exactly equivariant map could have still receive a small "leak". For such designs the same
model on grids several times finer is measured too: a leak shrinks by a clear factor, a genuine
dependence does not. The model comes in as a Subject, so nothing here needs escnn.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from ..analysis.design import Design
from ..theory.group import FloatArray
from .tolerances import ABSOLUTE_FLOOR, INFLUENCE_SHRINK, INFLUENCE_THRESHOLD

#: high-degree invariants (a degree-9 pseudoscalar, say) only rise above the threshold at larger inputs
DEFAULT_SCALES = (0.3, 1.0, 3.0, 10.0)
#: per parameter draw (cycled), the mean log-bias of norm nonlinearities: thresholds from about 0.4 down to
#: 0.002, so that small genuine signals pass a norm-ReLU in some draw (a cubic invariant out of a Fourier
#: layer can be ~1e-2 where the default threshold ~1 would cut it off for every input)
NORM_LOG_BIAS_MEANS = (-1.0, -3.0, -6.0, -6.0)
#: per parameter draw (cycled), the scale of every bias. Unit biases make a pointwise activation generic (a
#: ReLU of a biased signal has terms of every degree: a cubic invariant needs them), but they can also hold a
#: ReLU shut for every input when the signal reaching it is small (a squared vector after a tensor product);
#: the last draw lets such small signals decide the ReLU's state
BIAS_SCALES = (1.0, 1.0, 1.0, 0.01)
#: per parameter draw (cycled), the scale of normalization weights. A normalized field has about unit size
#: whatever the input's scale, so the input scales alone never lift a high-degree invariant after a
#: normalization above the threshold (a degree-9 pseudoscalar behind a layer norm, say): its weights do
NORM_SCALES = (1.0, 10.0, 3.0, 1.0)
SEEDS = (0, 1, 2, 3)


@dataclass
class Block:
    output: str
    input: str
    rel: float  # max over samples of |J_block| / max |J|, on the design's grid
    rel_refined: float | None = None  # |J_block| on the finer grid, over the same scale (approximate designs only)
    genuine: bool = False

    @property
    def shrink(self) -> float | None:
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
    threshold: float = INFLUENCE_THRESHOLD

    def block(self, output: str, input: str) -> Block:
        return next(b for b in self.blocks if b.output == output and b.input == input)

    def leaks(self) -> list[Block]:
        """Blocks above the threshold on the design's grid that shrink under refinement."""
        return [b for b in self.blocks if b.rel > self.threshold and not b.genuine]


def approximate(design: Design) -> bool:
    """Does the design have Fourier layers sampled on a grid of a continuous group?"""
    return not design.group.finite and any(nl.kind in ("fourier", "quotient") for nl in design.hidden)


def jacobians(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
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
def single_thread() -> Iterator[None]:
    """Tiny batches: one torch thread is faster, and much faster on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


class Subject(Protocol):
    """What influence is measured on: a model, the irrep bases of its ends, and a way to redraw parameters."""

    in_dim: int
    dtype: torch.dtype
    out_bases: dict[str, FloatArray]  # irrep name -> (out dim, k) orthonormal columns of all its copies
    in_bases: dict[str, FloatArray]

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...

    def redraw(self, seed: int, norm_log_bias_mean: float, bias_scale: float, norm_scale: float) -> None: ...


@dataclass
class RawMagnitudes:
    """Per (parameter draw, input scale) group: the largest |J_block| of every block and the largest |J|."""

    blocks: dict[tuple[str, str], FloatArray]
    totals: FloatArray

    def reference(self) -> FloatArray:
        return np.maximum(self.totals, ABSOLUTE_FLOOR)

    def relative(self, reference: FloatArray | None = None) -> dict[tuple[str, str], float]:
        ref = self.reference() if reference is None else reference
        return {k: float((v / ref).max()) if v.size else 0.0 for k, v in self.blocks.items()}


def raw_magnitudes(
    subject: Subject, seeds: Sequence[int] = SEEDS, scales: Sequence[float] = DEFAULT_SCALES, samples: int = 24, input_seed: int = 1234
) -> RawMagnitudes:
    """Jacobian block norms of the subject, its parameters redrawn from each seed, at random inputs of each
    scale (the same inputs for every subject of one design, so two grids can be compared draw by draw)."""
    blocks: dict[tuple[str, str], list[float]] = {(c, psi): [] for c in subject.out_bases for psi in subject.in_bases}
    totals: list[float] = []
    gen = torch.Generator().manual_seed(input_seed)
    with single_thread():
        for i, seed in enumerate(seeds):
            draw = (NORM_LOG_BIAS_MEANS, BIAS_SCALES, NORM_SCALES)
            subject.redraw(seed, *(values[i % len(values)] for values in draw))
            for scale in scales:
                x = scale * torch.randn(samples, subject.in_dim, generator=gen, dtype=torch.float64).to(subject.dtype)
                with torch.enable_grad():
                    J = jacobians(subject, x).to(torch.float64).numpy()
                totals.append(float(np.sqrt((J**2).sum(axis=(1, 2))).max()) if J.size else 0.0)
                _add_blocks(blocks, subject, J)
    return RawMagnitudes({k: np.asarray(v) for k, v in blocks.items()}, np.asarray(totals))


def _add_blocks(blocks: dict[tuple[str, str], list[float]], subject: Subject, J: FloatArray) -> None:
    for c, Pc in subject.out_bases.items():
        for psi, Ppsi in subject.in_bases.items():
            blk = np.einsum("oc,boi,ip->bcp", Pc, J, Ppsi)
            blocks[(c, psi)].append(float(np.sqrt((blk**2).sum(axis=(1, 2))).max()))


def measure_influence(
    design: Design,
    subject: Subject,
    refined: Subject | None = None,
    seeds: Sequence[int] = SEEDS,
    scales: Sequence[float] = DEFAULT_SCALES,
    samples: int = 24,
    threshold: float = INFLUENCE_THRESHOLD,
    shrink: float = INFLUENCE_SHRINK,
) -> Measurement:
    """A block is genuine when it exceeds ``threshold`` relative to the whole Jacobian and, when a refined
    subject (the same model on finer grids) is given, it still does there without shrinking by more than
    ``shrink``. The refined model is measured against the design grid's scale: where every output is a leak,
    the leak shrinks in absolute terms while its share of the (equally leaky) Jacobian would not."""
    coarse = raw_magnitudes(subject, seeds, scales, samples)
    reference = coarse.reference()
    rel = coarse.relative(reference)
    fine = None if refined is None else raw_magnitudes(refined, seeds, scales, samples).relative(reference)
    blocks = [_judge_block(c, psi, r, None if fine is None else fine[(c, psi)], threshold, shrink) for (c, psi), r in rel.items()]
    out_names = [i.name for i in sorted(design.output.content(), key=lambda i: (i.freq, repr(i.eid)))]
    influence = {c: sorted(b.input for b in blocks if b.output == c and b.genuine) for c in out_names}
    return Measurement(influence, blocks, fine is not None, threshold)


def _judge_block(c: str, psi: str, rel: float, refined: float | None, threshold: float, shrink: float) -> Block:
    genuine = rel > threshold if refined is None else (refined > threshold and refined * shrink > rel)
    return Block(c, psi, rel, refined, genuine)
