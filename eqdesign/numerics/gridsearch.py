"""``grid: auto``: the cheapest weighted rule of each Fourier layer that meets ``tests.tolerance``.

Each auto layer starts from the rule of degree 2L (the exact transform of band-L signals). While some layer
is above MARGIN x the tolerance (at its worst test scale), the worst such layer moves to its next rule;
once all are within, while the whole model is not, the worst layer moves on. Errors come from the one
equivariance check, on the build's own group elements, inputs and scales, so the suite that follows sees
the same numbers. The search is escnn-free: a ``Tunable`` resamples a layer and measures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..analysis.budget import AUTO_MARGIN as MARGIN
from ..analysis.design import Design, Grid, Nonlinear
from ..theory.quadrature import RuleShape


class Tunable(Protocol):
    def resample(self, layer: Nonlinear, shape: RuleShape) -> None: ...

    def layer_error(self, layer: Nonlinear) -> float: ...

    def model_error(self) -> float: ...


@dataclass
class GridChoice:
    """One auto layer's search: every rule tried, with its measured error, and the one kept."""

    layer: Nonlinear
    shape: RuleShape
    error: float = float("inf")
    tried: list[tuple[int, int, float]] = field(default_factory=list)  # (degree, points, layer error)

    @property
    def name(self) -> str:
        return f"hidden[{self.layer.index}] {self.layer.activation}"


@dataclass
class GridSearch:
    choices: list[GridChoice]
    model_error: float = float("inf")
    failure: str | None = None


def auto_layers(design: Design) -> list[Nonlinear]:
    """The layers whose grid build chooses (a polynomial layer's rule is exact already)."""
    return [x for x in design.hidden if x.grid is not None and x.grid.type == "auto" and x.poly_degree is None and x.grid.rule]


def search(design: Design, subject: Tunable) -> GridSearch:
    limit = MARGIN * design.spec.tests.tolerance
    result = GridSearch([GridChoice(x, x.grid.rule) for x in auto_layers(design) if x.grid and x.grid.rule])
    for choice in result.choices:
        _measure(subject, choice)
    while True:
        # errors need not fall monotonically (a circle rule can alias worse at one more point): every step
        # looks at every layer again, and at the whole model once the layers are within the limit
        over = [c for c in result.choices if not c.error <= limit]
        if not over:
            result.model_error = subject.model_error()
            if result.model_error <= limit:
                break
        climbable = [c for c in (over or result.choices) if _next(c) is not None]
        if not climbable:
            result.model_error = subject.model_error()
            break
        _climb(subject, max(climbable, key=lambda c: c.error))
    result.failure = _failure(result, design.spec.tests.tolerance)
    return result


def _next(choice: GridChoice) -> RuleShape | None:
    """The next rule with more points (degrees that round up to the same rule are skipped)."""
    shape = dataclasses.replace(choice.shape, degree=choice.shape.degree + 1)
    while shape.points <= choice.shape.points:
        shape = dataclasses.replace(shape, degree=shape.degree + 1)
    limit = choice.layer.grid.max_points if choice.layer.grid else None
    return shape if limit is None or shape.points <= limit else None


def _climb(subject: Tunable, choice: GridChoice) -> bool:
    shape = _next(choice)
    if shape is None:
        return False
    choice.shape = shape
    subject.resample(choice.layer, shape)
    _measure(subject, choice)
    return True


def _measure(subject: Tunable, choice: GridChoice) -> None:
    choice.error = subject.layer_error(choice.layer)
    choice.tried.append((choice.shape.degree, choice.shape.points, choice.error))


def _failure(result: GridSearch, tolerance: float) -> str | None:
    """A failure only where the tolerance itself is missed: the margin is what the search aims for."""
    if result.model_error <= tolerance and all(c.error <= tolerance for c in result.choices):
        return None
    reached = "; ".join(f"{c.name}: {c.error:.2e} with {c.shape.describe()}" for c in result.choices)
    cap = min((c.layer.grid.max_points or 0 for c in result.choices if c.layer.grid), default=0)
    return (
        f"grid: auto found no rule within {cap:,} points that meets tests.tolerance {tolerance:g} "
        f"(end to end {result.model_error:.2e}; {reached}); raise grid.max_points, lower the band_limit, "
        "use smaller tests.scales, use a fourier_poly layer (exact on its rule), or loosen tests.tolerance"
    )


def tuned(design: Design, choices: Sequence[GridChoice]) -> Design:
    """The design with every auto layer's grid set to the rule chosen for it."""
    chosen = {c.layer.index: c.shape for c in choices}
    layers = tuple(
        dataclasses.replace(x, grid=_with_rule(x.grid, chosen[x.index])) if isinstance(x, Nonlinear) and x.index in chosen else x
        for x in design.layers
    )
    return dataclasses.replace(design, layers=layers)


def _with_rule(grid: Grid | None, shape: RuleShape) -> Grid:
    assert grid is not None
    return dataclasses.replace(grid, points=shape.points, rule=shape)
