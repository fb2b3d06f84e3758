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
#: rows of each set, and the seed each is drawn from (the sets share no rows)
SETS = {"train": (2000, 1), "test": (1000, 2)}


def dipole_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    positions = rng.normal(size=(rows, CHARGES, 3))
    charges = rng.uniform(-1, 1, size=(rows, CHARGES))
    dipole = np.einsum("nc,ncd->nd", charges, positions)
    x = np.concatenate([positions.reshape(rows, -1), charges], axis=1)
    return x.astype(np.float32), dipole.astype(np.float32)


def main(folder: str) -> None:
    Path(folder).mkdir(parents=True, exist_ok=True)
    for name, (rows, seed) in SETS.items():
        x, y = dipole_data(rows, seed)
        np.savez(Path(folder) / f"{name}.npz", x=x, y=y)
        print(f"wrote {folder}/{name}.npz: x {x.shape}, y {y.shape}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data")
