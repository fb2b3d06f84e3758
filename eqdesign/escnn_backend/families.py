"""Per-family adapters: how each family of groups meets escnn (elements, frequencies, grids, quadratures).

Everything that differs between SO(2)/O(2), SO(3)/O(3), the cylinders and the finite groups lives in one
class per family, so the builder and the exact projection never switch on a group's name.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np

from ..analysis.design import Grid
from ..theory.group import FloatArray, Group
from ..theory.quadrature import Rule, gauss_legendre
from .compat import BuildError, quiet

#: names a finite set of group elements, e.g. ("all",), ("circle", 8) or ("beta", 5)
HaarKey: TypeAlias = tuple[str | int, ...]
#: one step of an exact Haar average: (a key naming a finite set of elements, their weights or None)
HaarStep: TypeAlias = tuple[HaarKey, FloatArray | None]
#: escnn's id of one of its irreps (escnn is untyped)
IrrepId: TypeAlias = tuple[Any, ...]
#: escnn GroupElements
Elements: TypeAlias = list[Any]
#: positional and keyword arguments of escnn's grid methods
GridArgs: TypeAlias = tuple[tuple[Any, ...], dict[str, Any]]

_NEEDS_NO_N = {"ico", "cube", "tetra"}


class Family:
    """The default: a group eqdesign samples no Fourier grid on."""

    def freq(self, eid: IrrepId) -> int:
        return 0

    def design_grid(self, G: Any, group: Group, grid: Grid, quotient: str | None) -> Elements:
        raise BuildError(f"no grid of type {grid.type!r} for {group.label}" + (f" ({quotient})" if quotient else ""))

    def fourier_grid_args(self, grid: Grid) -> GridArgs:
        raise BuildError(f"no Fourier grid for {grid.type!r} here")

    def rule_elements(self, G: Any, rule: Rule, quotient: str | None) -> Elements:
        """The group elements of a weighted rule (one per point; on a quotient, one per coset)."""
        raise BuildError(f"no weighted quadrature on {G}")

    def placeholder_grid_args(self, band_limit: int) -> GridArgs:
        """A cheap escnn grid to construct a Fourier module with; its sampling is replaced right after."""
        raise BuildError(f"no Fourier grid on {self}")

    def haar_steps(self, m: int) -> list[HaarStep]:
        """Averages applied one after the other that together make the Haar average of degree < m exact."""
        raise NotImplementedError

    def haar_elements(self, G: Any, key: HaarKey) -> Elements:
        raise NotImplementedError


class Finite(Family):
    def haar_steps(self, m: int) -> list[HaarStep]:
        return [(("all",), None)]

    def haar_elements(self, G: Any, key: HaarKey) -> Elements:
        return list(G.elements)


class Circle(Family):
    """SO(2) and O(2): uniform rotations (with the mirrors, on O(2)); the circle quotient of O(2)."""

    def __init__(self, freq_index: int) -> None:
        self._freq_index = freq_index

    def freq(self, eid: IrrepId) -> int:
        return abs(int(eid[self._freq_index]))

    def design_grid(self, G: Any, group: Group, grid: Grid, quotient: str | None) -> Elements:
        if quotient == "circle":
            return circle_cosets(G, grid.n or 1, grid.type)
        if quotient is None:
            args, kwargs = self.fourier_grid_args(grid)
            with quiet():
                elements: Elements = G.grid(**kwargs)
            return elements
        return super().design_grid(G, group, grid, quotient)

    def fourier_grid_args(self, grid: Grid) -> GridArgs:
        kwargs: dict[str, Any] = {"N": grid.n, "type": grid.type}
        if grid.type == "rand":
            kwargs["seed"] = 0
        return (), kwargs

    def rule_elements(self, G: Any, rule: Rule, quotient: str | None) -> Elements:
        angles = [float(a) for a in rule.angles[:, 0]]
        if self._freq_index == 0:  # SO(2)
            return [G.element(a, "radians") for a in angles]
        return [G.element((int(f), a), "radians") for f, a in zip(rule.flips, angles, strict=True)]

    def placeholder_grid_args(self, band_limit: int) -> GridArgs:
        return (), {"N": 2 * band_limit + 2, "type": "regular"}

    def haar_steps(self, m: int) -> list[HaarStep]:
        return [(("circle", max(m, 2)), None)]

    def haar_elements(self, G: Any, key: HaarKey) -> Elements:
        elements: Elements = G.grid(N=key[1], type="regular")
        return elements


class Cylinder(Circle):
    """C2 x SO(2) and C2 x O(2) (escnn's direct products): the circle factor times both C2 elements."""

    def __init__(self) -> None:
        super().__init__(0)

    def freq(self, eid: IrrepId) -> int:
        return abs(int(eid[1][-1]))

    def design_grid(self, G: Any, group: Group, grid: Grid, quotient: str | None) -> Elements:
        return Family.design_grid(self, G, group, grid, quotient)

    def haar_elements(self, G: Any, key: HaarKey) -> Elements:
        return [G.pair_elements(a, b) for a in G.G1.elements for b in G.G2.grid(N=key[1], type="regular")]


class Euler(Family):
    """SO(3) and O(3): ZYZ Euler angles, Gauss-Legendre in cos(beta), and the inversion on O(3)."""

    def __init__(self, inversion: bool) -> None:
        self.inversion = inversion

    def freq(self, eid: IrrepId) -> int:
        return int(eid[1] if self.inversion else eid[0])

    def element(self, G: Any, a: float, b: float, c: float, inv: int = 0) -> Any:
        rot = (float(a), float(b), float(c))
        return G.element((inv, rot) if self.inversion else rot, "zyz")

    def fourier_grid_args(self, grid: Grid) -> GridArgs:
        args = (grid.type,) if grid.type in _NEEDS_NO_N else (grid.type, grid.n)
        return args, ({"seed": 0} if grid.type == "rand" else {})

    def design_grid(self, G: Any, group: Group, grid: Grid, quotient: str | None) -> Elements:
        args, kwargs = self.fourier_grid_args(grid)
        with quiet():
            elements: Elements = G.sphere_grid(*args, **kwargs) if quotient else G.grid(*args, **kwargs)
        return elements

    def rule_elements(self, G: Any, rule: Rule, quotient: str | None) -> Elements:
        if quotient is None:
            return [self.element(G, a, b, c, int(f)) for (a, b, c), f in zip(rule.angles, rule.flips, strict=True)]
        # escnn's sphere quotient identifies the coset of g with the point g^-1 e_z: the point
        # Rz(alpha) Ry(beta) e_z is the coset of Ry(-beta) Rz(-alpha)
        return [self.element(G, 0.0, -b, -a) for a, b, _ in rule.angles]

    def placeholder_grid_args(self, band_limit: int) -> GridArgs:
        return ("cube",), {}

    def haar_steps(self, m: int) -> list[HaarStep]:
        w = gauss_legendre(m)[1] / 2
        steps: list[HaarStep] = [(("gamma", m), None), (("beta", m), w), (("alpha", m), None)]
        return steps + ([(("inversion",), None)] if self.inversion else [])

    def haar_elements(self, G: Any, key: HaarKey) -> Elements:
        if key[0] == "inversion":
            return [self.element(G, 0, 0, 0, 0), self.element(G, 0, 0, 0, 1)]
        m = int(key[1])
        if key[0] == "beta":
            return [self.element(G, 0, b, 0) for b in np.arccos(gauss_legendre(m)[0])]
        ang = 2 * np.pi * np.arange(m) / m
        return [self.element(G, 0, 0, a) if key[0] == "gamma" else self.element(G, a, 0, 0) for a in ang]


def circle_cosets(G: Any, n: int, kind: str) -> Elements:
    """O(2)/{1, reflection}: one rotation per point of the circle."""
    if kind == "rand":
        angles = np.random.RandomState(0).uniform(0, 2 * np.pi, n)
    else:
        angles = 2 * np.pi * np.arange(n) / n
    return [G.element((0, float(a)), "radians") for a in angles]


_FAMILIES: dict[str, Family] = {
    "so2": Circle(0),
    "o2": Circle(1),
    "so3": Euler(False),
    "o3": Euler(True),
    "cylinder": Cylinder(),
    "full_cylinder": Cylinder(),
}


def family(group: Group) -> Family:
    return Finite() if group.finite else _FAMILIES[group.key]
