"""Data for the dipole example: four point charges, positions r_i ~ N(0, 1) in 3D and charges q_i ~ U(-1, 1);
the target is the dipole moment p = sum_i q_i r_i.

Columns in the layout's order (input "4x1o + 4x0e"): x = r_1 .. r_4 (x, y, z each), then q_1 .. q_4; y = p.

    python examples/dipole/generate.py examples/dipole/data
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

CHARGES = 4


def dipole_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    positions = rng.normal(size=(rows, CHARGES, 3))
    charges = rng.uniform(-1, 1, size=(rows, CHARGES))
    dipole = np.einsum("nc,ncd->nd", charges, positions)
    x = np.concatenate([positions.reshape(rows, -1), charges], axis=1)
    return x.astype(np.float32), dipole.astype(np.float32)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/sets.py
    from sets import main

    main(dipole_data)
