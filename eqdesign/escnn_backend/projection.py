"""The exact float64 projection of escnn's sampled bases onto the intertwiners (a Haar average).

escnn samples its bases in float32 (changes of basis and Clebsch-Gordan coefficients are rounded), so a
float64 model is only equivariant to about 1e-8 (tensor products, regular fields); after the projection
the exactly equivariant layers are exact to rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..theory.group import FloatArray, Group
from .compat import BlocksBasisExpansion, basis_blocks, enn
from .families import Elements, HaarKey, family
from .modules import BiasOnly


class HaarAverage:
    """B -> the Haar average of g -> rho_out(g) B rho_in(g)^T, exact for the representations involved.

    The family supplies a chain of finite averages (every element of a finite group; a finite subgroup of a
    circle group; the ZYZ Euler product rule factor by factor on SO(3)/O(3)), each exact below the degree m
    that the two representations need."""

    def __init__(self, G: Any, group: Group) -> None:
        self.G, self.family = G, family(group)
        self._mats: dict[tuple[int, str, HaarKey], FloatArray] = {}  # (id(rep), rep.name, key) -> matrices
        self._elements: dict[HaarKey, Elements] = {}

    def freq(self, rep: Any) -> int:
        return max((self.family.freq(tuple(irr)) for irr in rep.irreps), default=0)

    def __call__(self, rep_out: Any, rep_in: Any, B: FloatArray) -> FloatArray:
        """B: (k, out, in) -> its projection onto the intertwiners."""
        m = self.freq(rep_out) + self.freq(rep_in) + 1
        for key, weights in self.family.haar_steps(m):
            B = self._average(key, weights, rep_out, rep_in, B)
        return B

    def _average(self, key: HaarKey, weights: FloatArray | None, rep_out: Any, rep_in: Any, B: FloatArray) -> FloatArray:
        Ro, Ri = self._matrices(rep_out, key), self._matrices(rep_in, key)
        w = np.full(len(Ro), 1.0 / len(Ro)) if weights is None else weights
        # one pair of matrix products per element: einsum contracted this as a six-index loop (|G| k n^4),
        # which never finished on full_ico's regular fields
        averaged: FloatArray = np.zeros_like(B)
        for wg, ro, ri in zip(w, Ro, Ri, strict=True):
            averaged += wg * (ro @ B @ ri.T)
        return averaged

    def _matrices(self, rep: Any, key: HaarKey) -> FloatArray:
        cache_key = (id(rep), rep.name, key)
        if cache_key not in self._mats:
            if key not in self._elements:
                self._elements[key] = self.family.haar_elements(self.G, key)
            self._mats[cache_key] = np.stack([np.asarray(rep(g), dtype=float) for g in self._elements[key]])
        return self._mats[cache_key]


@torch.no_grad()
def exact_bases(model: torch.nn.Module, G: Any, group: Group) -> None:
    """Project every sampled basis (and bias direction) of the model onto the exact intertwiners, in float64."""
    average = HaarAverage(G, group)
    for mod in model.modules():
        if isinstance(mod, BlocksBasisExpansion):
            _project_blocks(mod, average)
        if isinstance(mod, (enn.Linear, BiasOnly)) and getattr(mod, "bias_expansion", None) is not None:
            E = mod.bias_expansion.detach().to(torch.float64).numpy()  # (out, trivials)
            trivial = mod.out_type.fibergroup.trivial_representation
            Ep = average(mod.out_type.representation, trivial, E.T[:, :, None])[:, :, 0].T
            mod.bias_expansion = torch.tensor(Ep, dtype=mod.bias_expansion.dtype)


def _project_blocks(mod: Any, average: HaarAverage) -> None:
    for rep_in, rep_out, block in basis_blocks(mod):
        B = block.sampled_basis.detach().to(torch.float64).numpy()  # (k, out, in, points)
        Bp = np.stack([average(rep_out, rep_in, B[..., p]) for p in range(B.shape[-1])], axis=-1)
        block.sampled_basis = torch.tensor(Bp, dtype=block.sampled_basis.dtype)
