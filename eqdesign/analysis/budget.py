"""Resource guards: what `build` could never finish is refused by `check`, before anything is allocated.

The estimates are cheap closed forms over the resolved design (no basis is sampled): irrep frequencies,
field and grid sizes, parameters, and the memory the build would hold at its peak (escnn's sampled bases
of every linear layer, its dense matrices, the Fourier sampling matrices and the tensor-product bases, in
float64). Each limit can be raised with an environment variable ``EQDESIGN_LIMIT_<NAME>``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields

from ..theory.group import Group
from ..theory.irreps import Irrep
from ..theory.quadrature import RuleShape, Space
from .design import Design, FieldType, Linear, Nonlinear, layer_rule

_BYTES = 8  # float64
#: escnn keeps a sampled basis per block, our float64 projection of it, and a float32 copy
_COPIES = 3


@dataclass(frozen=True)
class Limits:
    max_frequency: int = 64  # SO(2), O(2) and the cylinders: escnn's cost grows with the frequency
    max_degree: int = 10  # SO(3) and O(3): irreps of dimension 2l+1
    max_hidden: int = 64  # hidden layers
    max_dim: int = 20_000  # features of one layer
    max_points: int = 20_000  # grid points per Fourier channel
    max_params: int = 10_000_000
    max_memory_mb: int = 4_096  # the build's peak estimate
    max_gflop: int = 100  # the build's sampling work: every grid point costs one D x D representation matrix

    @classmethod
    def from_env(cls) -> Limits:
        values = {f.name: _env_int(f"EQDESIGN_LIMIT_{f.name.upper()}", f.default) for f in fields(cls)}
        return cls(**values)


def _env_int(name: str, default: object) -> int:
    if not isinstance(default, int):  # every limit has an integer default (dataclasses types it as object)
        raise TypeError(f"{name}: the limit has no integer default")
    text = os.environ.get(name, "")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 15 else default


@dataclass(frozen=True)
class Excess:
    """One estimate above its limit, with the spec path it belongs to."""

    path: tuple[str | int, ...]
    what: str
    estimate: int
    limit: int
    env: str

    @property
    def message(self) -> str:
        return f"{self.what} is {self.estimate:,}, above the limit of {self.limit:,}"

    @property
    def hint(self) -> str:
        return f"make it smaller, or raise the limit with {self.env}={self.estimate} if the machine can take it"


def _sphere(group: Group) -> bool:
    """SO(3)-like groups, whose irrep dimension grows with the degree."""
    return any(i.dim > 2 for i in group.irreps(2)) if not group.finite else False


def frequency_excess(group: Group, t: FieldType, path: tuple[str | int, ...], limits: Limits) -> Excess | None:
    """Checked as each irreps string is read: later steps enumerate irreps up to the highest frequency."""
    if group.finite or not t.entries:
        return None
    top: Irrep = max(t.content(), key=lambda i: i.freq)
    if _sphere(group):
        return (
            Excess(path, f"the degree of irrep {top.name}", top.freq, limits.max_degree, "EQDESIGN_LIMIT_MAX_DEGREE")
            if top.freq > limits.max_degree
            else None
        )
    return (
        Excess(path, f"the frequency of irrep {top.name}", top.freq, limits.max_frequency, "EQDESIGN_LIMIT_MAX_FREQUENCY")
        if top.freq > limits.max_frequency
        else None
    )


def design_excesses(design: Design, limits: Limits) -> list[Excess]:
    return list(_excesses(design, limits))


def hidden_excess(layers: int, limits: Limits) -> Excess | None:
    """Checked before any layer is resolved: the work of every later step grows with the layers."""
    if layers <= limits.max_hidden:
        return None
    return Excess(("hidden",), "the number of hidden layers", layers, limits.max_hidden, "EQDESIGN_LIMIT_MAX_HIDDEN")


def _excesses(design: Design, limits: Limits) -> Iterator[Excess]:
    too_many = hidden_excess(len(design.hidden), limits)
    if too_many is not None:
        yield too_many
    for layer in design.hidden:
        if layer.out_type.dim > limits.max_dim or layer.in_type.dim > limits.max_dim:
            dim = max(layer.in_type.dim, layer.out_type.dim)
            yield Excess(layer.path, f"the width of hidden[{layer.index}]", dim, limits.max_dim, "EQDESIGN_LIMIT_MAX_DIM")
        if layer.grid is not None and layer.grid.points > limits.max_points:
            yield Excess(
                layer.path, f"the grid of hidden[{layer.index}] (points)", layer.grid.points, limits.max_points, "EQDESIGN_LIMIT_MAX_POINTS"
            )
    if design.params > limits.max_params:
        yield Excess(
            ("hidden",) if design.hidden else ("output",),
            "the number of parameters",
            design.params,
            limits.max_params,
            "EQDESIGN_LIMIT_MAX_PARAMS",
        )
    gflop = sampling_gflop(design)
    if gflop > limits.max_gflop:
        yield Excess(("hidden",), "the build's sampling work (GFLOP)", gflop, limits.max_gflop, "EQDESIGN_LIMIT_MAX_GFLOP")
    megabytes = peak_memory_mb(design)
    if megabytes > limits.max_memory_mb:
        yield Excess(
            ("hidden",) if design.hidden else ("output",),
            "the build's estimated peak memory (MB)",
            megabytes,
            limits.max_memory_mb,
            "EQDESIGN_LIMIT_MAX_MEMORY_MB",
        )


def peak_memory_mb(design: Design) -> int:
    """Every layer's bases and matrices held at once by the build, in float64, in MB (rounded up)."""
    total = sum(_linear_bytes(x) if isinstance(x, Linear) else _nonlinear_bytes(design.group, x) for x in design.layers)
    return -(-total // 1_000_000)


def _linear_bytes(layer: Linear) -> int:
    """escnn samples one basis per pair of fields: (basis size) x (out field dim) x (in field dim)."""
    sampled = 0
    for f_out, m_out in layer.out_type.entries:
        c_out = FieldType.of((f_out, 1)).content()
        for f_in, m_in in layer.in_type.entries:
            c_in = FieldType.of((f_in, 1)).content()
            k = sum(c_out[i] * n * i.endo for i, n in c_in.items())
            sampled += m_out * m_in * k * f_out.dim * f_in.dim
    dense = layer.in_type.dim * layer.out_type.dim
    return (_COPIES * sampled + 2 * dense) * _BYTES


def _nonlinear_bytes(group: Group, layer: Nonlinear) -> int:
    if layer.kind == "tensor" and layer.channels:
        # the lowered tensor product holds its basis: (weights) x (channels * d) x d^2
        d = layer.in_type.dim // layer.channels
        return layer.own_params * layer.in_type.dim * d * d * _BYTES
    if layer.grid is not None:
        # A and its inverse, in escnn and in float64, on the design's grid and on the finer influence grid
        return 4 * (layer.grid.points + _refined_points(group, layer)) * layer.grid.coefficients * _BYTES
    return 0


def _refined_points(group: Group, layer: Nonlinear) -> int:
    """Points of the finer rule the influence measurement samples (refinement 2)."""
    if layer.grid is None or layer.band_limit is None or layer.grid.type == "elements":
        return 0
    shape = layer_rule(group, layer, 2)
    return shape.points if shape is not None else 2 * layer.grid.points


def sampling_gflop(design: Design) -> int:
    """Every sampled grid point costs one dense representation matrix of the channel (D x D) times D."""
    flop = sum((x.grid.points + _refined_points(design.group, x)) * x.grid.coefficients**2 for x in design.hidden if x.grid is not None)
    return -(-flop // 1_000_000_000)


# -- grid: auto at a tolerance ------------------------------------------------------------------------------

#: ``grid: auto`` holds every layer and the whole model to this share of ``tests.tolerance`` (the suite
#: after the search draws other inputs, and must not find a layer just above the line)
AUTO_MARGIN = 0.8
#: A weighted rule exact to degree t leaves an ELU layer of band-limit L the aliasing of the activation's
#: harmonics above t - L. Measured at scales 0.1-10 (SO(3) regular fields of band-limit 1-3, sphere fields of
#: band-limit 1 and 3, degrees up to 53), that error falls like C (L / t)^2.3-2.7 once t >= 2L; the
#: constants bound every measurement from above with room (the largest C seen: 1.26 on SO(3), 4.1 on the
#: sphere), so the rule predicted here is not smaller than the one at which the layer meets its share of the
#: tolerance (tests/test_design.py holds them to that). The whole model must meet it too, which can take the
#: search further (measured: to degree 18 for an SO(3) layer within at 9): an estimate, not a bound.
AUTO_DECAY = 2.3
AUTO_ERROR: dict[Space, float] = {"so3": 2.0, "sphere": 5.0, "circle": 5.0}


def auto_rule_needed(layer: Nonlinear, tolerance: float) -> RuleShape | None:
    """The rule ``grid: auto`` is predicted to climb to before this layer meets ``tolerance`` (None for a
    layer whose grid build does not search: explicit grids, finite groups, exact polynomial layers)."""
    grid = layer.grid
    if grid is None or grid.type != "auto" or grid.rule is None or layer.poly_degree is not None or layer.band_limit is None:
        return None
    ratio = (AUTO_ERROR[grid.rule.space] / (AUTO_MARGIN * tolerance)) ** (1 / AUTO_DECAY)
    degree = max(grid.rule.degree, math.ceil(layer.band_limit * min(ratio, 1e6)))
    return dataclasses.replace(grid.rule, degree=degree)


#: The search measures every layer at every rule it tries, on every test element and scale: each step costs
#: about the same per channel whatever the rule (measured: 8-20 s a step for two sphere layers of 156
#: channels on a loaded 2-core machine). Channels x rules tried, summed over the auto layers, is bounded
#: here so that a design's build chooses its grids in a few minutes at most.
MAX_SEARCH_CHANNEL_STEPS = 4_000


def tolerance_excesses(design: Design, tolerance: float, limits: Limits) -> list[str]:
    """What build's ``grid: auto`` search would exceed on its way to ``tolerance``, in words: the points of
    the rule a layer needs (``max_points``, or the layer's own), the sampling work of the rules it climbs
    through (``max_gflop``), and the channels x rules it measures (MAX_SEARCH_CHANNEL_STEPS). Empty: the
    build is predicted to fit its limits."""
    found: list[str] = []
    work = steps = 0
    for layer in design.hidden:
        need = auto_rule_needed(layer, tolerance)
        if need is None or layer.grid is None or layer.grid.rule is None:
            continue
        cap = min(limits.max_points, layer.grid.max_points or limits.max_points)
        if need.points > cap:
            found.append(
                f"hidden[{layer.index}] would need a rule of about {need.points:,} points (degree {need.degree}) to reach "
                f"tolerance {tolerance:g}, above the limit of {cap:,} (EQDESIGN_LIMIT_MAX_POINTS)"
            )
            continue
        flop, rules = _climb(layer.grid.rule, need, layer.grid.coefficients)
        work, steps = work + flop, steps + rules * layer.channels
    gflop = -(-work // 1_000_000_000)
    if gflop > limits.max_gflop:
        found.append(
            f"grid: auto's search would sample {gflop:,} GFLOP, above the limit of {limits.max_gflop:,} (EQDESIGN_LIMIT_MAX_GFLOP)"
        )
    if steps > MAX_SEARCH_CHANNEL_STEPS:
        found.append(
            f"grid: auto's search would measure {steps:,} channel-rules (channels x rules tried) to reach tolerance "
            f"{tolerance:g}, above the {MAX_SEARCH_CHANNEL_STEPS:,} a build chooses grids in within minutes"
        )
    return found


def _climb(start: RuleShape, need: RuleShape, coefficients: int) -> tuple[int, int]:
    """The search's work from ``start`` to ``need``: (sampling flop, each rule with more points than the last
    costing one D x D matrix per point as in ``sampling_gflop``; the number of rules tried)."""
    flop, points, rules = start.points * coefficients**2, start.points, 1
    for degree in range(start.degree + 1, need.degree + 1):
        shape = dataclasses.replace(start, degree=degree)
        if shape.points > points:
            points, rules = shape.points, rules + 1
            flop += points * coefficients**2
    return flop, rules
