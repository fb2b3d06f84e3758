"""The static influence analysis against real escnn models: Jacobian blocks d out_c / d in_psi.

Every acceptance spec that builds is built with escnn in float64 with generic random parameters (several
draws, biases included) and its Jacobian measured at random inputs of several scales. A block is a
dependence when it is above 1e-3 of the Jacobian's scale and, for Fourier layers on continuous groups, does
not shrink when the model is rebuilt on finer grids (discretization "leaks" do).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("escnn")

from conftest import ACCEPTANCE, DESIGNS  # noqa: E402
from eqdesign.commands.check import check_file  # noqa: E402
from eqdesign.escnn_backend.probes import measure  # noqa: E402
from eqdesign.numerics.influence import approximate  # noqa: E402
from eqdesign.numerics.tolerances import INFLUENCE_SHRINK  # noqa: E402

pytestmark = pytest.mark.escnn


def _cases() -> dict[str, Path]:
    """Every acceptance case and every small design, by name."""
    return {p.stem: p for p in sorted(ACCEPTANCE.glob("*.yaml")) + sorted(DESIGNS.glob("*.yaml"))}


def _expected() -> dict[str, dict]:
    return json.loads((ACCEPTANCE / "expected.json").read_text())


CASES = _cases()
_CACHE: dict[str, tuple] = {}
_BUILT: dict = {}


@pytest.fixture
def spec_dir(escnn_models):
    _BUILT["get"] = escnn_models  # the session-wide cache of built models


def _measured(name: str, spec_dir):
    """(SpecResult, Measurement or None when the spec does not build)."""
    if name not in _CACHE:
        result = check_file(CASES[name])
        if result.design is None or result.spec_error:
            _CACHE[name] = (result, None)
        else:
            _CACHE[name] = (result, measure(result.design, _BUILT["get"](CASES[name])[1]))
    return _CACHE[name]


def _report(m) -> str:
    return "\n".join(
        f"  {b.output} <- {b.input}: rel {b.rel:.2e}"
        + ("" if b.rel_refined is None else f", finer grid {b.rel_refined:.2e}")
        + (" (dependence)" if b.genuine else "")
        for b in m.blocks
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_measured_influence_equals_static(name, spec_dir):
    result, m = _measured(name, spec_dir)
    if m is None:
        pytest.skip("spec error: the spec does not build")
    assert m.influence == result.influence, f"static {result.influence}, measured {m.influence}\n{_report(m)}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_measured_influence_equals_acceptance_answer(name, spec_dir):
    expected = _expected().get(name, {})
    if "influence" not in expected:
        pytest.skip("no influence answer for this case")
    _, m = _measured(name, spec_dir)
    assert m is not None, "a case with an influence answer must build"
    assert m.influence == expected["influence"], f"expected {expected['influence']}, measured {m.influence}\n{_report(m)}"


def test_leak_is_told_from_dependence(spec_dir):
    """acc08: the O(3) Fourier layer leaks into the pseudovector on the design grid (well above the threshold);
    on the finer grids the leak shrinks by more than the shrink factor, the genuine scalar block does not."""
    result, m = _measured("acc08-o3-single-vector-no-pseudovector", spec_dir)
    assert approximate(result.design) and m.refined
    leak, genuine = m.block("1e", "1o"), m.block("0e", "1o")
    assert leak.rel > 10 * m.threshold and not leak.genuine
    assert leak.shrink > 2 * INFLUENCE_SHRINK
    assert genuine.genuine and genuine.shrink < 1.5
    assert m.leaks() == [leak]


def test_exact_designs_need_no_refinement(spec_dir):
    """Without Fourier layers on continuous groups, forbidden blocks are zero to rounding (about 1e-16 in
    absolute terms, so well below 1e-5 even relative to the absolute floor of a constant output)."""
    for name in ("acc04-so3-gated-no-vector-to-scalar", "acc05-so3-tp-single-copy", "acc11-c8-kernel"):
        result, m = _measured(name, spec_dir)
        assert not m.refined
        for b in m.blocks:
            assert b.genuine or b.rel < 1e-5, (name, b)
