"""What the numerical tests need from an escnn model: layer cases, representation matrices, irrep bases."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ..analysis.design import Design
from ..export.freeze import freeze
from ..export.modules import CompiledModel
from ..numerics.elements import Element, rep_stack
from ..numerics.equivariance import Fn
from ..numerics.influence import Measurement, approximate, measure_influence
from ..numerics.suite import LayerCase, ModelCase, is_exact, layer_name
from ..theory.group import FloatArray
from .builder import build_escnn
from .families import IrrepId
from .model import EscnnModel


def _escnn_fn(module: Any) -> Fn:
    return lambda x: module(module.in_type(x)).tensor


def layer_cases(design: Design, model: EscnnModel, compiled64: CompiledModel, elements: list[Element]) -> list[LayerCase]:
    """Every layer, as escnn built it and as compiled, on the same representations (float64)."""
    cases = []
    for built, lowered in zip(model.built, compiled64.layers, strict=True):
        m = built.module
        rin = rep_stack(m.in_type.representation, elements, torch.float64)
        rout = rep_stack(m.out_type.representation, elements, torch.float64)
        fns: list[tuple[str, Fn]] = [("escnn", _escnn_fn(m)), ("compiled", lowered)]
        cases.append(LayerCase(layer_name(built.layer), is_exact(design, built.layer), fns, rin, rout))
    return cases


def model_cases(model: EscnnModel, compiled64: CompiledModel, compiled32: CompiledModel, elements: list[Element]) -> list[ModelCase]:
    """The models end to end, the float32 one also as its inference copy (``freeze``, what NAME.pt2 holds);
    with a batch norm, also in training mode (batch statistics: a whole batch transformed by one element),
    on copies, so that the tests leave the running statistics alone."""
    r64 = end_representations(model, elements, torch.float64)
    r32 = (r64[0].float(), r64[1].float())
    cases = [ModelCase("escnn", model, *r64), ModelCase("compiled", compiled64, *r64), ModelCase("compiled", compiled32, *r32)]
    cases.append(ModelCase("compiled, frozen", freeze(compiled32), *r32))
    if batch_normalized(model.design):
        cases += [ModelCase("escnn (training mode)", _in_training(model), *r64)]
        cases += [ModelCase("compiled (training mode)", _in_training(compiled64), *r64)]
    return cases


def batch_normalized(design: Design) -> bool:
    return any(nl.norm in ("iid_batch", "norm_batch") for nl in design.hidden)


@contextlib.contextmanager
def _restored(*modules: torch.nn.Module) -> Iterator[None]:
    """Whatever runs inside (training-mode calls that move running statistics) leaves the modules' state and
    mode as they were. A copy would not do: escnn keeps non-leaf tensors that cannot be deep-copied."""
    modes = [m.training for m in modules]
    for m in modules:
        m.train()  # in eval mode escnn adds its cached dense weights to the state: save without them
    saved = [{k: v.clone() for k, v in m.state_dict().items()} for m in modules]
    try:
        yield
    finally:
        for m, state, training in zip(modules, saved, modes, strict=True):
            m.train()
            m.load_state_dict(state)
            m.train(training)  # leaving training mode refreshes escnn's cached weights from the restored ones


def _in_training(module: torch.nn.Module) -> Fn:
    def call(x: torch.Tensor) -> torch.Tensor:
        with _restored(module):
            out: torch.Tensor = module.train()(x)
            return out

    return call


def training_agreement(model: EscnnModel, compiled64: torch.nn.Module, seed: int, steps: int = 3) -> float:
    """Largest relative difference between escnn and the compiled module (of one dtype) over a few training-mode
    batches, which update the running statistics, and in eval mode after them; both are put back after."""
    gen = torch.Generator().manual_seed(seed + 2)
    dtype = next(compiled64.parameters()).dtype
    worst = 0.0
    with _restored(model, compiled64), torch.no_grad():
        for step in range(steps + 1):
            model.train(step < steps), compiled64.train(step < steps)
            x = torch.randn(32, model.in_type.size, generator=gen, dtype=torch.float64).to(dtype) * (1 + step)
            ref, out = model(x), compiled64(x)
            worst = max(worst, float((out - ref).norm() / ref.norm().clamp_min(1e-30)))
    return worst


def end_representations(model: EscnnModel, elements: list[Element], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    return rep_stack(model.in_type.representation, elements, dtype), rep_stack(model.out_type.representation, elements, dtype)


def irrep_bases(ftype: Any, names: dict[IrrepId, str]) -> dict[str, FloatArray]:
    """Irrep name -> (type size, k) matrix whose columns span that irrep's coordinates (all its copies),
    orthonormal in the field type's coordinates. ``names`` maps escnn irrep ids to our names."""
    Q = np.asarray(ftype.representation.change_of_basis)
    cols: dict[str, list[int]] = {}
    p = 0
    for irr in ftype.representation.irreps:
        size = ftype.fibergroup.irrep(*irr).size
        cols.setdefault(names[tuple(irr)], []).extend(range(p, p + size))
        p += size
    return {name: np.linalg.qr(Q[:, idx])[0] for name, idx in cols.items()}


class EscnnSubject:
    """An escnn model as the influence measurement sees it."""

    def __init__(self, model: EscnnModel) -> None:
        content = model.design.input.content() + model.design.output.content()
        names = {tuple(i.eid): i.name for i in content}
        self.model = model
        self.in_dim: int = model.in_type.size
        self.dtype = next((p.dtype for p in model.parameters()), torch.float64)
        self.out_bases = irrep_bases(model.out_type, names)
        self.in_bases = irrep_bases(model.in_type, names)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.model(x)
        return y

    def redraw(self, seed: int, norm_log_bias_mean: float, bias_scale: float, norm_scale: float) -> None:
        self.model.reinitialize(seed, bias_scale=bias_scale, norm_log_bias=(norm_log_bias_mean, 1.0), norm_scale=norm_scale)


def measure(design: Design, model: EscnnModel | None = None, refinement: int = 2, **kwargs: Any) -> Measurement:
    """Measured influence of the design's escnn model (built here when not given; float64). The model's
    parameters are redrawn during the measurement and put back afterwards."""
    model = model or build_escnn(design, torch.float64)
    design = model.design  # the grids the model samples (auto grids as chosen): the finer grid refines those
    saved = model.state()
    try:
        refined = EscnnSubject(build_escnn(design, torch.float64, grid_refinement=refinement)) if approximate(design) else None
        return measure_influence(design, EscnnSubject(model), refined, **kwargs)
    finally:
        model.load_state_dict(saved)
        model.train(model.training)  # escnn caches expanded weights in eval mode: refresh them from the restored ones


def element_names(elements: Sequence[Any]) -> list[str]:
    return [str(g) for g in elements]
