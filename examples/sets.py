"""What the examples' data generators share: the sets they write, and writing them.

python examples/EXAMPLE/generate.py FOLDER  ->  FOLDER/train.npz (2000 rows), FOLDER/test.npz (1000 rows)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: rows of each set, and the seed each is drawn from (so the sets share no rows)
SETS = {"train": (2000, 1), "test": (1000, 2)}


def main(make: Callable[[int, int], tuple[np.ndarray, np.ndarray]]) -> None:
    """Write every set that ``make(rows, seed)`` draws into the folder the command line names."""
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "data")
    folder.mkdir(parents=True, exist_ok=True)
    for name, (rows, seed) in SETS.items():
        x, y = make(rows, seed)
        np.savez(folder / f"{name}.npz", x=x, y=y)
        print(f"wrote {folder / name}.npz: x {x.shape}, y {y.shape}")
