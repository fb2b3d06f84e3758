"""The baselines an equivariant model is compared with: a plain MLP of the same parameter count (within 5%),
and the same MLP trained on batches moved by random group elements (data augmentation, the usual way to
teach a network a symmetry without building it in)."""

from __future__ import annotations

import torch

#: how far the MLP's parameter count may be from the target
PARAMS_SLACK = 0.05


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def mlp_params(input_dim: int, output_dim: int, widths: tuple[int, ...]) -> int:
    sizes = [input_dim, *widths, output_dim]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))


def mlp_widths(input_dim: int, output_dim: int, params: int) -> tuple[int, int]:
    """The widths of two hidden layers whose parameter count is within the slack of ``params``, as even as
    can be (a tiny budget may need a narrow first layer); the nearest count where none is within it."""
    options = []
    for first in range(1, max(2, params // (input_dim + 1)) + 1):
        second = _nearest_second(input_dim, output_dim, params, first)
        miss = abs(mlp_params(input_dim, output_dim, (first, second)) - params) / max(1, params)
        options.append((miss > PARAMS_SLACK, abs(first - second) if miss <= PARAMS_SLACK else miss, first, second))
    _, _, first, second = min(options)
    return first, second


def _nearest_second(input_dim: int, output_dim: int, params: int, first: int) -> int:
    """The second width that brings the count nearest ``params`` (the count is linear in it)."""
    fixed = input_dim * first + first + output_dim
    per_unit = first + 1 + output_dim
    return max(1, round((params - fixed) / per_unit))


def plain_mlp(input_dim: int, output_dim: int, params: int, seed: int) -> torch.nn.Sequential:
    """A SiLU MLP with two hidden layers and about ``params`` parameters, initialised from ``seed``."""
    sizes = [input_dim, *mlp_widths(input_dim, output_dim, params), output_dim]
    torch.manual_seed(seed)  # the layers draw their initial weights from the global generator
    layers: list[torch.nn.Module] = []
    for a, b in zip(sizes, sizes[1:], strict=False):
        layers += [torch.nn.Linear(a, b), torch.nn.SiLU()]
    return torch.nn.Sequential(*layers[:-1])


class Augmenter:
    """Moves each row of a batch by its own random group element: x -> ρ_in(g) x, y -> ρ_out(g) y, with g drawn
    from a fixed pool of sampled elements (a large pool, so that a run sees many elements; for a finite group,
    every element)."""

    def __init__(self, rho_in: torch.Tensor, rho_out: torch.Tensor) -> None:
        self.rho_in, self.rho_out = rho_in.float(), rho_out.float()

    def to(self, device: torch.device) -> Augmenter:
        return Augmenter(self.rho_in.to(device), self.rho_out.to(device))

    def __call__(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        pick = torch.randint(self.rho_in.shape[0], (x.shape[0],), generator=generator).to(x.device)
        return _apply(self.rho_in[pick], x), _apply(self.rho_out[pick], y)

    @property
    def elements(self) -> int:
        return int(self.rho_in.shape[0])


def _apply(rho: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.bmm(rho, v.unsqueeze(-1)).squeeze(-1)
