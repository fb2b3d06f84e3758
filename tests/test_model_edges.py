"""Built models at the edges of their input: batches of 0 and 1 in every form (the compiled module, its
frozen copy, the TorchScript `.pt` and the torch.export `.pt2`), inputs of another layout refused with a
message that names the expected one, and batch norms refusing a training batch of one sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.escnn

#: gallery specs: a norm layer (after a tensor product), a gated layer, regular Fourier layers, and batch
#: norms in front of sphere Fourier layers
SPECS = {
    "norm": "specs/full-cylinder-norm.yaml",
    "gated": "specs/so3-gated-tensor-product.yaml",
    "fourier": "specs/so3-vector-mlp.yaml",
    "batch-norm": "specs/so3-mlp-batchnorm.yaml",
}


@pytest.fixture(scope="module")
def forms(escnn_models, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """spec -> {form: module}: the float32 compiled model in eval mode, its inference copy (``freeze``), and
    the two artifacts as `build` writes and a user loads them."""
    from eqdesign.escnn_backend.lower import compile_model
    from eqdesign.export.artifacts import save_artifacts
    from eqdesign.export.freeze import freeze

    out = tmp_path_factory.mktemp("edges")
    result: dict[str, dict[str, Any]] = {}
    for key, spec in SPECS.items():
        compiled = compile_model(escnn_models(ROOT / spec)[1], torch.float32).eval()
        save_artifacts(out, key, compiled, {}, {})
        result[key] = {
            "compiled": compiled,
            "frozen": freeze(compiled),
            "pt": torch.jit.load(str(out / f"{key}.pt")),
            "pt2": torch.export.load(str(out / f"{key}.pt2")).module(),
        }
    return result


@pytest.mark.parametrize("form", ["compiled", "frozen", "pt", "pt2"])
@pytest.mark.parametrize("spec", SPECS)
def test_batches_of_zero_and_one_give_the_rows_of_a_larger_batch(forms, spec: str, form: str) -> None:
    """In eval mode every sample is mapped on its own: a batch of one gives that sample's row of a larger
    batch, an empty batch an empty (0, output_dim) result (it crashed in a norm layer's reshape)."""
    model = forms[spec][form]
    reference = forms[spec]["compiled"]
    x = torch.randn(5, reference.input_dim, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        full = model(x)
        one, empty = model(x[:1]), model(x[:0])
    assert full.shape == (5, reference.output_dim) and bool(torch.isfinite(full).all())
    assert one.shape == (1, reference.output_dim) and torch.allclose(one, full[:1], rtol=1e-5, atol=1e-6)
    assert empty.shape == (0, reference.output_dim)


def _misfits(input_dim: int) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(5)
    return {
        "float64": torch.randn(3, input_dim, generator=gen, dtype=torch.float64),
        "last dimension": torch.randn(3, input_dim + 1, generator=gen),
        "one sample as 1-D": torch.randn(input_dim, generator=gen),
        "3-D": torch.randn(2, 3, input_dim, generator=gen),
    }


@pytest.mark.parametrize("form", ["compiled", "frozen", "pt"])
@pytest.mark.parametrize("spec", SPECS)
def test_an_input_of_another_layout_is_refused_naming_the_expected_one(forms, spec: str, form: str) -> None:
    model = forms[spec][form]
    dim = forms[spec]["compiled"].input_dim
    for label, x in _misfits(dim).items():
        for grad in (False, True):  # inference and training both check the input first
            with torch.set_grad_enabled(grad), pytest.raises(Exception) as caught:
                model(x)
            message = str(caught.value)
            assert f"float32 tensor of shape (batch, input_dim) = (batch, {dim})" in message, (label, message)
            assert f"tensor of shape {list(x.shape)}" in message, (label, message)
            assert "mat1" not in message and "reshape" not in message, (label, message)


# -- batch norms in training mode: a batch of one is refused, nothing is updated ------------------------------

BATCH_NORMS = """\
name: bn-both
group: octa
input: "1x T1"
output: "1x T1 + 1x A1"
hidden:
  - {nonlinearity: elu, channels: 3, norm: iid_batch}
  - {nonlinearity: norm_relu, fields: "4x T1 + 2x E", norm: norm_batch}
"""


def _statistics(model: Any) -> dict[str, Any]:
    return {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}


@pytest.mark.parametrize("spec", ["gallery", "both"])
def test_a_training_batch_of_one_is_refused_and_leaves_the_statistics_alone(spec: str, escnn_models, tmp_path: Path) -> None:
    """escnn's IIDBatchNorm1d returns NaN on a training batch of one (Bessel's correction divides by zero)
    and writes NaN into its running statistics, after which every eval output is NaN. Every form that trains
    (the escnn model, the compiled module, the TorchScript `.pt`, torch.compile) raises torch's own batch
    norm error instead, before a statistic moves; batches of two or more train as before."""
    from eqdesign.commands.check import check_file
    from eqdesign.escnn_backend.builder import build_escnn
    from eqdesign.escnn_backend.lower import compile_model
    from eqdesign.escnn_backend.probes import _restored

    if spec == "gallery":
        model = escnn_models(ROOT / SPECS["batch-norm"])[1]
    else:
        (tmp_path / "bn.yaml").write_text(BATCH_NORMS)
        model = build_escnn(check_file(tmp_path / "bn.yaml").design, torch.float64, seed=0)
    compiled = compile_model(model, torch.float32)
    scripted = torch.jit.script(compile_model(model, torch.float32))
    candidates = {"escnn": model, "compiled": compiled, "pt": scripted, "torch.compile": torch.compile(compiled, backend="eager")}
    with _restored(model):  # the session's shared escnn model gets its statistics and mode back
        for name, candidate in candidates.items():
            candidate.train()
            owner = compiled if name == "torch.compile" else candidate
            before = _statistics(owner)
            dtype = torch.float64 if name == "escnn" else torch.float32
            for b in (1, 0):
                with pytest.raises(Exception, match="Expected more than 1 value per channel when training") as caught:
                    candidate(torch.randn(b, compiled.input_dim, dtype=dtype))
                assert "at least 2 samples per batch" in str(caught.value), name
            after = _statistics(owner)
            assert all(torch.equal(before[k], after[k]) for k in before), name
            candidate(torch.randn(2, compiled.input_dim, dtype=dtype)).sum().backward()  # two samples train
            assert all(bool(torch.isfinite(v).all()) for v in _statistics(owner).values()), name
            assert any(not torch.equal(before[k], v) for k, v in _statistics(owner).items()), name
            candidate.eval()
            with torch.no_grad():
                assert bool(torch.isfinite(candidate(torch.randn(1, compiled.input_dim, dtype=dtype))).all()), name
    model.zero_grad(set_to_none=True)
