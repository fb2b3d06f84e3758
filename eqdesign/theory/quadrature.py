"""Weighted quadrature rules on the spaces Fourier layers sample: the circle, the sphere and SO(3).

A Fourier layer samples a band-limited signal on points, applies its activation pointwise and projects
back. With a rule that integrates exactly every matrix coefficient up to degree t, the projection of
anything of band <= t - L onto band L is exact, so the only equivariance error left is the aliasing of
the activation's harmonics above that; it falls quickly as t grows. Unweighted point sets (escnn's
Thomson grids) have no such degree, and their error stalls.

Rules here are deterministic and computed in closed form (Lebedev's rules come from scipy, imported only
when the points are asked for): point *counts* need no scipy, so ``check`` stays fast.

Exactness, with ZYZ Euler angles g = Rz(alpha) Ry(beta) Rz(gamma):
* circle, n uniform angles: every frequency |k| < n;
* sphere, Lebedev of degree t (or Gauss-Legendre in cos(beta) times uniform azimuths): every spherical
  harmonic of degree <= t; every such rule is closed under the antipodal map, so parity leaks cancel;
* SO(3), a sphere rule of degree t in (alpha, beta) times t + 1 uniform gamma: every Wigner D^l_mn with
  l <= t (the gamma sum kills n != 0, and D^l_m0 is a spherical harmonic);
* O(2) and O(3): the rotation rule, with and without the reflection or inversion, at half the weight.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
Space: TypeAlias = Literal["circle", "sphere", "so3"]

#: Lebedev rules scipy provides: exact degree -> number of points
LEBEDEV_ALL = {
    3: 6, 5: 14, 7: 26, 9: 38, 11: 50, 13: 74, 15: 86, 17: 110, 19: 146, 21: 170, 23: 194, 25: 230, 27: 266,
    29: 302, 31: 350, 35: 434, 41: 590, 47: 770, 53: 974, 59: 1202, 65: 1454, 71: 1730, 77: 2030, 83: 2354,
    89: 2702, 95: 3074, 101: 3470, 107: 3890, 113: 4334, 119: 4802, 125: 5294, 131: 5810,
}  # fmt: skip
#: the rules used: those of degree 13, 25 and 27 have negative weights, and a weighted least-squares fit
#: needs positive ones (the next rule up is used instead)
LEBEDEV_POINTS = {d: n for d, n in LEBEDEV_ALL.items() if d not in (13, 25, 27)}


@dataclass(frozen=True)
class RuleShape:
    """What a rule is, without its points: enough for ``check`` to count and describe it."""

    space: Space
    degree: int  # exact for every matrix coefficient (harmonic, frequency) of degree <= degree
    flipped: bool  # also sampled with the reflection (O(2)) or the inversion (O(3))
    step: int = 1  # circles: the number of points is a multiple of step (see circle_step)

    @property
    def sphere_family(self) -> str:
        return "lebedev" if _lebedev_degree(self.degree) else "gauss-legendre"

    @property
    def family(self) -> str:
        kind = {"circle": "uniform circle", "sphere": self.sphere_family, "so3": f"{self.sphere_family} x uniform circle"}[self.space]
        return kind + (" x {1, flip}" if self.flipped else "")

    @property
    def rotations(self) -> int:
        """Points without the reflection or inversion."""
        if self.space == "circle":
            return -(-(self.degree + 1) // self.step) * self.step
        return _sphere_points(self.degree) * (self.degree + 1 if self.space == "so3" else 1)

    @property
    def points(self) -> int:
        return self.rotations * (2 if self.flipped else 1)

    def describe(self) -> str:
        return f"quadrature degree {self.degree} ({self.family}, {self.points} points)"


@dataclass(frozen=True)
class Rule:
    """A rule's points and weights. ``angles`` rows are (alpha, beta, gamma) ZYZ Euler angles: on the
    circle only alpha varies, on the sphere the point is Rz(alpha) Ry(beta) e_z. ``flips`` marks the
    points taken with the reflection or inversion. Weights are positive and sum to 1."""

    shape: RuleShape
    angles: FloatArray
    weights: FloatArray
    flips: npt.NDArray[np.int64]


def gauss_legendre(m: int) -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre nodes and weights on [-1, 1], exact for polynomials of degree < 2m."""
    nodes, weights = np.polynomial.legendre.leggauss(m)  # type: ignore[no-untyped-call]  # numpy's stubs leave leggauss unannotated
    return nodes, weights


