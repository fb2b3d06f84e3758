"""The polynomial activations of exactly equivariant Fourier layers.

A degree-p polynomial maps a band-L signal into band pL, so a quadrature exact to degree (p + 1) L
projects it back with no aliasing at all: the layer is exactly equivariant. The polynomial used is the
least-squares fit of ELU on [-FIT_RANGE, FIT_RANGE] (uniform weight), so it behaves like the ELU of the
other Fourier layers on inputs of about unit scale, and grows like x^p beyond that range.
"""

from __future__ import annotations

import numpy as np

from .quadrature import gauss_legendre

#: the range the polynomial follows ELU on
FIT_RANGE = 3.0


def elu_fit(degree: int) -> tuple[float, ...]:
    """Monomial coefficients (constant first) of the degree-``degree`` least-squares fit of ELU."""
    nodes, weights = gauss_legendre(64)
    x = FIT_RANGE * nodes
    y = np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))
    V = np.vander(x, degree + 1, increasing=True) * np.sqrt(weights)[:, None]
    coeffs, *_ = np.linalg.lstsq(V, y * np.sqrt(weights), rcond=None)
    return tuple(float(c) for c in coeffs)
