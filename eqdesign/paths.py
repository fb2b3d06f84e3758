"""Where eqdesign keeps its caches: ``EQDESIGN_CACHE_DIR``, else the user cache folder.

escnn writes its joblib caches (Clebsch-Gordan coefficients, polyhedral irreps, Thomson grids) into its
own package folder by default; eqdesign sends them here instead, so a read-only install works and CI can
cache one folder.

The cache only saves time: a folder that cannot be used (a file stands there, the disk is full, it is
read-only as a restored CI cache can be) is recorded here as a fault, the work goes on without it, and the
command line warns once at the end (``cache_faults``).
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


_FAULTS: dict[str, str] = {}  # reason -> its first message: each kind of fault is reported once


def cache_fault(err: OSError) -> None:
    """Record that the cache folder could not be used (the caller goes on without it)."""
    reason = (err.strerror or str(err)).lower()
    where = f" ({err.filename})" if err.filename else ""
    _FAULTS.setdefault(reason, f"the cache folder {cache_dir()} cannot be used: {reason}{where}")


def cache_faults() -> list[str]:
    """What went wrong with the cache folder in this process, each kind of fault once, in order."""
    return list(_FAULTS.values())


def cache_dir_problem() -> str | None:
    """Why the cache folder cannot be one (a file stands on its path, or the system refuses the path), or None."""
    try:
        for folder in (cache_dir(), *cache_dir().parents):
            if folder.exists() or folder.is_symlink():
                return None if folder.is_dir() else f"{folder} is not a folder"
    except OSError as err:  # a name too long, say
        return (err.strerror or str(err)).lower()
    return None
