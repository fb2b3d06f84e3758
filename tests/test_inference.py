"""Inference forms of the compiled model: the assembled dense form, frozen copies (``freeze``), torch.compile
without graph breaks, and the cost model that picks per-block or dense linear layers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from eqdesign.escnn_backend.lower_linear import choose_per_block
from eqdesign.export.blocks import BlockLinear, DenseLinear, IrrepBlock
from eqdesign.export.modules import FrozenTensorProduct, TensorProductAct

ROOT = Path(__file__).resolve().parent.parent
SPECS = ["specs/so3-vector-mlp.yaml", "specs/ico-regular-elu.yaml", "specs/so3-gated-tensor-product.yaml", "specs/full-cylinder-norm.yaml"]


def _block(d: int, m_in: int, m_out: int, start_in: int, start_out: int) -> IrrepBlock:
    idx_in = torch.tensor([start_in + c * d + a for a in range(d) for c in range(m_in)])
    idx_out = torch.tensor([start_out + c * d + a for a in range(d) for c in range(m_out)])
    return IrrepBlock(idx_in, idx_out, torch.randn(1, m_out, m_in, dtype=torch.float64), torch.eye(d, dtype=torch.float64)[None])


def test_the_cost_model_prefers_blocks_only_where_they_save_work() -> None:
    """SO(3) regular fields at band-limit 2, C channels: copies C, 3C, 5C of l = 0, 1, 2 (dimension 35C). The
    blocks need 1 C^2 + 3 (3C)^2 + 5 (5C)^2 = 153 C^2 multiply-adds per sample against (35C)^2 = 1225 C^2:
    8x fewer, which pays for the gathers at 64 channels; at 2 channels the launches dominate."""
    for channels, want in ((2, False), (64, True)):
        blocks, start = [], 0
        for l, copies in ((0, channels), (1, 3 * channels), (2, 5 * channels)):
            blocks.append(_block(2 * l + 1, copies, copies, start, start))
            start += (2 * l + 1) * copies
        assert start == 35 * channels
        assert choose_per_block(blocks, start, start, False, False) is want


@pytest.mark.parametrize("with_bases", [False, True])
def test_dense_assembly_equals_the_per_block_form(with_bases: bool) -> None:
    """Also with changes of basis on both sides, where the dense form is one precomputed linear map of the
    coefficients (a gradient reaches the coefficients through it)."""
    blocks = [_block(1, 3, 2, 0, 0), _block(3, 2, 4, 3, 2)]
    gen = torch.Generator().manual_seed(3)
    q_in, q_out = (torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))[0] if with_bases else None for n in (9, 14))
    bias = torch.ones(1, dtype=torch.float64)
    layer = BlockLinear(q_in, q_out, blocks, torch.cat([b.out_index for b in blocks]), torch.tensor([0]), bias, 14, in_dim=9)
    assert (layer.w_map.numel() > 0) is with_bases
    x = torch.randn(5, 9, dtype=torch.float64)
    layer.per_block = True
    by_block = layer(x)
    layer.per_block = False
    assert torch.allclose(layer(x), by_block, atol=1e-12)
    assert torch.allclose(DenseLinear(*layer.dense())(x), by_block, atol=1e-12)
    layer(x).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())


@pytest.fixture(scope="module")
def compiled_models(escnn_models):
    from eqdesign.escnn_backend.lower import compile_model

    return {spec: compile_model(escnn_models(ROOT / spec)[1], torch.float64) for spec in SPECS}


@pytest.mark.escnn
@pytest.mark.parametrize("spec", SPECS)
def test_a_frozen_copy_computes_the_same_with_every_dense_layer_assembled_once(compiled_models, spec: str) -> None:
    from eqdesign.export.freeze import freeze

    model = compiled_models[spec]
    frozen = freeze(model)
    x = torch.randn(9, model.input_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(frozen(x), model(x), rtol=1e-10, atol=1e-12)
    for mine, theirs in zip(frozen.layers, model.layers, strict=True):
        if isinstance(theirs, BlockLinear):
            assert isinstance(mine, BlockLinear if theirs.per_block else DenseLinear)
        if isinstance(theirs, TensorProductAct):
            assert theirs.compact  # escnn's bases: one list of matrices shared by every channel
            assert isinstance(mine, FrozenTensorProduct)
    assert not any(p.requires_grad for p in frozen.parameters())
    assert any(p.requires_grad for p in model.parameters())  # the model itself is untouched


@pytest.mark.escnn
@pytest.mark.parametrize("spec", SPECS)
def test_torch_compile_takes_the_whole_model_in_one_graph(compiled_models, spec: str) -> None:
    from eqdesign.export.freeze import freeze

    torch._dynamo.reset()
    model = compiled_models[spec]
    x = torch.randn(6, model.input_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for candidate in (model, freeze(model)):
        explained = torch._dynamo.explain(candidate)(x)
        assert explained.graph_break_count == 0 and explained.graph_count == 1, explained.break_reasons
        compiled = torch.compile(candidate, fullgraph=True, backend="eager")
        assert torch.allclose(compiled(x), candidate(x), atol=1e-12)
    loss = torch.compile(model, fullgraph=True, backend="eager")(x).square().sum()
    loss.backward()  # training through the compiled graph reaches the Schur coefficients
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.zero_grad(set_to_none=True)


@pytest.mark.escnn
def test_eager_inference_sees_running_statistics_that_training_updated(escnn_models) -> None:
    """A batch-normalized model: a training-mode call updates the running statistics in place, and the next
    eval-mode call normalizes with the new statistics, as a copy frozen after the update does."""
    from eqdesign.escnn_backend.lower import compile_model
    from eqdesign.export.freeze import freeze

    model = compile_model(escnn_models(ROOT / "specs/so3-mlp-batchnorm.yaml")[1], torch.float64).eval()
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(7, model.input_dim, dtype=torch.float64, generator=gen)
    with torch.no_grad():
        before = model(x)
        model.train()
        model(3.0 * torch.randn(64, model.input_dim, dtype=torch.float64, generator=gen) + 1.0)  # running statistics move
        model.eval()
        after = model(x)
        assert not torch.allclose(after, before, atol=1e-6)
        assert torch.allclose(after, freeze(model)(x), rtol=1e-10, atol=1e-12)


@pytest.mark.escnn
def test_eval_calls_run_the_models_own_layers_with_their_hooks(compiled_models) -> None:
    """An eval-mode call without autograd runs the model's own layers: a forward hook on the model or on a
    layer fires, a hook for every module sees those layers, and a layer replaced after a call is the one
    that runs next."""
    import copy

    from torch import nn

    model = copy.deepcopy(compiled_models["specs/ico-regular-elu.yaml"]).eval()
    x = torch.randn(3, model.input_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    seen: list[str] = []
    with torch.no_grad():
        plain = model(x)
        handles = [
            model.register_forward_hook(lambda m, i, o: seen.append("model")),
            model.layers[0].register_forward_pre_hook(lambda m, i: seen.append("layer 0")),
        ]
        assert torch.allclose(model(x), plain, atol=1e-12) and seen == ["layer 0", "model"]
        for handle in handles:
            handle.remove()
        with nn.modules.module.register_module_forward_hook(lambda m, i, o: seen.append(type(m).__name__)):
            model(x)
        assert seen[2:] == [type(layer).__name__ for layer in model.layers] + ["CompiledModel"]
        model.layers[1] = nn.Identity()  # no activation: the model is linear now
        assert torch.allclose(model(x), model.layers[2](model.layers[0](x)), atol=1e-12)
        assert not torch.allclose(model(x), plain, atol=1e-6)
