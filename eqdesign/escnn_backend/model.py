"""The built escnn model of a design: its layers applied to plain tensors, and generic parameter draws."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..analysis.design import Design, DesignLayer, Nonlinear
from ..export.norms import check_training_batch
from ..theory.group import FloatArray
from .compat import enn, he_std
from .edges import embedding
from .modules import BiasOnly
from .norms import NORMALIZATIONS


def _tensor(matrix: FloatArray | None) -> torch.Tensor:
    return torch.zeros(0, dtype=torch.float64) if matrix is None else torch.as_tensor(matrix, dtype=torch.float64)


def activation_module(module: Any) -> Any:
    """A hidden layer's nonlinearity: the module itself, or the last of its normalization and it."""
    return list(module.children())[-1] if isinstance(module, enn.SequentialModule) else module


@dataclass
class BuiltLayer:
    """One layer of the design and the escnn module built for it."""

    layer: DesignLayer
    module: Any  # an escnn EquivariantModule (escnn is untyped)

    @property
    def params(self) -> int:
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)

    @property
    def in_size(self) -> int:
        size: int = self.module.in_type.size
        return size

    @property
    def out_size(self) -> int:
        size: int = self.module.out_type.size
        return size


class EscnnModel(torch.nn.Module):
    """The escnn layers of a design, applied to plain tensors (batch, input dim) -> (batch, output dim)."""

    def __init__(self, design: Design, G: Any, gspace: Any, built: list[BuiltLayer], notes: list[str]) -> None:
        super().__init__()
        self.design, self.G, self.gspace = design, G, gspace
        self.layers = torch.nn.ModuleList([b.module for b in built])
        self._built = built
        self.notes = notes  # discrepancies between escnn and the design worth reporting (grid sizes, ...)
        # Cartesian tensor fields: the fixed maps between their components and the irreps escnn computes with
        self.register_buffer("embed_in", _tensor(embedding(G, design.input)))
        self.register_buffer("embed_out", _tensor(embedding(G, design.output)))
        self.embed_in: torch.Tensor
        self.embed_out: torch.Tensor

    @property
    def built(self) -> list[BuiltLayer]:
        return self._built

    def adopt(self, design: Design) -> None:
        """Carry ``design``, a copy of the model's design with other grids (auto grids chosen): each built
        layer is labelled with its hidden layer of that design, the escnn modules are kept."""
        hidden = {x.index: x for x in design.hidden}
        self.design = design
        self._built = [BuiltLayer(hidden[b.layer.index] if isinstance(b.layer, Nonlinear) else b.layer, b.module) for b in self._built]

    def built_module(self, layer: DesignLayer) -> Any:
        """The escnn module built for a layer of the design (matched by position: tuned designs hold copies)."""
        return next(b.module for b in self._built if type(b.layer) is type(layer) and b.layer.index == layer.index)

    @property
    def in_width(self) -> int:
        """The model's input columns (a Cartesian tensor field takes all its components)."""
        return self.design.input.width

    @property
    def out_width(self) -> int:
        return self.design.output.width

    @property
    def in_type(self) -> Any:
        return self.layers[0].in_type

    @property
    def out_type(self) -> Any:
        return self.layers[-1].out_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:  # escnn's batch norms return NaN on a batch of one, and keep it: refused, as the compiled twins refuse it
            for kind in {nl.norm for nl in self.design.hidden if nl.norm in ("iid_batch", "norm_batch")}:
                check_training_batch(x, kind)
        if self.embed_in.numel():
            x = x @ self.embed_in
        x = self.core(x)
        return x @ self.embed_out.T if self.embed_out.numel() else x

    def core(self, x: torch.Tensor) -> torch.Tensor:
        """The escnn layers alone: irreps in, irreps out (what the model computes between its Cartesian edges)."""
        m: Any
        for m in self.layers:
            x = m(m.in_type(x)).tensor
        return x

    def params(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def input_matrix(self, g: Any) -> FloatArray:
        return np.asarray(self.in_type.representation(g))

    def output_matrix(self, g: Any) -> FloatArray:
        return np.asarray(self.out_type.representation(g))

    @torch.no_grad()
    def reinitialize(
        self, seed: int, bias_scale: float = 1.0, norm_log_bias: tuple[float, float] = (-2.0, 1.0), norm_scale: float = 1.0
    ) -> EscnnModel:
        """Generic random parameters: every weight and every bias redrawn (escnn starts biases at zero).

        Weights follow escnn's generalized He initialisation, biases N(0, bias_scale^2). Norm nonlinearities
        get log-biases N(mean, std^2) from ``norm_log_bias``: thresholds well below the field norms, so that
        small but genuine signals (a cubic invariant, say) are not cut off everywhere. Normalizations get
        scales ``norm_scale`` * N(1, 0.25^2) and biases like the others."""
        gen = torch.Generator().manual_seed(seed)

        def randn(p: torch.Tensor) -> torch.Tensor:
            return torch.randn(p.shape, generator=gen, dtype=torch.float64).to(p.dtype)

        for m in self.modules():
            if isinstance(m, (enn.Linear, enn.TensorProductModule)):
                if m.weights.numel():
                    variances = he_std(m)
                    m.weights.copy_(randn(m.weights) * variances.to(m.weights.dtype))
                if getattr(m, "bias", None) is not None:
                    m.bias.copy_(bias_scale * randn(m.bias))
            elif isinstance(m, BiasOnly):
                if m.bias is not None:
                    m.bias.copy_(bias_scale * randn(m.bias))
            elif isinstance(m, enn.GatedNonLinearity1):
                m.bias.copy_(randn(m.bias))
            elif isinstance(m, enn.NormNonLinearity) and m.log_bias is not None:
                mean, std = norm_log_bias
                m.log_bias.copy_(mean + std * randn(m.log_bias))
            elif isinstance(m, NORMALIZATIONS):  # scales near norm_scale, so that no field is switched off
                for name, p in m.named_parameters(recurse=False):
                    p.copy_(norm_scale * (1 + 0.25 * randn(p)) if name.endswith("weight") else bias_scale * randn(p))
        self.train(self.training)
        return self

    def state(self) -> dict[str, torch.Tensor]:
        """A copy of every parameter, to put back after measurements that redraw them."""
        return {k: v.detach().clone() for k, v in self.state_dict().items()}
