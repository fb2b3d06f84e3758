"""Measured influence per parity sector: the hidden inversion of SO(3) networks, checked on a built model.

An SO(3) output f splits under the inversion P (each input irrep times its declared parity, natural when
none is declared) into f_even(x) = (f(x) + S f(Px)) / 2 and f_odd(x) = (f(x) - S f(Px)) / 2, S multiplying
each output irrep of degree l by (-1)^l: the natural and the unnatural sector of every output at once. Each
is a model of its own, so the influence measurement applies to it unchanged; a sector that no choice of
weights can reach measures zero to rounding, on every input.
"""

from __future__ import annotations

import numpy as np
import torch

from ..analysis.design import Design
from ..analysis.parity import Lift, lifted_design
from ..theory.group import FloatArray
from .influence import Subject, measure_influence


def _signs(bases: dict[str, FloatArray], parity: dict[str, int], dim: int) -> FloatArray:
    """The diagonal-in-irreps map multiplying each irrep's coordinates by its parity."""
    out = np.zeros((dim, dim))
    for name, basis in bases.items():
        out += parity[name] * basis @ basis.T
    return out


class SectorSubject:
    """One parity sector of a subject's outputs: ``natural`` (each degree-l output of parity (-1)^l) or not."""

    def __init__(self, subject: Subject, design: Design, lift: Lift, natural: bool) -> None:
        self.subject, self.in_dim, self.dtype = subject, subject.in_dim, subject.dtype
        self.in_bases, self.out_bases = subject.in_bases, subject.out_bases
        source = lifted_design(design, lift).input.content()
        inputs = {lift.down(i).name: lift.parity(i) for i in source}
        if len(inputs) < len(source):
            raise ValueError("an input irrep is declared with both parities: its sectors cannot be told apart by irrep")
        outputs = {c.name: (-1) ** c.freq for c in design.output.content()}
        out_dim = sum(b.shape[0] for b in list(subject.out_bases.values())[:1])
        self.p_in = torch.tensor(_signs(subject.in_bases, inputs, self.in_dim), dtype=self.dtype)
        self.s_out = torch.tensor(_signs(subject.out_bases, outputs, out_dim), dtype=self.dtype)
        self.sign = 1.0 if natural else -1.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        mirrored = self.subject(x @ self.p_in.T) @ self.s_out.T
        return (self.subject(x) + self.sign * mirrored) / 2

    def redraw(self, seed: int, norm_log_bias_mean: float, bias_scale: float, norm_scale: float) -> None:
        self.subject.redraw(seed, norm_log_bias_mean, bias_scale, norm_scale)


def measure_sectors(design: Design, lift: Lift, subject: Subject, refined: Subject | None = None) -> dict[str, dict[str, list[str]]]:
    """Measured influence of each sector (``natural``, ``unnatural``): output irrep -> input irreps."""
    out = {}
    for natural, name in ((True, "natural"), (False, "unnatural")):
        fine = None if refined is None else SectorSubject(refined, design, lift, natural)
        out[name] = measure_influence(design, SectorSubject(subject, design, lift, natural), fine).influence
    return out
