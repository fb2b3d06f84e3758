"""Normalization layers (norm: iid_batch | norm_batch | layer): what check says of them, and what build
makes of them, against escnn's own modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from eqdesign.commands.check import check_file

SPEC = """\
name: {name}
group: so3
input: "1x0 + 1x1"
output: "1x0 + 1x1"
hidden:
  - {{nonlinearity: norm_relu, fields: "8x0 + 8x1", norm: {norm}}}
"""
FOURIER = """\
name: bn-fourier
group: so3
input: "1x1"
output: "1x2"
hidden:
  - {nonlinearity: quotient_fourier_elu, band_limit: 1, channels: 3, norm: iid_batch}
  - {nonlinearity: fourier_elu, band_limit: 2, channels: 2, norm: layer}
  - {nonlinearity: norm_relu, fields: "4x1 + 2x2", norm: norm_batch}
tests: {tolerance: 0.05, scales: [0.3, 1.0, 3.0]}
"""


def _check(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return check_file(path)


@pytest.mark.parametrize(
    "norm, influence",
    [
        ("iid_batch", {"0": ["0"], "1": ["1"]}),  # an affine map per irrep: the paths stay apart
        ("norm_batch", None),  # refused: the scalars hold the trivial irrep
        ("layer", {"0": ["0", "1"], "1": ["0", "1"]}),  # one scale from every field couples them all
    ],
)
def test_normalization_mixes_nothing_but_the_layer_norm_couples(tmp_path: Path, norm: str, influence: dict[str, list[str]] | None) -> None:
    result = _check(tmp_path, SPEC.format(name=norm.replace("_", "-"), norm=norm))
    if influence is None:
        [finding] = [f for f in result.findings if f.severity.value == "error"]
        assert (finding.rule_id, finding.location.line, finding.location.column) == ("EQ104", 6, 58)
        assert "these fields hold one: 0" in finding.message and "iid_batch" in finding.hint
        return
    assert result.influence == influence
    assert ("EQ203" in {f.rule_id for f in result.findings}) is (norm != "layer")


def test_counts_follow_the_fields(tmp_path: Path) -> None:
    """Scale per field; IID: a bias per trivial irrep, a running variance per field and a running mean of
    each field that holds a trivial irrep (escnn keeps the whole field's); norm_batch: scale and variance
    per field; the layer norm keeps no statistics."""
    result = _check(tmp_path, FOURIER)
    assert result.design is not None and not [f for f in result.findings if f.severity.value == "error"]
    sphere, regular, irreps = result.design.hidden
    # 3 sphere(L=1) channels (0 + 1: dim 4): 3 scales + 3 biases; 3 variances + 3 x 4 means
    assert (sphere.norm_params, sphere.norm_stats) == (6, 15)
    # 2 regular(L=2) channels: 2 scales + 2 biases; no statistics
    assert (regular.norm_params, regular.norm_stats) == (4, 0)
    # 6 fields, no trivial irrep: 6 scales, 6 variances
    assert (irreps.norm_params, irreps.norm_stats) == (6, 6)
    assert result.design.params == sum(x.params for x in result.design.layers)
    assert sphere.params == sphere.own_params + 6


# -- build: escnn's modules, their compiled twins, both modes ------------------------------------------------

GALLERY = Path(__file__).resolve().parents[1] / "specs" / "so3-mlp-batchnorm.yaml"
EXACT = """\
name: bn-exact
group: octa
input: "1x T1"
output: "1x T1 + 1x A1"
hidden:
  - {nonlinearity: elu, channels: 3, norm: iid_batch}
  - {nonlinearity: norm_relu, fields: "4x T1 + 2x E", norm: norm_batch}
  - {nonlinearity: elu, channels: 2, norm: layer}
"""


@pytest.mark.escnn
@pytest.mark.parametrize("spec", ["gallery", "fourier", "exact"])
def test_counts_equal_escnns_and_the_twins_agree_in_both_modes(spec: str, tmp_path: Path, escnn_models) -> None:  # type: ignore[no-untyped-def]
    import torch

    from eqdesign.escnn_backend.builder import build_escnn
    from eqdesign.escnn_backend.lower import compile_model
    from eqdesign.escnn_backend.norms import NORMALIZATIONS, norm_counts
    from eqdesign.escnn_backend.probes import training_agreement

    if spec == "gallery":
        result, model = escnn_models(GALLERY)
    else:
        result = _check(tmp_path, FOURIER if spec == "fourier" else EXACT)
        model = build_escnn(result.design, torch.float64, seed=0)
    norms = [m for m in model.modules() if isinstance(m, NORMALIZATIONS)]
    hidden = [nl for nl in result.design.hidden if nl.norm]
    assert [norm_counts(m) for m in norms] == [(nl.norm_params, nl.norm_stats) for nl in hidden]
    assert model.params() == result.design.params
    # the float32 twins against escnn's float32 model: training batches (running statistics updated), then eval
    model32 = build_escnn(result.design, torch.float32, seed=0)
    assert training_agreement(model32, compile_model(model32, torch.float32), seed=1) < 1e-5
    assert training_agreement(model, compile_model(model, torch.float64), seed=1) < 1e-12


@pytest.mark.escnn
def test_build_tests_both_modes_keeps_exact_layers_exact_and_measures_the_coupling(tmp_path: Path) -> None:
    from eqdesign.commands.build import BuildOptions, build_spec

    path = tmp_path / "exact.yaml"
    path.write_text(EXACT)
    result = build_spec(str(path), str(tmp_path / "out"), options=BuildOptions(write=False))
    assert result.ok, result.failures
    names = [e["name"] for e in result.equivariance]
    assert {"escnn (training mode) end-to-end (float64)", "compiled (training mode) end-to-end (float64)"} <= set(names)
    assert "compiled, frozen end-to-end (float32)" in names  # the inference copy NAME.pt2 holds, norms folded
    assert all(e["exact"] and e["max_rel"] < 1e-9 for e in result.equivariance if "float64" in e["name"] or "end-to-end" not in e["name"])
    # the layer norm of the last layer makes the invariant output depend on the vector input and back
    layered = tmp_path / "layer.yaml"
    layered.write_text(SPEC.format(name="layer", norm="layer"))
    coupled = build_spec(str(layered), None, options=BuildOptions(write=False))
    assert coupled.ok, coupled.failures
    assert coupled.influence["measured"] == coupled.influence["static"] == {"0": ["0", "1"], "1": ["0", "1"]}


@pytest.mark.escnn
def test_inference_folds_batch_norms_into_the_linear_layers(escnn_models) -> None:  # type: ignore[no-untyped-def]
    import torch

    from eqdesign.escnn_backend.lower import compile_model
    from eqdesign.export.blocks import DenseLinear
    from eqdesign.export.freeze import freeze

    _, model = escnn_models(GALLERY)
    compiled = compile_model(model, torch.float64).eval()
    frozen = freeze(compiled)
    kinds = [type(layer).__name__ for layer in frozen.layers]
    assert "Sequential" not in kinds and kinds.count("DenseLinear") == 5  # four norms folded, nothing left of them
    assert all(isinstance(frozen.layers[k], DenseLinear) for k in range(0, len(kinds), 2))
    x = torch.randn(64, compiled.input_dim, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        expected = compiled.forward(x)  # unfrozen: the norms applied one by one
    assert float((frozen(x) - expected).norm() / expected.norm()) < 1e-12
