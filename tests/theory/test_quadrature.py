"""The weighted rules of grid: auto, checked against integrals computed independently (closed forms)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from eqdesign.theory.activation import FIT_RANGE, elu_fit
from eqdesign.theory.quadrature import LEBEDEV_ALL, LEBEDEV_POINTS, RuleShape, auto_start, circle_step, exact_degree, rule


def _sphere_points(shape: RuleShape) -> tuple[np.ndarray, np.ndarray]:
    r = rule(shape)
    a, b = r.angles[:, 0], r.angles[:, 1]
    return np.stack([np.sin(b) * np.cos(a), np.sin(b) * np.sin(a), np.cos(b)], axis=1), r.weights


def _double_factorial(n: int) -> int:
    return math.prod(range(n, 0, -2)) if n > 0 else 1


def _sphere_monomial_mean(a: int, b: int, c: int) -> float:
    """Mean of x^a y^b z^c over the unit sphere: 0 unless all even, else (a-1)!!(b-1)!!(c-1)!!/(a+b+c+1)!!."""
    if a % 2 or b % 2 or c % 2:
        return 0.0
    return _double_factorial(a - 1) * _double_factorial(b - 1) * _double_factorial(c - 1) / _double_factorial(a + b + c + 1)


def _zyz(a: float, b: float, c: float) -> np.ndarray:
    def rz(t: float) -> np.ndarray:
        return np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])

    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    return rz(a) @ ry @ rz(c)


@pytest.mark.parametrize("space", ["circle", "sphere", "so3"])
@pytest.mark.parametrize("flipped", [False, True])
@pytest.mark.parametrize("degree", [1, 4, 7, 12])
def test_weights_are_positive_sum_to_one_and_counts_match(space: str, flipped: bool, degree: int) -> None:
    shape = RuleShape(space, degree, flipped)  # type: ignore[arg-type]
    r = rule(shape)
    assert len(r.weights) == shape.points == len(r.angles) == len(r.flips)
    assert np.all(r.weights > 0)
    assert abs(r.weights.sum() - 1) < 1e-12
    assert set(r.flips.tolist()) == ({0, 1} if flipped else {0})


def test_lebedev_table_is_scipy_s_and_keeps_only_positive_weights() -> None:
    from scipy.integrate import lebedev_rule

    for degree, count in LEBEDEV_ALL.items():
        points, weights = lebedev_rule(degree)
        assert points.shape[1] == count
        assert (degree in LEBEDEV_POINTS) == bool(weights.min() > 0)


@pytest.mark.parametrize("degree", [2, 5, 9])
def test_circle_rule_is_exact_up_to_its_degree_and_not_beyond(degree: int) -> None:
    r = rule(RuleShape("circle", degree, False))
    for k in range(1, degree + 1):
        assert abs(np.sum(r.weights * np.exp(1j * k * r.angles[:, 0]))) < 1e-12
    assert abs(np.sum(r.weights * np.exp(1j * (degree + 1) * r.angles[:, 0]))) > 0.5


@pytest.mark.parametrize("degree", [3, 6, 11, 140])  # 140: past the Lebedev table, Gauss-Legendre x uniform
def test_sphere_rule_integrates_every_monomial_up_to_its_degree(degree: int) -> None:
    xyz, w = _sphere_points(RuleShape("sphere", degree, False))
    for a, b, c in itertools.product(range(min(degree, 8) + 1), repeat=3):
        if a + b + c <= degree:
            value = float(np.sum(w * xyz[:, 0] ** a * xyz[:, 1] ** b * xyz[:, 2] ** c))
            assert abs(value - _sphere_monomial_mean(a, b, c)) < 1e-11, (a, b, c)


@pytest.mark.parametrize("degree", [4, 7, 140])
def test_sphere_rules_are_closed_under_the_antipodal_map(degree: int) -> None:
    xyz, w = _sphere_points(RuleShape("sphere", degree, False))
    index = {tuple(np.round(p, 9) + 0.0): wi for p, wi in zip(xyz, w, strict=True)}
    for p, wi in zip(xyz, w, strict=True):
        assert abs(index[tuple(np.round(-p, 9) + 0.0)] - wi) < 1e-12


def test_so3_rule_reproduces_haar_moments_of_the_rotation_matrix() -> None:
    """Haar: E[R_ij] = 0, E[R_ij R_kl] = d_ik d_jl / 3, E[R_ij R_kl R_mn] = e_ikm e_jln / 6 (degrees 1-3);
    a rule of degree 3 must reproduce all three, one of degree 1 the first only."""
    eps = np.zeros((3, 3, 3))
    for i, j, k in itertools.permutations(range(3)):
        eps[i, j, k] = np.linalg.det(np.eye(3)[[i, j, k]])
    r = rule(RuleShape("so3", 3, False))
    R = np.stack([_zyz(*g) for g in r.angles])
    assert np.allclose(np.einsum("g,gij->ij", r.weights, R), 0, atol=1e-12)
    second = np.einsum("g,gij,gkl->ikjl", r.weights, R, R)
    assert np.allclose(second, np.einsum("ik,jl->ikjl", np.eye(3), np.eye(3)) / 3, atol=1e-12)
    third = np.einsum("g,gij,gkl,gmn->ikmjln", r.weights, R, R, R)
    assert np.allclose(third, np.einsum("ikm,jln->ikmjln", eps, eps) / 6, atol=1e-12)
    coarse = rule(RuleShape("so3", 1, False))
    R1 = np.stack([_zyz(*g) for g in coarse.angles])
    assert not np.allclose(np.einsum("g,gij,gkl->ikjl", coarse.weights, R1, R1), second, atol=1e-3)


def test_circle_rules_hold_every_selection_rule_up_to_the_band_limit() -> None:
    """n a multiple of lcm(1..L): C_g is inside C_n for every gcd g <= L."""
    for L in range(1, 8):
        shape = RuleShape("circle", 2 * L, False, circle_step(L))
        assert all(shape.points % g == 0 for g in range(1, L + 1)) and shape.points >= 2 * L + 1
        assert len(rule(shape).weights) == shape.points


def test_degrees_follow_the_band_limit() -> None:
    assert auto_start(2) == 4 and exact_degree(2, 2) == 6 and exact_degree(3, 3) == 12
    sizes = [RuleShape("so3", t, False).points for t in range(1, 30)]
    assert sizes == sorted(sizes)  # a higher degree never costs fewer points


@pytest.mark.parametrize("degree", [2, 3, 4])
def test_the_polynomial_follows_elu_on_its_range(degree: int) -> None:
    x = np.linspace(-FIT_RANGE, FIT_RANGE, 601)
    elu = np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    fit = np.polynomial.polynomial.polyval(x, elu_fit(degree))
    assert len(elu_fit(degree)) == degree + 1 and elu_fit(degree)[-1] != 0
    assert np.sqrt(np.mean((fit - elu) ** 2)) < 0.25 / degree
