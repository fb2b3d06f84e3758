"""A compiled model computes from its current weights, however they changed; the fast inference copy is an
explicit ``freeze``, a separate module that keeps the weights it was made from.

Each test changes the weights one way a user does (an optimizer step, load_state_dict, a write through
``.data``, a copy under no_grad, vector_to_parameters, a numpy array sharing the storage) after eval-mode
calls, and compares the next eval-mode call with a module built afresh from the escnn model and given the
new weights. The specs cover the two layers freeze assembles: a dense linear layer (ico, an ELU between two
linear layers) and a tensor product (SO(3), a tensor product then a gated layer)."""

from __future__ import annotations

import copy
import doctest
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from eqdesign.export.blocks import BlockLinear
from eqdesign.export.modules import CompiledModel, TensorProductAct

ROOT = Path(__file__).resolve().parent.parent
#: a model whose linear layers freeze assembles into dense ones, and one with a tensor product
SPECS = ["specs/ico-regular-elu.yaml", "specs/so3-gated-tensor-product.yaml"]

pytestmark = pytest.mark.escnn


@pytest.fixture(scope="module")
def twins(escnn_models) -> Callable[[str], CompiledModel]:  # type: ignore[no-untyped-def]
    """spec -> a new float64 compiled model of the spec's escnn model (its own tensors on every call)."""
    from eqdesign.escnn_backend.lower import compile_model

    return lambda spec: compile_model(escnn_models(ROOT / spec)[1], torch.float64)


def _input(model: CompiledModel) -> torch.Tensor:
    return torch.randn(6, model.input_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(7))


