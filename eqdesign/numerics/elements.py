"""The group elements every equivariance test uses, and representation matrices stacked over them."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
import torch

#: an escnn GroupElement (escnn is untyped)
Element: TypeAlias = Any

#: escnn's fixed testing elements added to the random ones: they hold the discrete generators
#: (inversion, reflections), which random sampling of a continuous group can miss
FIXED_ELEMENTS = 8


def pick_elements(G: Any, samples: int, seed: int) -> list[Element]:
    """Every element of a finite group; else ``samples`` seeded random elements plus the fixed ones."""
    if G.order() > 0:
        return list(G.elements)
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        sampled = [G.sample() for _ in range(samples)]
    finally:
        np.random.set_state(state)
    return sampled + list(itertools.islice(G.testing_elements(), FIXED_ELEMENTS))


def rep_stack(representation: Callable[[Element], Any], elements: list[Element], dtype: torch.dtype) -> torch.Tensor:
    """(elements, d, d): the representation's matrix at every element."""
    return torch.tensor(np.stack([np.asarray(representation(g)) for g in elements]), dtype=dtype)
