"""The column orders between a compiled model's layers (export.orders) and the tensor product's own backward
(export.square_grad): the same function and the same gradients as the model in escnn's order, with the
gathers gone where the layers can read each other's order."""

from __future__ import annotations

import pytest
import torch

from conftest import ROOT
from eqdesign.export.modules import square_bmm, symmetric_pairs
from eqdesign.export.square_grad import SquareProjection

#: wide enough that the linear layers between the nonlinear ones run per block (physics-sized, as design picks)
WIDE = """
name: wide-tensor-gated
group: so3
input: "2x vector + 1x 0"
output: "1x sym_matrix"
hidden:
  - {nonlinearity: tensor_product, field: "1x0 + 1x1 + 1x2", channels: 40}
  - {nonlinearity: gated, fields: "40x1 + 40x2", scalars: 40}
  - {nonlinearity: gated, fields: "40x1 + 40x2", scalars: 40}
"""
#: tensor product, gated, norm and pointwise layers between linear layers
SPECS = [
    "wide",
    "specs/so3-stress-tensor.yaml",
    "specs/so3-gated-tensor-product.yaml",
    "specs/full-cylinder-norm.yaml",
    "specs/octa-elu-gated.yaml",
    "specs/so2-gated.yaml",
    "specs/cylinder-tensor-product.yaml",
]


@pytest.mark.parametrize("group", [1, 2, 5])
def test_the_square_backward_is_autograds(group: int) -> None:
    """SquareProjection's gradients equal autograd's through the plain products, for pairs in any order."""
    gen = torch.Generator().manual_seed(group)
    i, j = symmetric_pairs(4)
    perm = torch.randperm(4, generator=gen)
    i, j = perm[i], perm[j]  # the pairs as a component-major layer holds them: permuted
    v = torch.randn(5, 4, 7, dtype=torch.float64, generator=gen, requires_grad=True)
    m = torch.randn(5, 3, 10, dtype=torch.float64, generator=gen, requires_grad=True)
    grad = torch.randn(5, 3, 7, dtype=torch.float64, generator=gen)
    ours = torch.autograd.grad(SquareProjection.apply(v, m, i, j, group), (v, m), grad)
    plain = torch.autograd.grad(square_bmm(v, m, i, j, 5, 5), (v, m), grad)
    for a, b in zip(ours, plain, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda a, b: SquareProjection.apply(a, b, i, j, group), (v, m))


def test_the_square_backward_skips_what_needs_no_gradient() -> None:
    v = torch.randn(2, 3, 4, dtype=torch.float64)
    m = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    i, j = symmetric_pairs(3)
    (gm,) = torch.autograd.grad(SquareProjection.apply(v, m, i, j, 1).sum(), (m,))
    expected = (v.index_select(1, i) * v.index_select(1, j)).sum(2, keepdim=True).transpose(1, 2).expand(2, 3, 6)
    torch.testing.assert_close(gm, expected)


def _compiled(spec: str, arranged: bool, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import eqdesign.escnn_backend.lower as lower
    from eqdesign.analysis.checking import check_file, check_text
    from eqdesign.escnn_backend.builder import build_escnn

    with monkeypatch.context() as patch:
        if not arranged:
            patch.setattr(lower, "arrange", lambda layers: [None] * (len(layers) + 1))
        design = (check_text(WIDE, "wide.yaml") if spec == "wide" else check_file(ROOT / spec)).design
        model = build_escnn(design, torch.float64, seed=0).reinitialize(0)
        return model, lower.compile_model(model, torch.float64).train()


@pytest.mark.escnn
@pytest.mark.parametrize("spec", SPECS)
def test_arranged_models_compute_and_train_as_in_escnns_order(spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs equal escnn's; gradients, for the input and every parameter, equal those of the model compiled
    in escnn's order (the same parameters, in train mode, through the tensor product's own backward)."""
    from eqdesign.export.modules import TensorProductAct

    model, ours = _compiled(spec, True, monkeypatch)
    _, plain = _compiled(spec, False, monkeypatch)
    for layer in ours.layers:
        if isinstance(layer, TensorProductAct):
            layer.square_bytes = 1  # groups of one channel: the training step runs square_grad's backward
    x = torch.randn(9, model.in_type.size, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model.eval()(x)
    grads = []
    for net in (ours, plain):
        xg = x.clone().requires_grad_(True)
        out = net(xg)
        with torch.no_grad():
            torch.testing.assert_close(net.eval()(x), ref, rtol=1e-10, atol=1e-10)
        grads.append(torch.autograd.grad(out.square().sum(), (xg, *net.parameters()), allow_unused=True))
    for a, b in zip(*grads, strict=True):
        assert (a is None) == (b is None)  # a parameter the function does not read (a norm's unused bias)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.escnn
def test_per_block_layers_read_tensor_products_and_gates_without_gathers(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a model of a tensor product and two gated layers every per-block layer between nonlinear ones reads
    its input as it comes and writes in place (its bias added in the trivial block's GEMM), and the tensor
    product writes in their order."""
    from eqdesign.export.blocks import BlockLinear
    from eqdesign.export.modules import TensorProductAct

    _, ours = _compiled("wide", True, monkeypatch)
    layers = list(ours.layers)
    inner = [m for k, m in enumerate(layers) if isinstance(m, BlockLinear) and m.per_block and 0 < k < len(layers) - 1]
    assert len(inner) == 2 and all(not m.gather_in and not m.gather_out and m.bias_block == 0 for m in inner)
    assert all(m.out_components for m in layers if isinstance(m, TensorProductAct))
