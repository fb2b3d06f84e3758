"""Data for the angular-momentum example: three particles with positions r_i and velocities v_i ~ N(0, 1) in
3D and masses m_i ~ U(0.5, 2); the target is the angular momentum L = sum_i m_i r_i x v_i, a pseudovector.

Columns in the layout's order (input "6x1o + 3x0e"): x = r_1 .. r_3, v_1 .. v_3 (x, y, z each), then
m_1 .. m_3; y = L.

    python examples/angular_momentum/generate.py examples/angular_momentum/data
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

PARTICLES = 3


def angular_momentum_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    positions = rng.normal(size=(rows, PARTICLES, 3))
    velocities = rng.normal(size=(rows, PARTICLES, 3))
    masses = rng.uniform(0.5, 2, size=(rows, PARTICLES))
    momentum = np.einsum("np,npd->nd", masses, np.cross(positions, velocities))
    x = np.concatenate([positions.reshape(rows, -1), velocities.reshape(rows, -1), masses], axis=1)
    return x.astype(np.float32), momentum.astype(np.float32)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/sets.py
    from sets import main

    main(angular_momentum_data)
