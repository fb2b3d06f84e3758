"""Where eqdesign keeps its caches: ``EQDESIGN_CACHE_DIR``, else the user cache folder.

escnn writes its joblib caches (Clebsch-Gordan coefficients, polyhedral irreps, Thomson grids) into its
own package folder by default; eqdesign sends them here instead, so a read-only install works and CI can
cache one folder.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    explicit = os.environ.get("EQDESIGN_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "eqdesign"


def escnn_cache_dir() -> Path:
    return cache_dir() / "escnn"
