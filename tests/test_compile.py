"""The plain-torch compilation: same function as escnn, Schur coefficients as the only linear parameters,
and exact equivariance that survives training."""

from __future__ import annotations

import pytest

from conftest import ROOT

pytestmark = pytest.mark.escnn

SPECS = [
    "tests/acceptance/acc12-so3-gated-scalar-gates-vector.yaml",
    "specs/so2-fourier-frequencies.yaml",
    "specs/c8-regular-elu.yaml",
    "specs/so3-gated-tensor-product.yaml",
    "specs/o2-circle-quotient.yaml",
]


def _model(spec: str):
    import torch

    from eqdesign.commands.check import check_file
    from eqdesign.escnn_backend.builder import build_escnn

    design = check_file(ROOT / spec).design
    return design, build_escnn(design, torch.float64, seed=0).reinitialize(0).eval()


@pytest.mark.parametrize("per_block", [True, False])
@pytest.mark.parametrize("spec", SPECS)
def test_compiled_matches_escnn_and_counts_schur_parameters(spec, per_block, monkeypatch):
    import torch

    import eqdesign.escnn_backend.lower_linear as lowering
    import eqdesign.export.blocks as blocks
    from eqdesign.escnn_backend.lower import compile_model

    monkeypatch.setattr(lowering, "choose_per_block", lambda *args, **kwargs: per_block)
    design, model = _model(spec)
    compiled = compile_model(model, torch.float64)
    assert all(layer.per_block == per_block for layer in compiled.layers if isinstance(layer, blocks.BlockLinear))
    x = torch.randn(7, model.in_type.size, dtype=torch.float64)
    with torch.no_grad():
        ref, out = model(x), compiled(x)
    assert float((out - ref).norm() / ref.norm()) < 1e-12
    linears = [m for m in compiled.layers if isinstance(m, blocks.BlockLinear)]
    assert [sum(p.numel() for p in m.parameters()) for m in linears] == [lin.params for lin in design.linears]
    assert sum(p.numel() for p in compiled.parameters() if p.requires_grad) == design.params


def test_training_with_plain_torch_keeps_exact_equivariance():
    import torch

    from eqdesign.escnn_backend.lower import compile_model
    from eqdesign.numerics.elements import pick_elements, rep_stack

    design, model = _model("specs/so3-gated-tensor-product.yaml")
    compiled = compile_model(model, torch.float64)
    before = [p.detach().clone() for p in compiled.parameters()]
    opt = torch.optim.SGD(compiled.parameters(), lr=0.01)
    for _ in range(5):  # arbitrary, non-equivariant loss: training must not be able to break the symmetry
        opt.zero_grad()
        compiled(torch.randn(16, model.in_type.size, dtype=torch.float64))[:, 0].mean().backward()
        opt.step()
    assert max(float((p - q).abs().max()) for p, q in zip(compiled.parameters(), before, strict=True)) > 1e-4  # it did train
    elements = pick_elements(model.G, 6, 1)
    rin, rout = (
        rep_stack(model.in_type.representation, elements, torch.float64),
        rep_stack(model.out_type.representation, elements, torch.float64),
    )
    x = torch.randn(8, model.in_type.size, dtype=torch.float64)
    with torch.no_grad():
        fx = compiled(x)
        for k in range(len(elements)):
            err = (compiled(x @ rin[k].T) - fx @ rout[k].T).norm() / fx.norm()
            assert float(err) < 1e-12
