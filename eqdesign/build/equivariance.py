"""Equivariance of a built model on random group elements (never only a finite subgroup: THEORY.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .escnn_model import EscnnModel

#: outputs smaller than this (an identically zero output's rounding noise) are compared with it instead
ABSOLUTE_FLOOR = 1e-9


@dataclass(frozen=True)
class EquivarianceError:
    element: str
    scale: float
    rel: float  # max over the batch of |f(g x) - g f(x)| / |f(x)|, with |f(x)| taken over the whole batch


def random_elements(model: EscnnModel, n: int, seed: int = 0) -> list:
    """n random elements of the model's group (uniform for compact groups; any element for finite ones)."""
    G = model.G
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        return [G.sample() for _ in range(n)]
    finally:
        np.random.set_state(state)


@torch.no_grad()
def equivariance_errors(
    model: EscnnModel,
    elements: int = 8,
    scales: Sequence[float] = (0.1, 1.0, 10.0),
    samples: int = 16,
    seed: int = 0,
) -> list[EquivarianceError]:
    """Relative equivariance error of the model's forward, per group element and input scale."""
    dtype = next((p.dtype for p in model.parameters()), torch.float64)
    gen = torch.Generator().manual_seed(seed)
    out: list[EquivarianceError] = []
    for g in random_elements(model, elements, seed):
        rin = torch.tensor(model.input_matrix(g), dtype=dtype)
        rout = torch.tensor(model.output_matrix(g), dtype=dtype)
        for scale in scales:
            x = scale * torch.randn(samples, model.in_type.size, generator=gen, dtype=torch.float64).to(dtype)
            y = model(x)
            diff = model(x @ rin.T) - y @ rout.T
            ref = max(float(y.norm(dim=1).max()), ABSOLUTE_FLOOR)
            rel = float(diff.norm(dim=1).max()) / ref
            out.append(EquivarianceError(str(g), scale, rel))
    return out


def max_equivariance_error(model: EscnnModel, **kwargs) -> float:
    return max((e.rel for e in equivariance_errors(model, **kwargs)), default=0.0)
