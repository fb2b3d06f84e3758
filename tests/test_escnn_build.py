"""Build real escnn models from designs and check them against the design: parameter counts per layer, field
sizes, and exact equivariance of the exactly equivariant layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("escnn")

from conftest import ACCEPTANCE, DESIGNS  # noqa: E402
from eqdesign.analysis.design import Linear  # noqa: E402
from eqdesign.commands.check import check_file  # noqa: E402
from eqdesign.escnn_backend.builder import build_escnn  # noqa: E402
from eqdesign.numerics.elements import pick_elements, rep_stack  # noqa: E402
from eqdesign.numerics.equivariance import Probe, measure  # noqa: E402
from eqdesign.spec.model import NONLINEARITIES as SPEC_NONLINEARITIES  # noqa: E402

pytestmark = pytest.mark.escnn
#: findings that mean the design is not a buildable, meaningful model
UNBUILDABLE = {"invalid-nonlinearity", "empty-linear", "grid-too-small"}

#: designs without Fourier layers sampled on a grid of a continuous group: escnn models of these are exactly
#: equivariant (finite groups' Fourier layers sample every group element)
EXACT = ["so3-exact", "o3-exact", "c8-exact", "d6-mix", "ico-mix", "full-octa-exact", "cylinder-exact"]

#: designs whose Fourier layers sample a continuous group: approximately equivariant
APPROXIMATE = ["so3-fourier", "o3-sphere", "so2-fourier"]

NONLINEARITIES = set(SPEC_NONLINEARITIES)  # the test designs cover every one
GROUPS = {"so2", "o2", "so3", "o3", "cyclic8", "dihedral6", "ico", "octa", "full_octa", "cylinder"}


@pytest.fixture(scope="module")
def design_dir() -> Path:
    return DESIGNS


def _acceptance_files() -> list[Path]:
    return sorted(ACCEPTANCE.glob("*.yaml"))


_BUILT: dict = {}


@pytest.fixture(autouse=True)
def _models(escnn_models):
    _BUILT["get"] = escnn_models  # the session-wide cache of built models


def _result(path: Path):
    return check_file(path)


def _model(path: Path):
    return _BUILT["get"](path)[1]


def _buildable(result) -> bool:
    return result.design is not None and not result.spec_error and not any(f.rule in UNBUILDABLE for f in result.findings)


def _case_paths(design_dir: Path) -> list[Path]:
    return sorted(design_dir.glob("*.yaml"))


# -- the inline designs are what they claim to be ------------------------------------------------------------


def test_inline_designs_cover_every_nonlinearity_and_group(design_dir):
    seen_nl, seen_groups = set(), set()
    for path in _case_paths(design_dir):
        r = _result(path)
        assert r.design is not None, (path.name, [f.message for f in r.findings])
        seen_nl |= {nl.activation for nl in r.design.hidden}
        seen_groups.add(r.design.group.key)
    assert seen_nl >= NONLINEARITIES
    assert seen_groups >= GROUPS


@pytest.mark.parametrize("name", sorted(p.stem for p in DESIGNS.glob("*.yaml")))
def test_inline_design_is_buildable(design_dir, name):
    r = _result(design_dir / f"{name}.yaml")
    assert not r.spec_error and r.design is not None, [f.message for f in r.findings]
    bad = [(f.rule, f.message) for f in r.findings if f.rule in UNBUILDABLE]
    assert not bad


# -- parameter counts and sizes --------------------------------------------------------------------------------


def _check_counts(result, model) -> None:
    design = result.design
    assert len(model.built) == len(design.layers)
    problems = []
    for b in model.built:
        layer = b.layer
        ours = layer.params if isinstance(layer, Linear) else layer.own_params
        what = f"linear {layer.index}" if isinstance(layer, Linear) else f"hidden[{layer.index}] {layer.activation}"
        if b.params != ours:
            problems.append(f"{what}: escnn {b.params} learnable parameters, design {ours}")
        if (b.in_size, b.out_size) != (layer.in_type.dim, layer.out_type.dim):
            problems.append(f"{what}: escnn sizes {b.in_size}->{b.out_size}, design {layer.in_type.dim}->{layer.out_type.dim}")
    assert not problems, "\n".join(problems)
    assert model.params() == design.params
    assert model.in_type.size == design.input.dim and model.out_type.size == design.output.dim


@pytest.mark.parametrize("name", sorted(p.stem for p in DESIGNS.glob("*.yaml")))
def test_inline_design_parameters_and_sizes(design_dir, name):
    path = design_dir / f"{name}.yaml"
    r = _result(path)
    _check_counts(r, _model(path))


@pytest.mark.parametrize("path", _acceptance_files(), ids=lambda p: p.stem)
def test_acceptance_parameters_and_sizes(path):
    r = _result(path)
    if not _buildable(r):
        pytest.skip("spec error or an unbuildable layer: " + ", ".join(sorted({f.rule for f in r.findings})))
    _check_counts(r, _model(path))


def test_linear_params_split_into_schur_blocks_and_bias(design_dir):
    """Linear.params = Schur blocks + bias: escnn's weights and biases separately."""
    for path in _case_paths(design_dir):
        model = _model(path)
        for b in model.built:
            if isinstance(b.layer, Linear):
                m = b.module
                weights = m.weights.numel() if hasattr(m, "weights") else 0
                bias = m.bias.numel() if getattr(m, "bias", None) is not None else 0
                assert weights == sum(s.params for s in b.layer.blocks), (path.stem, b.layer.index)
                assert bias == b.layer.bias, (path.stem, b.layer.index)


