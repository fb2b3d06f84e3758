"""Fourier sampling shared by every group family: the sampling matrix of a grid and the transform back.

A Fourier layer maps a channel's coefficients to samples on a grid (A), applies the activation pointwise,
and projects back (Ainv). escnn computes both in the default dtype (float32 here); eqdesign recomputes
them in float64, with quadrature weights where the grid has them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..theory.group import FloatArray
from .compat import attached_kernel


def sampling_matrix(module: Any, elements: list[Any]) -> FloatArray:
    """Rows rho(g) k of an escnn Fourier module (k its normalized kernel) for the given group elements."""
    kernel = attached_kernel(module)
    return np.stack([(module.rho(g) @ kernel).reshape(-1) for g in elements], axis=0)


def set_fourier_sampling(module: Any, A: FloatArray, weights: FloatArray | None = None) -> None:
    """Replace the sampling (A) and the least-squares transform (Ainv) of an escnn Fourier module, in float64.

    Without weights, Ainv is escnn's own formula, inv(A^T A + 1e-8 I) A^T; with quadrature weights W it is
    the weighted least squares inv(A^T W A) A^T W."""
    if weights is None:
        M, AtW, ridge = A.T @ A, A.T, 1e-8
    else:
        AtW = A.T * np.asarray(weights, dtype=float)
        M = AtW @ A
        ridge = 1e-14 * np.trace(M) / M.shape[0]
    Ainv = np.linalg.solve(M + ridge * np.eye(M.shape[0]), AtW)
    module.A = torch.tensor(A, dtype=torch.float64)
    module.Ainv = torch.tensor(Ainv, dtype=torch.float64)


def normalized_kernel(kernel: FloatArray) -> FloatArray:
    column: FloatArray = (kernel / np.linalg.norm(kernel)).reshape(-1, 1)
    return column
