"""escnn modules eqdesign builds with: escnn's own where they work, and the few it has to replace.

Workarounds for escnn 1.0.11 (docs/escnn-notes.md):

* ``TensorProductModule.forward`` uses ``.view`` on a non-contiguous tensor: fixed in a subclass;
* ``GatedNonLinearity1.forward`` allocates a float32 output: a subclass computes the same in the input's dtype;
* ``ELU`` is refused on the trivial irrep of direct-product groups: a plain elementwise wrapper;
* ``FourierELU`` cannot be built on the polyhedral groups: finite groups use ELU on regular fields (the
  whole regular representation) or an exact Fourier layer over all group elements (band-limited);
* a ``Linear`` with no valid weights crashes in ``forward``: such a layer is built as its bias alone;
* ``TensorProductModule`` refuses a field whose square holds none of its irreps: built as the zero map.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..export.modules import apply_activation
from ..theory.group import FloatArray
from ..theory.irreps import EscnnId
from .compat import egroup, enn


class BiasOnly(enn.EquivariantModule):  # type: ignore[misc]  # escnn is untyped: its base classes are Any to mypy
    """A linear layer with no equivariant weights (no irrep in common): its output is its bias alone.
    escnn's ``Linear`` crashes on such a layer."""

    def __init__(self, in_type: Any, out_type: Any) -> None:
        super().__init__()
        self.in_type, self.out_type = in_type, out_type
        G = out_type.fibergroup
        cols: list[FloatArray] = []
        p = 0
        for r in out_type.representations:
            q = 0
            for irr in r.irreps:
                size = G.irrep(*irr).size
                if G.irrep(*irr).is_trivial():
                    col = np.zeros(out_type.size)
                    col[p : p + r.size] = r.change_of_basis[:, q]
                    cols.append(col)
                q += size
            p += r.size
        expansion = np.stack(cols, axis=1) if cols else np.zeros((out_type.size, 0))
        self.register_buffer("bias_expansion", torch.tensor(expansion, dtype=torch.float64))
        self.bias = torch.nn.Parameter(torch.zeros(len(cols), dtype=torch.float64)) if cols else None

    def forward(self, input: Any) -> Any:
        x = input.tensor
        out = x.new_zeros(x.shape[0], self.out_type.size)
        if self.bias is not None:
            out = out + (self.bias_expansion.to(x.dtype) @ self.bias.to(x.dtype))
        return self.out_type(out)

    def evaluate_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape[:1] + (self.out_type.size,)


class ZeroMap(enn.EquivariantModule):  # type: ignore[misc]  # escnn is untyped: its base classes are Any to mypy
    """The zero map between two field types: a tensor product whose square holds none of the field's irreps
    (escnn's TensorProductModule refuses to construct it)."""

    def __init__(self, in_type: Any, out_type: Any) -> None:
        super().__init__()
        self.in_type, self.out_type = in_type, out_type

    def forward(self, input: Any) -> Any:
        x = input.tensor
        return self.out_type(x.new_zeros(x.shape[0], self.out_type.size))

    def evaluate_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape[:1] + (self.out_type.size,)


class Elementwise(enn.EquivariantModule):  # type: ignore[misc]  # escnn is untyped: its base classes are Any to mypy
    """ELU/ReLU applied coordinatewise; for field types escnn's ELU refuses (trivial irreps of direct
    products), where it is exactly what escnn's ELU would compute."""

    def __init__(self, in_type: Any, function: str, poly: torch.Tensor | None = None) -> None:
        super().__init__()
        self.in_type = self.out_type = in_type
        self.function = function
        self.register_buffer("poly", poly if poly is not None else torch.zeros(0))

    def forward(self, input: Any) -> Any:
        return self.out_type(apply_activation(input.tensor, self.function, self.poly.to(input.tensor.dtype)))

    def evaluate_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape


class FiniteFourierPointwise(enn.EquivariantModule):  # type: ignore[misc]  # escnn is untyped: its base classes are Any to mypy
    """Band-limited Fourier nonlinearity of a finite group, sampled on every group element (exact).

    The channel holds the irreps of the regular representation whose ids are kept; a channel's vector is
    mapped to a function on the group (the kept columns of the regular representation's change of basis),
    the activation is applied pointwise, and the result is projected back by least squares. The regular
    representation permutes group elements, so every step commutes with the group action."""

    def __init__(self, gspace: Any, channels: int, keep: set[EscnnId], function: str, poly: torch.Tensor | None = None) -> None:
        super().__init__()
        G = gspace.fibergroup
        reg = G.regular_representation
        cols: list[int] = []
        kept: list[Any] = []  # escnn irreps
        p = 0
        for irr in reg.irreps:
            size = G.irrep(*irr).size
            if tuple(irr) in keep:
                cols.extend(range(p, p + size))
                kept.append(G.irrep(*irr))
            p += size
        A = np.asarray(reg.change_of_basis)[:, cols]
        self.rho = egroup.directsum(kept) if len(kept) > 1 else kept[0]
        self.in_type = self.out_type = gspace.type(*[self.rho] * channels)
        self.channels, self.function = channels, function
        self.register_buffer("A", torch.tensor(A, dtype=torch.float64))
        self.register_buffer("Ainv", torch.tensor(np.linalg.pinv(A), dtype=torch.float64))
        self.register_buffer("poly", poly if poly is not None else torch.zeros(0))

    def forward(self, input: Any) -> Any:
        x = input.tensor
        b = x.shape[0]
        x = x.reshape(b, self.channels, self.rho.size)
        f = torch.einsum("bcf,gf->bcg", x, self.A.to(x.dtype))
        f = apply_activation(f, self.function, self.poly.to(x.dtype))
        y = torch.einsum("bcg,fg->bcf", f, self.Ainv.to(x.dtype))
        return self.out_type(y.reshape(b, -1))

    def evaluate_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape


