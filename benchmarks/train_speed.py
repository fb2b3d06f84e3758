"""The cost of `eqdesign train`'s loop against a minimal hand-written PyTorch loop, per training step.

Both train a fresh copy of the same compiled module (one build, through the public API) on the same data,
batch and optimiser (AdamW); `eqdesign.training.loop.fit` adds what the command does around each step: the
warm-up/cosine schedule, seeded batches, torch's deterministic algorithms, and 50 validation checks per run
with the best weights copied. The minimal loop is a seeded permutation, zero_grad, MSE, backward, step.

Timed interleaved (timing.interleaved: the order rotates every repetition, so both see the same load), one
sample = one whole run of --steps steps. The target (1.10) is on the steps: the ratio of the medians of a run
with a single validation check; a run with the default 50 checks (each a forward pass over the validation
set, and a copy of the weights when they improve) is shown beside it.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/train_speed.py [--spec examples/dipole/dipole.yaml] [--reps 15]

Exit code 0 whether or not the target is met; 2 when something crashes.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch is imported: spinning waits distort every number
os.environ.setdefault("OMP_NUM_THREADS", "1")  # as the command line runs

from timing import interleaved, median, quartiles  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TARGET = 1.10


def minimal_loop(module: object, x: object, y: object, steps: int, batch: int, lr: float) -> None:
    import torch

    assert isinstance(module, torch.nn.Module) and isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)
    optimizer = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(0)
    order, at = torch.randperm(x.shape[0], generator=generator), 0
    for _ in range(steps):
        if at + batch > x.shape[0]:
            order, at = torch.randperm(x.shape[0], generator=generator), 0
        rows = order[at : at + batch]
        at += batch
        optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(module(x[rows]), y[rows]).backward()
        optimizer.step()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(REPO / "examples" / "dipole" / "dipole.yaml"))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--reps", type=int, default=15)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import torch

    import eqdesign
    from eqdesign.training.loop import Budget, Split, fit

    built = eqdesign.build(args.spec, influence=False)
    dim_in, dim_out = built.layout["input_dim"], built.layout["output_dim"]
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(2048, dim_in, generator=generator), torch.randn(2048, dim_out, generator=generator)
    split = Split(x[:1792], y[:1792], x[1792:], y[1792:])
    budget = Budget(steps=args.steps, batch=args.batch, lr=1e-3)
    runs = {
        "eqdesign fit": lambda: fit(copy.deepcopy(built.module), split, budget),
        "fit, 1 check": lambda: fit(copy.deepcopy(built.module), split, replace(budget, checks=1)),
        "minimal loop": lambda: minimal_loop(copy.deepcopy(built.module), split.x, split.y, args.steps, args.batch, 1e-3),
    }
    samples, _ = interleaved(runs, args.reps, sample_ms=0, warmup=1, max_calls=1)
    for name, times in samples.items():
        low, high = quartiles(times)
        print(
            f"{name:14s} {median(times) / args.steps * 1e3:8.1f} us/step (IQR {low / args.steps * 1e3:.1f}-{high / args.steps * 1e3:.1f})"
        )
    base = median(samples["minimal loop"])
    steps, whole = median(samples["fit, 1 check"]) / base, median(samples["eqdesign fit"]) / base
    print(
        f"ratio of medians, the steps (one validation check): {steps:.3f} (target <= {TARGET:.2f}): {'PASS' if steps <= TARGET else 'FAIL'}"
    )
    print(f"ratio of medians, a whole run (50 validation checks, best weights kept): {whole:.3f}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as err:  # noqa: BLE001 - a benchmark reports, never shows a traceback
        print(f"train_speed: {type(err).__name__}: {err}", file=sys.stderr)
        sys.exit(2)