def _eval_call(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """An eager inference call, as a user writes it (twice: whatever a first call could keep, the second reuses)."""
    model.eval()
    with torch.no_grad():
        model(x)
        out: torch.Tensor = model(x)
    return out


def _expected(twins: Callable[[str], CompiledModel], spec: str, model: CompiledModel, x: torch.Tensor) -> torch.Tensor:
    """The output of a module built afresh, given the model's weights now."""
    fresh = twins(spec)
    fresh.load_state_dict(copy.deepcopy(model.state_dict()))
    return _eval_call(fresh, x)


def _other_weights(model: CompiledModel, seed: int) -> dict[str, torch.Tensor]:
    """Every parameter scaled and shifted at random: a state that computes another function."""
    gen = torch.Generator().manual_seed(seed)
    return {name: 1.5 * p.detach() + 0.3 * torch.randn(p.shape, dtype=p.dtype, generator=gen) for name, p in model.named_parameters()}


def _optimizer_step(model: CompiledModel, x: torch.Tensor) -> None:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model.train()
    optimizer.zero_grad()
    (model(x) - 1.0).square().mean().backward()
    optimizer.step()


def _load_state_dict(model: CompiledModel, x: torch.Tensor) -> None:
    model.load_state_dict({**model.state_dict(), **_other_weights(model, 1)})


def _through_data(model: CompiledModel, x: torch.Tensor) -> None:
    for p in model.parameters():
        p.data.mul_(3.0)  # the .data view has a version counter of its own


def _copy_without_grad(model: CompiledModel, x: torch.Tensor) -> None:
    """A soft target-network update: target <- (target + online) / 2."""
    online = _other_weights(model, 2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(0.5 * p + 0.5 * online[name])


def _vector_to_parameters(model: CompiledModel, x: torch.Tensor) -> None:
    vector = nn.utils.parameters_to_vector(model.parameters())
    nn.utils.vector_to_parameters(vector * 2.0 - 0.1, model.parameters())


def _numpy_view(model: CompiledModel, x: torch.Tensor) -> None:
    """Parameters that view numpy arrays, called once, then written through numpy (torch sees no write)."""
    arrays = [p.detach().numpy().copy() for p in model.parameters()]
    for p, array in zip(model.parameters(), arrays, strict=True):
        p.data = torch.from_numpy(array)
    _eval_call(model, x)
    for array in arrays:
        np.multiply(array, -2.0, out=array)


CHANGES: dict[str, Callable[[CompiledModel, torch.Tensor], None]] = {
    "optimizer step": _optimizer_step,
    "load_state_dict": _load_state_dict,
    "write through .data": _through_data,
    "copy under no_grad": _copy_without_grad,
    "vector_to_parameters": _vector_to_parameters,
    "numpy array sharing the storage": _numpy_view,
}


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_an_eval_call_after_the_weights_change_computes_from_the_new_weights(twins, spec: str, change: str) -> None:  # type: ignore[no-untyped-def]
    """Equal to a fresh module given the new weights, and different from the output before the change."""
    model = twins(spec)
    x = _input(model)
    before = _eval_call(model, x)
    CHANGES[change](model, x)
    after = _eval_call(model, x)
    torch.testing.assert_close(after, _expected(twins, spec, model, x), rtol=1e-10, atol=1e-12)
    assert not torch.allclose(after, before, rtol=1e-4, atol=1e-6), f"{change}: the output did not change"


@pytest.mark.parametrize("spec", SPECS)
def test_freeze_makes_a_separate_copy_that_keeps_the_weights_it_was_made_from(twins, spec: str) -> None:  # type: ignore[no-untyped-def]
    """The frozen copy computes what the model did when it was frozen; it shares no tensor with the model, so
    a later write to the model (here through .data) changes the model's outputs and not the copy's."""
    from eqdesign.export.freeze import freeze

    model = twins(spec)
    x = _input(model)
    training = model.train().training
    frozen = freeze(model)
    assert frozen is not model and model.training is training and not frozen.training  # the model is left in its mode
    assert any(isinstance(layer, (BlockLinear, TensorProductAct)) for layer in model.layers)
    made_from = _eval_call(model, x)
    torch.testing.assert_close(_eval_call(frozen, x), made_from, rtol=1e-10, atol=1e-12)
    ours = {t.data_ptr() for t in [*model.parameters(), *model.buffers()] if t.numel()}
    assert not ours & {t.data_ptr() for t in [*frozen.parameters(), *frozen.buffers()] if t.numel()}
    _through_data(model, x)
    torch.testing.assert_close(_eval_call(frozen, x), made_from, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(_eval_call(model, x), made_from, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(_eval_call(freeze(model), x), _eval_call(model, x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("what", [nn.Linear(2, 2), "model.pt", None])
def test_freeze_refuses_what_is_not_a_compiled_model_with_a_hint(what: Any) -> None:
    from eqdesign.export.freeze import freeze

    with pytest.raises(TypeError, match=r"freeze takes a compiled eqdesign model \(CompiledModel\), got \w+; pass the \.module"):
        freeze(what)


def test_freeze_names_the_module_of_a_build_and_the_frozen_pt2(twins, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Given a build's result (an object with the model as .module), or a model loaded from a .pt or a .pt2
    as build writes them, freeze says what to pass instead."""
    from types import SimpleNamespace

    from eqdesign.export.artifacts import load_artifact, save_artifacts
    from eqdesign.export.freeze import freeze

    model = twins(SPECS[0])
    with pytest.raises(TypeError, match=r"got SimpleNamespace; pass its \.module"):
        freeze(SimpleNamespace(module=model))
    save_artifacts(tmp_path, "m", model.float(), {}, {})
    with pytest.raises(TypeError, match=r"got RecursiveScriptModule; a loaded \.pt cannot be frozen: load the \.pt2"):
        freeze(load_artifact(tmp_path / "m.pt")[0])
    with pytest.raises(TypeError, match=r"; a loaded \.pt2 is the frozen copy already"):
        freeze(load_artifact(tmp_path / "m.pt2")[0])


def test_the_example_of_freeze_runs() -> None:
    """freeze's docstring example, as doctest runs it (from the repository root, where its spec lies)."""
    import eqdesign.export.freeze as module

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = [t for t in finder.find(module) if t.examples]
    assert [t.name for t in tests] == ["eqdesign.export.freeze.freeze"]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        for test in tests:
            runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
