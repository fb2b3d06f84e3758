"""The training loop: AdamW, a linear warm-up into a cosine decay, the mean squared error, early stopping on
the validation loss with the best weights kept, and every random choice drawn from generators seeded by the
run's seed (with torch's deterministic algorithms on, so that two runs on a CPU agree bit for bit).

The loop knows nothing of escnn or of equivariance: it trains any module mapping (batch, input_dim) to
(batch, output_dim), the compiled equivariant model and its baselines alike, so they are trained the same way.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

#: (x, y, generator) -> the batch transformed (data augmentation)
Augment = Callable[[torch.Tensor, torch.Tensor, torch.Generator], tuple[torch.Tensor, torch.Tensor]]
#: called after every step with (step, total steps, the last batch's loss)
OnStep = Callable[[int, int, float], None]
#: how many times a run reports its progress (on_step)
SHOWN_STEPS = 200
#: steps when neither --steps nor --epochs is given
DEFAULT_STEPS = 1000


@dataclass(frozen=True)
class Budget:
    """How long and how to train. ``patience``: validation checks without improvement before stopping;
    ``checks``: how many validation checks a full run makes (one every total/checks steps)."""

    steps: int | None = None
    epochs: int | None = None
    batch: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup: float = 0.05
    patience: int = 10
    checks: int = 50
    seed: int = 0

    def total_steps(self, rows: int) -> int:
        if self.steps is not None:
            return self.steps
        if self.epochs is not None:
            return self.epochs * math.ceil(rows / min(self.batch, rows))
        return DEFAULT_STEPS


@dataclass
class Fit:
    """One model's training: the curve (a row per validation check), the best check, and the weights."""

    curve: list[dict[str, float]] = field(default_factory=list)
    best_step: int = 0
    best_val: float = math.inf
    steps: int = 0
    stopped_early: bool = False
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    last_state: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class Split:
    """The tensors one model trains and is checked on, on the training device."""

    x: torch.Tensor
    y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor


def schedule(total: int, warmup: float) -> Callable[[int], float]:
    """The learning rate's factor at each step: linear warm-up over a fraction of the steps, then a cosine to 0."""
    ramp = max(1, round(total * warmup))

    def factor(step: int) -> float:
        if step < ramp:
            return (step + 1) / ramp
        return 0.5 * (1 + math.cos(math.pi * (step - ramp) / max(1, total - ramp)))

    return factor


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """torch's deterministic algorithms while training (a warning, not an error, where one has none)."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def fit(module: torch.nn.Module, split: Split, budget: Budget, augment: Augment | None = None, on_step: OnStep | None = None) -> Fit:
    """Train ``module`` in place; it ends with its best weights (by validation loss) loaded. ``on_step`` is
    called every total/SHOWN_STEPS steps (reading a loss waits for the device: not at every step)."""
    total = budget.total_steps(split.x.shape[0])
    optimizer = torch.optim.AdamW(module.parameters(), lr=budget.lr, weight_decay=budget.weight_decay)
    factor = schedule(total, budget.warmup)
    batches = _batches(split.x.shape[0], min(budget.batch, split.x.shape[0]), budget.seed)
    augmenting = torch.Generator().manual_seed(budget.seed + 1)
    every, shown, result, losses = max(1, total // budget.checks), max(1, total // SHOWN_STEPS), Fit(), _Losses()
    with deterministic():
        module.train()
        for step in range(1, total + 1):
            lr = _set_lr(optimizer, budget.lr * factor(step - 1))
            losses.add(_step(module, optimizer, *_batch(split, next(batches), augment, augmenting)))
            if on_step is not None and (step % shown == 0 or step == total):
                on_step(step, total, losses.last())
            if (step % every == 0 or step == total) and _check(module, split, result, step, (losses.mean(), lr), budget.patience):
                break
    return _finish(module, result)


class _Losses:
    """The batch losses since the last check, summed where they are computed (read once per check)."""

    def __init__(self) -> None:
        self.sum: torch.Tensor | None = None
        self.latest: torch.Tensor | None = None
        self.count = 0

    def add(self, loss: torch.Tensor) -> None:
        self.sum = loss if self.sum is None else self.sum + loss
        self.latest, self.count = loss, self.count + 1

    def last(self) -> float:
        return float(self.latest) if self.latest is not None else math.nan

    def mean(self) -> float:
        mean = float(self.sum) / self.count if self.sum is not None else math.nan
        self.sum, self.count = None, 0
        return mean


def _set_lr(optimizer: torch.optim.Optimizer, lr: float) -> float:
    for group in optimizer.param_groups:
        group["lr"] = lr
    return lr


def _batches(rows: int, batch: int, seed: int) -> Iterator[torch.Tensor]:
    """Row indices of each batch: a fresh seeded permutation every epoch (the last, short batch dropped)."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(rows, generator=generator)
        for start in range(0, rows - batch + 1, batch):
            yield order[start : start + batch]


def _batch(split: Split, rows: torch.Tensor, augment: Augment | None, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    rows = rows.to(split.x.device)
    x, y = split.x[rows], split.y[rows]
    return augment(x, y, generator) if augment is not None else (x, y)


def _step(module: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    optimizer.zero_grad(set_to_none=True)
    loss = torch.nn.functional.mse_loss(module(x), y)
    loss.backward()  # type: ignore[no-untyped-call]  # torch's backward is unannotated
    optimizer.step()
    return loss.detach()


def mse(module: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The mean squared error over a whole set, in evaluation mode (batch norms use their running statistics)."""
    was_training = module.training
    module.eval()
    with torch.no_grad():
        loss = float(torch.nn.functional.mse_loss(module(x), y))
    module.train(was_training)
    return loss


def _check(module: torch.nn.Module, split: Split, result: Fit, step: int, train: tuple[float, float], patience: int) -> bool:
    """Record a validation check (``train``: the mean training loss since the last one, and the learning
    rate); True when it is time to stop (``patience`` checks without improvement)."""
    val = mse(module, split.val_x, split.val_y)
    result.curve.append({"step": step, "train_loss": train[0], "val_loss": val, "lr": train[1]})
    result.steps = step
    if val < result.best_val:  # a NaN never counts as better
        result.best_val, result.best_step, result.best_state = val, step, _copy(module)
    checks_since_best = sum(1 for row in result.curve if row["step"] > result.best_step)
    result.stopped_early = checks_since_best >= patience
    return result.stopped_early


def _copy(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _finish(module: torch.nn.Module, result: Fit) -> Fit:
    result.last_state = _copy(module)
    if result.best_state:
        module.load_state_dict(result.best_state)
    module.eval()
    return result


def as_tensors(x: Any, y: Any, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """NumPy arrays as float32 tensors on the device."""
    return torch.as_tensor(x, dtype=torch.float32).to(device), torch.as_tensor(y, dtype=torch.float32).to(device)
