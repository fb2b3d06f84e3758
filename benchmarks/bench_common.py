"""What the benchmarks share besides timing: their error, and reading a spec into its design."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class BenchError(Exception):
    """A benchmark cannot be set up (a missing spec, a spec with errors, a peer that lacks an irrep)."""


def load_design(path: Path) -> Any:
    """The checked design of a spec file; BenchError when the file is missing or check finds no design."""
    from eqdesign.commands.check import check_file

    if not path.is_file():
        raise BenchError(f"{path}: no such spec file")
    res = check_file(path)
    if res.design is None:
        why = res.internal_error or "; ".join(f"{f.rule}: {f.message}" for f in res.findings[:3]) or "spec has errors"
        raise BenchError(f"{path}: no design ({why})")
    return res.design