class FixedTensorProduct(enn.TensorProductModule):  # type: ignore[misc]  # escnn is untyped: its base classes are Any to mypy
    """escnn's TensorProductModule with its forward fixed (``.reshape`` where escnn uses ``.view`` on a
    non-contiguous einsum output)."""

    def forward(self, input: Any) -> Any:
        assert input.type == self.in_type
        x = input.tensor
        b = x.shape[0]
        size = self.in_type.representations[0].size
        x = x.reshape(b, self._C, size)
        t = torch.einsum("bci,bco->bcio", x, x).reshape(b, self._C, size * size)
        matrix = self.matrix if not self.training else self.expand_parameters()
        matrix = matrix.reshape(self._C, self.out_type.representations[0].size, size * size)
        out = torch.einsum("coi,bci->bco", matrix.to(x.dtype), t)
        return self.out_type(out.reshape(b, self.out_type.size))


class FixedGated(enn.GatedNonLinearity1):  # type: ignore[misc]  # escnn is untyped: its base classes are Any to mypy
    """escnn's GatedNonLinearity1 (gates first, then the gated fields), computed in the input's dtype.

    escnn allocates a float32 output; here every gated field is multiplied by sigmoid(gate - bias) with the
    same pairing of gates to fields as escnn (fields grouped by size, smallest first)."""

    def __init__(self, in_type: Any, n_gates: int) -> None:
        labels = ["gate"] * n_gates + ["gated"] * (len(in_type) - n_gates)
        super().__init__(in_type, gates=labels, drop_gates=True)
        sizes = [r.size for r in in_type.representations[n_gates:]]
        # escnn consumes gates size by size (sorted), and fields of one size in order
        gate_of_field = [0] * len(sizes)
        g = 0
        for s in sorted(set(sizes)):
            for i, si in enumerate(sizes):
                if si == s:
                    gate_of_field[i] = g
                    g += 1
        index = [gate_of_field[i] for i, s in enumerate(sizes) for _ in range(s)]
        self.n_gates = n_gates
        self.register_buffer("coord_gate", torch.tensor(index, dtype=torch.long))

    def forward(self, input: Any) -> Any:
        x = input.tensor
        gates = torch.sigmoid(x[:, : self.n_gates] - self.bias.view(1, -1).to(x.dtype))
        out = x[:, self.n_gates :] * gates[:, self.coord_gate]
        return self.out_type(out)


class GatedBlock(enn.EquivariantModule):  # type: ignore[misc]  # escnn is untyped: its base classes are Any to mypy
    """Our gated layer: [scalars (ELU), gates, gated fields] -> [scalars, gated fields]."""

    def __init__(self, gspace: Any, in_type: Any, n_scalars: int, n_gates: int) -> None:
        super().__init__()
        reps = in_type.representations
        self.in_type = in_type
        self.n_scalars = n_scalars
        self.split = sum(r.size for r in reps[:n_scalars])
        self.scalars = pointwise_module(gspace.type(*reps[:n_scalars]), "elu") if n_scalars else None
        self.gated = FixedGated(gspace.type(*reps[n_scalars:]), n_gates)
        self.out_type = gspace.type(*reps[:n_scalars], *self.gated.out_type.representations)

    def forward(self, input: Any) -> Any:
        x = input.tensor
        parts = []
        if self.scalars is not None:
            s = x[:, : self.split]
            parts.append(self.scalars(self.scalars.in_type(s)).tensor)
        parts.append(self.gated(self.gated.in_type(x[:, self.split :])).tensor)
        return self.out_type(torch.cat(parts, dim=1))

    def evaluate_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape[:1] + (self.out_type.size,)


def pointwise_module(ftype: Any, function: str, poly: torch.Tensor | None = None) -> Any:
    """escnn's ELU/ReLU where it accepts the field type, else the identical elementwise wrapper (and always
    for a polynomial, which escnn lacks)."""
    if function == "poly":
        return Elementwise(ftype, function, poly)
    cls = enn.ELU if function == "elu" else enn.ReLU
    try:
        return cls(ftype)
    except AssertionError:
        return Elementwise(ftype, function)