def test_forward_shapes_and_dtype(design_dir):
    for path in _case_paths(design_dir):
        r, model = _result(path), _model(path)
        x = torch.randn(7, r.design.input.dim, dtype=torch.float64)
        y = model(x)
        assert y.shape == (7, r.design.output.dim) and y.dtype == torch.float64
        assert torch.isfinite(y).all()


def test_biases_are_redrawn(design_dir):
    """escnn starts biases at zero; build_escnn draws generic ones so bias-only paths are alive."""
    model = _model(design_dir / "so3-exact.yaml")
    biases = [m.bias for m in model.modules() if isinstance(getattr(m, "bias", None), torch.nn.Parameter)]
    assert biases and all(bool((b != 0).all()) for b in biases)


# -- equivariance ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXACT)
def test_exact_designs_are_exactly_equivariant(design_dir, name):
    path = design_dir / f"{name}.yaml"
    r, model = _result(path), _model(path)
    assert not any(nl.kind in ("fourier", "quotient") for nl in r.design.hidden if not r.design.group.finite)
    x = 3 * torch.randn(16, r.design.input.dim, dtype=torch.float64)
    with torch.no_grad():
        assert float(model(x).std(dim=0).max()) > 1e-3, "the output should depend on the input"
    worst = _equivariance(model, elements=6, scales=(0.3, 1.0, 5.0), seed=1)
    assert worst < 1e-9, worst


@pytest.mark.parametrize("name", EXACT)
def test_exact_layers_are_exactly_equivariant(design_dir, name):
    """Layer by layer, in float64, on random group elements."""
    model = _model(design_dir / f"{name}.yaml")
    gen = torch.Generator().manual_seed(3)
    for g in pick_elements(model.G, 4, seed=2)[:4]:
        for b in model.built:
            m = b.module
            rin = torch.tensor(np.asarray(m.in_type.representation(g)), dtype=torch.float64)
            rout = torch.tensor(np.asarray(m.out_type.representation(g)), dtype=torch.float64)
            x = torch.randn(6, m.in_type.size, generator=gen, dtype=torch.float64)
            with torch.no_grad():
                y = m(m.in_type(x)).tensor
                diff = m(m.in_type(x @ rin.T)).tensor - y @ rout.T
            assert float(diff.norm()) <= 1e-9 * max(float(y.norm()), 1.0), (type(m).__name__, b.layer)


