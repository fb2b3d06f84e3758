"""``grid: auto`` on a built escnn model: resample its Fourier layers and measure them (numerics.gridsearch)."""

from __future__ import annotations

from typing import Any

import torch

from ..analysis.design import Design, Nonlinear
from ..numerics.elements import Element, pick_elements, rep_stack
from ..numerics.equivariance import Probe, measure
from ..numerics.gridsearch import GridSearch, auto_layers, search, tuned
from ..numerics.suite import exact_on_grid, probe_input
from ..theory.quadrature import RuleShape, rule
from .builder import build_escnn, sample_on_rule
from .model import EscnnModel, activation_module


class _Subject:
    """The model's Fourier layers as the search sees them, measured on the build's elements and scales."""

    def __init__(self, model: EscnnModel, elements: list[Element]) -> None:
        self.model, self.elements = model, elements
        self.tests = model.design.spec.tests
        self.positions = {b.layer.index: k for k, b in enumerate(model.built) if isinstance(b.layer, Nonlinear)}
        self._reps: dict[int, torch.Tensor] = {}

    def _rep(self, ftype: Any) -> torch.Tensor:
        if id(ftype) not in self._reps:
            self._reps[id(ftype)] = rep_stack(ftype.representation, self.elements, torch.float64)
        return self._reps[id(ftype)]

    def _probe(self, name: str, fn: Any, in_type: Any, out_type: Any, position: int) -> float:
        """The suite's own measurement of this layer or model (same elements, inputs and scales)."""
        rin, rout = self._rep(in_type), self._rep(out_type)
        x = probe_input(self.tests.seed, position, rin.shape[1])
        return measure(Probe(name, fn, rin, rout, exact=False), x, self.tests.scales).max_rel

    def _module(self, layer: Nonlinear) -> Any:
        return self.model.built[self.positions[layer.index]].module

    def resample(self, layer: Nonlinear, shape: RuleShape) -> None:
        sample_on_rule(activation_module(self._module(layer)), self.model.G, self.model.design.group, layer, shape)

    def layer_error(self, layer: Nonlinear) -> float:
        m = self._module(layer)
        return self._probe(layer.activation, lambda t: m(m.in_type(t)).tensor, m.in_type, m.out_type, self.positions[layer.index] + 1)

    def model_error(self) -> float:
        return self._probe("model", self.model, self.model.in_type, self.model.out_type, 0)


@torch.no_grad()
def choose_grids(model: EscnnModel, elements: list[Element]) -> tuple[Design, GridSearch]:
    """Pick every auto layer's rule in place; the model then carries the tuned design."""
    found = search(model.design, _Subject(model, elements))
    design = tuned(model.design, found.choices)
    model.adopt(design)
    return design, found


def grid_records(model: EscnnModel, found: GridSearch | None) -> list[dict[str, Any]]:
    """What every sampled Fourier layer of a continuous group runs on: the grid, its size, and for auto
    layers the error measured for every rule tried."""
    chosen = {c.layer.index: c for c in found.choices} if found else {}
    records = []
    for layer in model.design.hidden:
        grid = layer.grid
        if grid is None or grid.type == "elements":
            continue
        record: dict[str, Any] = {
            "layer": f"hidden[{layer.index}] {layer.activation}",
            "type": grid.type,
            "points": int(activation_module(model.built_module(layer)).A.shape[0]),
            "coefficients": grid.coefficients,
        }
        if grid.rule is not None:
            record.update(rule=grid.rule.family, degree=grid.rule.degree, weighted=True)
        if layer.poly_degree is not None:
            record["exact"] = exact_on_grid(layer)
        record["points_per_coefficient"] = round(record["points"] / grid.coefficients, 2)
        if layer.index in chosen:
            c = chosen[layer.index]
            record.update(error=c.error, tried=[{"degree": d, "points": p, "error": e} for d, p, e in c.tried])
        records.append(record)
    return records


def grid_points(model: EscnnModel) -> list[dict[str, Any]]:
    """The points and weights of every weighted rule the model samples (ZYZ Euler angles, flips)."""
    out = []
    for layer in model.design.hidden:
        if layer.grid is not None and layer.grid.rule is not None:
            r = rule(layer.grid.rule)
            out.append(
                {
                    "layer": f"hidden[{layer.index}] {layer.activation}",
                    "rule": layer.grid.rule.family,
                    "degree": layer.grid.rule.degree,
                    "angles_zyz": r.angles.tolist(),
                    "flips": r.flips.tolist(),
                    "weights": r.weights.tolist(),
                }
            )
    return out


def build_tuned(design: Design, seed: int | None = 0) -> tuple[EscnnModel, GridSearch | None]:
    """The float64 model ``build`` makes of a design: built, then every auto grid chosen as build chooses it."""
    model = build_escnn(design, torch.float64, seed=seed)
    if not auto_layers(design):
        return model, None
    tests = design.spec.tests
    return model, choose_grids(model, pick_elements(model.G, tests.samples, tests.seed))[1]
