"""A tensor product runs its channels in groups whose distinct products fit a cache (SQUARE_BYTES): every
grouping computes the same map, in eager mode, as TorchScript and under torch.export (whose groups are fixed,
so that the saved trainable module converts to torch.export and ONNX)."""

from __future__ import annotations

import copy
import io
import zipfile

import pytest
import torch

from eqdesign.export.artifacts import program_of_script
from eqdesign.export.modules import (
    REFERENCE_BATCH,
    SQUARE_BYTES,
    STATIC_SQUARE_BYTES,
    CompiledModel,
    FourierAct,
    FrozenTensorProduct,
    TensorProductAct,
    channel_group,
    project_square,
    square_group,
    symmetric_pairs,
)


def _reference(x: torch.Tensor, square_maps: torch.Tensor, channels: int, d: int) -> torch.Tensor:
    """Batch-first and channel by channel: y_c = W_c (x_c (x) x_c), W_c a (d_out, d^2) map of the full square."""
    v = x.view(x.shape[0], channels, d)
    out = [torch.einsum("bi,bj,oij->bo", v[:, c], v[:, c], square_maps[c].view(-1, d, d)) for c in range(channels)]
    return torch.cat(out, dim=1)


def _folded(square_maps: torch.Tensor, d: int) -> torch.Tensor:
    """Full-square maps -> maps of the distinct products: the columns (i, j) and (j, i) add up."""
    i, j = symmetric_pairs(d)
    both = square_maps.view(*square_maps.shape[:-1], d, d)
    both = both + both.transpose(-1, -2) - torch.diag_embed(torch.diagonal(both, dim1=-2, dim2=-1))
    return both[..., i, j]


@pytest.mark.parametrize("group", [1, 2, 3, 7])
def test_every_grouping_projects_the_same_square(group: int) -> None:
    """7 channels of a 4-dimensional field in groups of 1, 2, 3 (a shorter last group) and 7 (one group)."""
    torch.manual_seed(0)
    channels, d, d_out, batch = 7, 4, 5, 33
    square_maps = torch.randn(channels, d_out, d * d, dtype=torch.float64)
    x = torch.randn(batch, channels * d, dtype=torch.float64)
    i, j = symmetric_pairs(d)
    got = project_square(x, _folded(square_maps, d), channels, d, d_out, i, j, group)
    torch.testing.assert_close(got, _reference(x, square_maps, channels, d), rtol=1e-12, atol=1e-12)


def test_groups_fit_the_budget() -> None:
    for channels, per in ((43, 512 * 45 * 4), (43, 4096 * 45 * 4), (5, 10), (3, SQUARE_BYTES * 2)):
        g = channel_group(channels, per, SQUARE_BYTES)
        assert 1 <= g <= channels
        assert g == 1 or g * per <= SQUARE_BYTES  # one channel runs alone even where it is larger
        assert g == channels or (g + 1) * per > SQUARE_BYTES  # and no more groups than the budget needs


def _layer(channels: int, d: int) -> tuple[TensorProductAct, torch.Tensor]:
    """A layer of ``channels`` channels whose 3 weights each act on every channel (the general basis form), and
    its (channels, d, d^2) maps of the full square."""
    torch.manual_seed(1)
    basis, weights = torch.randn(3, channels * d, d * d), torch.randn(3)
    return TensorProductAct(basis, weights, channels, d, d), torch.einsum("k,kom->om", weights, basis).view(channels, d, d * d)


def test_traced_and_scripted_forms_agree_with_eager_whatever_the_group() -> None:
    """40 channels of 9 dimensions: torch.export runs groups sized for REFERENCE_BATCH (8 channels), eager mode
    groups sized for each batch (all 40 at batch 3, fewer at batch 3000); the outputs agree."""
    layer, square_maps = _layer(40, 9)
    assert layer.static_group == channel_group(40, REFERENCE_BATCH * 45 * 4, STATIC_SQUARE_BYTES) < 40
    frozen = FrozenTensorProduct(layer)
    exported = torch.export.export(
        copy.deepcopy(frozen), (torch.randn(4, 360),), dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}}
    )
    scripted = torch.jit.script(copy.deepcopy(layer))
    for batch in (3, 3000):
        assert (square_group(torch.zeros(batch, 1), 40, 45, SQUARE_BYTES, 4) < 40) is (batch == 3000)
        x = torch.randn(batch, 360)
        with torch.no_grad():
            eager = layer(x)
            torch.testing.assert_close(eager.double(), _reference(x.double(), square_maps.double(), 40, 9), rtol=1e-4, atol=1e-3)
            torch.testing.assert_close(frozen(x), eager, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(exported.module()(x), eager, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(scripted(x), eager, rtol=1e-5, atol=1e-5)


def test_training_gradients_do_not_depend_on_the_grouping() -> None:
    """The backward pass through groups of 1 and through one group gives the same gradients."""
    layer, _ = _layer(6, 3)
    x = torch.randn(20, 18, dtype=torch.float32, requires_grad=True)
    grads = []
    for group in (1, 6):
        layer.zero_grad(set_to_none=True)
        x.grad = None
        y = project_square(x, layer.matrix(), 6, 3, 3, layer.pair_i, layer.pair_j, group)
        y.square().sum().backward()
        assert layer.weight.grad is not None and x.grad is not None
        grads.append((layer.weight.grad.clone(), x.grad.clone()))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grads[0][1], grads[1][1], rtol=1e-5, atol=1e-5)


def _saved_code(module: torch.nn.Module) -> str:
    """The Python code TorchScript saves for ``module`` (what torch.jit.load runs)."""
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buffer)
    with zipfile.ZipFile(buffer) as z:
        return "".join(z.read(n).decode() for n in z.namelist() if n.endswith(".py"))


def test_the_saved_trainable_module_holds_no_branch_on_the_batch_and_exports() -> None:
    """A model of a tensor product and a Fourier activation, scripted and saved as build saves NAME.pt: its
    code reads no element size and no compiling flag (the groups are the fixed ones, sized for
    REFERENCE_BATCH), and torch's converter turns it into a torch.export program whose batch is dynamic and
    whose outputs are the eager model's at any batch."""
    layer, _ = _layer(40, 9)
    grid = torch.randn(50, 9, dtype=torch.float32)
    fourier = FourierAct(grid, torch.linalg.pinv(grid), 40, "elu")
    model = CompiledModel([layer, fourier], 360, 360)
    code = _saved_code(model)
    assert "static_group" in code and "element_size" not in code and "is_compiling" not in code
    program = program_of_script(torch.jit.script(copy.deepcopy(model)), 360)
    for batch in (1, 5, 700):
        x = torch.randn(batch, 360)
        with torch.no_grad():
            torch.testing.assert_close(program.module()(x), model(x), rtol=1e-5, atol=1e-5)