@pytest.mark.parametrize("name", APPROXIMATE)
def test_approximate_fourier_layers_are_nearly_equivariant(design_dir, name):
    """Fourier layers on continuous groups: a small error, shrinking on the finer grids build_escnn can use."""
    r = _result(design_dir / f"{name}.yaml")
    coarse = build_escnn(r.design, torch.float64, seed=0)  # the design's own grid (auto: where its search starts)
    fine = build_escnn(r.design, torch.float64, seed=0, grid_refinement=2)
    e_coarse = _equivariance(coarse, elements=4, scales=(1.0,), seed=0)
    e_fine = _equivariance(fine, elements=4, scales=(1.0,), seed=0)
    assert 1e-6 < e_coarse < 0.1
    assert e_fine < e_coarse / 3


def _equivariance(model, elements: int, scales, seed: int) -> float:
    """The shared equivariance check on random elements of the model's group (max relative error)."""
    picked = pick_elements(model.G, elements, seed)[:elements]
    rin, rout = (
        rep_stack(model.in_type.representation, picked, torch.float64),
        rep_stack(model.out_type.representation, picked, torch.float64),
    )
    x = torch.randn(8, model.in_type.size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return measure(Probe("model", model, rin, rout), x, scales).max_rel


# -- escnn bug workarounds -------------------------------------------------------------------------------------


def test_gated_matches_escnn_in_float32(design_dir):
    """Our float64-capable gated forward computes what escnn's GatedNonLinearity1 computes (in float32)."""
    from escnn import nn as enn

    from eqdesign.escnn_backend.modules import FixedGated

    model = build_escnn(_result(design_dir / "so3-exact.yaml").design, torch.float32, seed=0)
    gated = next(m for m in model.modules() if isinstance(m, FixedGated))
    x = torch.randn(5, gated.in_type.size)
    ours = gated(gated.in_type(x)).tensor
    theirs = enn.GatedNonLinearity1.forward(gated, gated.in_type(x)).tensor
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_tensor_product_forward(design_dir):
    """FixedTensorProduct: per channel, the projection matrix applied to x (x) x."""
    from eqdesign.escnn_backend.modules import FixedTensorProduct

    model = _model(design_dir / "so3-exact.yaml")
    tp = next(m for m in model.modules() if isinstance(m, FixedTensorProduct))
    c, d = tp._C, tp.in_type.representations[0].size
    x = torch.randn(3, c * d, dtype=torch.float64)
    matrix = tp.expand_parameters().reshape(c, d, d * d)
    xs = x.reshape(3, c, d)
    expected = torch.einsum("coi,bci->bco", matrix, torch.einsum("bci,bcj->bcij", xs, xs).reshape(3, c, d * d))
    assert torch.allclose(tp(tp.in_type(x)).tensor, expected.reshape(3, -1), atol=1e-12)


def test_models_do_not_share_bases_across_dtypes(design_dir):
    """escnn caches sampled bases process-wide; a float32 model built after a float64 one must still run."""
    r = _result(design_dir / "so3-exact.yaml")
    m64 = build_escnn(r.design, torch.float64, seed=0)
    m32 = build_escnn(r.design, torch.float32, seed=0)
    x = torch.randn(2, r.design.input.dim)
    assert m32(x).dtype == torch.float32
    assert m64(x.double()).dtype == torch.float64
    assert torch.allclose(m32(x).double(), m64(x.double()), atol=1e-4)


# -- grids -----------------------------------------------------------------------------------------------------


def test_grid_points_match_design(design_dir):
    paths = _case_paths(design_dir) + [p for p in _acceptance_files() if _buildable(_result(p))]
    notes = [f"{p.stem}: {n}" for p in paths for n in _model(p).notes if "grid points" in n]
    assert not notes, "\n".join(notes)
