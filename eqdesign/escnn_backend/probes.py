"""What the numerical tests need from an escnn model: layer cases, representation matrices, irrep bases."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ..analysis.design import Design, FieldType
from ..export.freeze import freeze
from ..export.modules import CompiledModel
from ..export.orders import in_fields_order
from ..numerics.elements import Element, pick_elements, rep_stack
from ..numerics.equivariance import Fn
from ..numerics.influence import Measurement, approximate, measure_influence
from ..numerics.suite import LayerCase, ModelCase, is_exact, layer_name
from ..theory.group import FloatArray
from .builder import build_escnn
from .compat import gspaces
from .edges import boundary_matrix
from .families import IrrepId
from .model import EscnnModel
from .types import escnn_group, escnn_type


def _escnn_fn(module: Any) -> Fn:
    return lambda x: module(module.in_type(x)).tensor


def layer_cases(design: Design, model: EscnnModel, compiled64: CompiledModel, elements: list[Element]) -> list[LayerCase]:
    """Every layer, as escnn built it and as compiled, on the same representations (float64)."""
    cases = []
    orders = compiled64.column_orders
    for k, (built, lowered) in enumerate(zip(model.built, compiled64.layers, strict=True)):
        m = built.module
        rin = rep_stack(m.in_type.representation, elements, torch.float64)
        rout = rep_stack(m.out_type.representation, elements, torch.float64)
        fns: list[tuple[str, Fn]] = [("escnn", _escnn_fn(m)), ("compiled", in_fields_order(lowered, orders[k], orders[k + 1]))]
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
            x = torch.randn(32, model.in_width, generator=gen, dtype=torch.float64).to(dtype) * (1 + step)
            ref, out = model(x), compiled64(x)
            worst = max(worst, float((out - ref).norm() / ref.norm().clamp_min(1e-30)))
    return worst


def end_representations(model: EscnnModel, elements: list[Element], dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The representations of the model's input and output columns (Cartesian tensors as R^(x k))."""
    return _ends(model.G, model.design, model.in_type, model.out_type, elements, dtype)


def _ends(
    G: Any, design: Design, in_type: Any, out_type: Any, elements: list[Element], dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    def stack(t: FieldType, escnn_type: Any) -> torch.Tensor:
        rep = (lambda g: boundary_matrix(G, t, g)) if t.converted else escnn_type.representation
        return rep_stack(rep, elements, dtype)

    return stack(design.input, in_type), stack(design.output, out_type)


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
        y: torch.Tensor = self.model.core(x)  # in the irrep bases, before any Cartesian edge
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


def design_representations(design: Design, samples: int, seed: int, dtype: torch.dtype) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """The input and output representation matrices of a design at the elements a build would test (their
    names too), without building its model: what checking a user's own module against a spec needs."""
    top = max((i.freq for t in (design.input, design.output) for i in t.content()), default=1)
    gspace = gspaces.no_base_space(escnn_group(design.group, top + 1))
    in_type, out_type = escnn_type(gspace, design.input), escnn_type(gspace, design.output)
    elements = pick_elements(gspace.fibergroup, samples, seed)
    return element_names(elements), *_ends(gspace.fibergroup, design, in_type, out_type, elements, dtype)