def _lebedev_degree(degree: int) -> int | None:
    return next((d for d in LEBEDEV_POINTS if d >= degree), None)


def _sphere_points(degree: int) -> int:
    leb = _lebedev_degree(degree)
    if leb is not None:
        return LEBEDEV_POINTS[leb]
    m = degree // 2 + 1
    return m * 2 * m


@functools.lru_cache(maxsize=64)
def rule(shape: RuleShape) -> Rule:
    """The rule's points and weights (cached: a build resamples the same rules often); read-only arrays."""
    degree = shape.rotations - 1 if shape.space == "circle" else shape.degree  # a circle of n points is exact below n
    angles, weights = {"circle": _circle, "sphere": _sphere, "so3": _so3}[shape.space](degree)
    flips = np.zeros(len(weights), dtype=np.int64)
    if shape.flipped:
        angles, weights = np.concatenate([angles, angles]), np.concatenate([weights, weights]) / 2
        flips = np.concatenate([flips, np.ones_like(flips)])
    for a in (angles, weights, flips):
        a.setflags(write=False)
    return Rule(shape, angles, weights, flips)


def _circle(degree: int) -> tuple[FloatArray, FloatArray]:
    n = degree + 1
    alpha = 2 * np.pi * np.arange(n) / n
    return np.stack([alpha, np.zeros(n), np.zeros(n)], axis=1), np.full(n, 1.0 / n)


def _sphere(degree: int) -> tuple[FloatArray, FloatArray]:
    leb = _lebedev_degree(degree)
    if leb is not None:
        from scipy.integrate import lebedev_rule  # scipy >= 1.15; imported here so that check never pays for it

        xyz, w = lebedev_rule(leb)
        beta = np.arccos(np.clip(xyz[2], -1.0, 1.0))
        alpha = np.mod(np.arctan2(xyz[1], xyz[0]), 2 * np.pi)
    else:
        # m Gauss-Legendre nodes in cos(beta) (exact below degree 2m) times 2m azimuths (|k| < 2m)
        m = degree // 2 + 1
        x, wx = gauss_legendre(m)
        phi = 2 * np.pi * np.arange(2 * m) / (2 * m)
        beta, alpha = np.repeat(np.arccos(x), 2 * m), np.tile(phi, m)
        w = np.repeat(wx, 2 * m)
    weights = np.asarray(w, dtype=float)
    return np.stack([alpha, beta, np.zeros_like(beta)], axis=1), weights / weights.sum()


def _so3(degree: int) -> tuple[FloatArray, FloatArray]:
    sphere, ws = _sphere(degree)
    circle, wc = _circle(degree)
    n, k = len(ws), len(wc)
    angles = np.repeat(sphere, k, axis=0)
    angles[:, 2] = np.tile(circle[:, 0], n)
    return angles, np.repeat(ws, k) * np.tile(wc, n)


def circle_step(band_limit: int) -> int:
    """Circle rules of n points are closed under the rotations C_n, so the layer is exactly C_n-equivariant:
    with n a multiple of lcm(1..L) the selection rules of every input gcd up to L hold exactly (even
    frequencies in, no odd one out), as they must for the influence analysis. Capped where the lcm
    outgrows any sensible grid (L > 9)."""
    step = math.lcm(*range(1, max(band_limit, 1) + 1))
    return step if step <= 2520 else 1


def auto_start(band_limit: int) -> int:
    """The first degree ``grid: auto`` tries: 2L makes the rule exact on products of two band-L signals,
    so the transform back is the exact discrete Fourier transform (no least-squares fit left)."""
    return max(2 * band_limit, 1)


def exact_degree(band_limit: int, poly_degree: int) -> int:
    """A degree-p polynomial of a band-L signal has band pL; its projection onto band L integrates
    products of band pL and band L, so a rule exact to (p + 1) L makes the layer exactly equivariant."""
    return (poly_degree + 1) * band_limit
