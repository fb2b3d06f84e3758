"""The cost model of `check` (analysis.cost): the linear form the compiler picks, MACs per sample, and their
agreement with torch's operation count of the compiled module on every gallery spec."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eqdesign.analysis.cost import BlockShape, cost_of, linear_form
from eqdesign.commands.check import check_file

ROOT = Path(__file__).resolve().parents[1]
GALLERY = sorted((ROOT / "specs").glob("*.yaml"))


def test_the_linear_form_prefers_blocks_only_where_they_save_work() -> None:
    """SO(3) regular fields at band-limit 2, C channels: copies C, 3C, 5C of l = 0, 1, 2 (dimension 35C). The
    blocks need 153 C^2 multiply-adds per sample against (35C)^2 = 1225 C^2: 8x fewer, which pays for the
    gathers at 64 channels; at 2 channels the launches dominate (as lower_linear.choose_per_block decides)."""
    for channels, want in ((2, "dense"), (64, "per_block")):
        blocks = [BlockShape(2 * l + 1, 1, c * channels, c * channels) for l, c in ((0, 1), (1, 3), (2, 5))]
        assert linear_form(blocks, 35 * channels, 35 * channels, False, False) == want


def test_compiled_macs_of_the_flagship_from_its_widths() -> None:
    """so3-vector-mlp, every linear layer dense (small blocks): 4 -> 560 -> 72 -> 7 features, a Fourier layer
    of 16 channels (35 coefficients, 70 points of the starting rule) and a sphere layer of 8 (9, 14)."""
    cost = cost_of(check_file(ROOT / "specs" / "so3-vector-mlp.yaml").design)
    linears = 4 * 560 + 560 * 72 + 72 * 7
    assert [x.form for x in cost.layers if x.kind == "linear"] == ["dense"] * 3
    assert cost.total("compiled_macs") == linears + 2 * 16 * 70 * 35 + 2 * 8 * 14 * 9
    assert cost.total("plain_mlp_macs") == linears
    assert cost.total("activations") == 16 * 70 + 8 * 14
    assert cost.auto_grids == ("hidden[0]", "hidden[1]")


def test_batch_norms_fold_into_the_linear_before_them() -> None:
    cost = cost_of(check_file(ROOT / "specs" / "so3-mlp-batchnorm.yaml").design)
    assert [x.form for x in cost.layers if x.kind == "linear"] == ["dense (norm folded in)"] * 4 + ["dense"]


def test_check_json_reports_the_cost(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    done = run_cli("check", "--format", "json", str(ROOT / "specs" / "so3-gated-tensor-product.yaml"))
    spec = json.loads(done.stdout)["specs"][0]
    cost = spec["cost"]
    assert [x["layer"].split()[0] for x in cost["layers"]] == ["linear", "hidden[0]", "linear", "hidden[1]", "linear"]
    for key, total in cost["total"].items():
        assert total == sum(x[key] for x in cost["layers"])
    assert cost["total"]["params"] == spec["params"]


@pytest.mark.escnn
@pytest.mark.parametrize("spec", GALLERY, ids=lambda p: p.stem)
def test_cost_model_equals_torchs_operation_count(spec: Path, escnn_models) -> None:  # type: ignore[no-untyped-def]
    """flops / (2 B) of the compiled model's inference copy (``freeze``, whose matrices are assembled
    beforehand, as in the .pt2 that build exports) equals the compiled MACs per sample, exactly:
    FlopCounterMode counts the matrix products (mm, addmm, bmm, einsum), which are all the cost model counts;
    elementwise work is in neither. The model carries the design with its auto grids as build tuned them."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from eqdesign.escnn_backend.lower import compile_model
    from eqdesign.export.freeze import freeze

    _, model = escnn_models(spec)
    compiled = freeze(compile_model(model, torch.float64))
    batch = 7
    x = torch.randn(batch, compiled.input_dim, dtype=torch.float64)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        compiled(x)
    counts = {str(k): v for k, v in counter.get_flop_counts().get("Global", {}).items()}
    assert counter.get_total_flops() == 2 * batch * cost_of(model.design).total("compiled_macs"), counts


def _values_written(model, x) -> int:  # type: ignore[no-untyped-def]
    """Values the forward's operations write, matrix products and views left out (an independent count)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    skipped = {"mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "einsum", "_unsafe_view"}  # the last: a view matmul makes

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
            out = func(*args, **(kwargs or {}))
            if func.overloadpacket.__name__.rstrip("_") not in skipped and not func.is_view:
                Count.total += sum(t.numel() for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor))
            return out

    with torch.no_grad(), Count():
        model(x)
    return Count.total


@pytest.mark.escnn
@pytest.mark.parametrize("spec", GALLERY, ids=lambda p: p.stem)
def test_elementwise_work_is_what_the_compiled_model_writes(spec: Path, escnn_models) -> None:  # type: ignore[no-untyped-def]
    """The cost model's elementwise values per sample are within a factor of two of those the inference copy's
    operations write (every operation but matrix products and views, per sample: the difference between two
    batches, so that work done once per call does not count)."""
    import torch

    from eqdesign.escnn_backend.lower import compile_model
    from eqdesign.export.freeze import freeze

    _, model = escnn_models(spec)
    compiled = freeze(compile_model(model, torch.float64))
    counts = [_values_written(compiled, torch.randn(b, compiled.input_dim, dtype=torch.float64)) for b in (64, 128)]
    measured = (counts[1] - counts[0]) / 64
    predicted = cost_of(model.design).total("elementwise")
    assert 0.5 <= predicted / measured <= 2.0, (predicted, measured)


@pytest.mark.escnn
@pytest.mark.parametrize("spec", GALLERY, ids=lambda p: p.stem)
def test_forms_bases_and_endomorphisms_agree_with_the_compiler(spec: Path, escnn_models) -> None:  # type: ignore[no-untyped-def]
    """For every linear layer: the change-of-basis flags equal irrep_layout's on escnn's types, the form
    equals choose_per_block's, and each End(psi) basis has e * d nonzeros (e matrices of d nonzeros)."""
    import torch

    from eqdesign.analysis.cost import basis_change, block_shapes
    from eqdesign.analysis.design import Linear, Nonlinear
    from eqdesign.escnn_backend.lower_linear import choose_per_block, compile_linear, irrep_layout

    _, model = escnn_models(spec)
    layers = model.design.layers
    for k, built in enumerate(model.built):
        if not isinstance(built.layer, Linear) or not built.layer.blocks:
            continue
        before = layers[k - 1] if k > 0 and isinstance(layers[k - 1], Nonlinear) else None
        after = layers[k + 1] if k + 1 < len(layers) and isinstance(layers[k + 1], Nonlinear) else None
        q_in, q_out = (irrep_layout(t)[0] is not None for t in (built.module.in_type, built.module.out_type))
        assert (q_in, q_out) == (
            basis_change(model.design.group, built.layer.in_type, before),
            basis_change(model.design.group, built.layer.out_type, after),
        )
        compiled = compile_linear(built.module, torch.float64)
        for block in compiled.blocks:
            assert int(torch.count_nonzero(block.endo)) == block.e * block.d
        shapes = block_shapes(built.layer)
        want = choose_per_block(list(compiled.blocks), compiled.in_dim, compiled.out_dim, q_in, q_out)
        assert (linear_form(shapes, compiled.in_dim, compiled.out_dim, q_in, q_out) == "per_block") is want
