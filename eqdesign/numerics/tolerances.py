"""Every numerical threshold eqdesign judges by, in one table."""

from __future__ import annotations

#: what an exactly equivariant layer must reach, by dtype name
EXACT = {"float32": 1e-5, "float64": 1e-12}
#: the compiled float32 module against escnn carrying the same weights (relative)
AGREEMENT = 1e-5
#: relative Jacobian block size below which a block is numerically absent
INFLUENCE_THRESHOLD = 1e-3
#: a block that shrinks by more than this factor on a finer grid is a leak, not a dependence
INFLUENCE_SHRINK = 4.0
#: norms below this are rounding noise of an identically zero (or constant) output; relative errors and
#: Jacobian blocks are measured against max(norm, ABSOLUTE_FLOOR)
ABSOLUTE_FLOOR = 1e-9


def exact_tolerance(dtype_name: str) -> float:
    return EXACT[dtype_name]


def artifact_tolerance(exact: bool, spec_tolerance: float) -> float:
    """What a saved model (it runs in float32) is held to: written by build, re-derived by verify."""
    return exact_tolerance("float32") if exact else spec_tolerance
