#!/usr/bin/env python3
"""Normalization at inference: a model with batch norms against the same model without them.

Builds the gallery's transcription of escnn's SO(3) MLP example (specs/so3-mlp-batchnorm.yaml, a batch
norm before every nonlinearity) and the same spec with every ``norm:`` removed, compiles both (float32,
eval mode) and times their forward passes side by side, interleaved, at one batch size: the compiled
module's inference copy (``freeze``: batch norms folded into the linear layers),
and escnn's own model for reference. Prints medians with quartiles, and the ratio with / without norms,
whose target is 1.0 (within noise): folding makes a batch norm free at inference.

Run with the project's venv:  OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/norm_speed.py [--reps 15]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read once, when torch is imported

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
SPEC = ROOT / "specs" / "so3-mlp-batchnorm.yaml"
TARGET = 1.10  # with / without norms: folded, they cost nothing beyond the noise of this machine


def _models() -> tuple[object, object, object, object]:
    """(escnn, compiled) with the batch norms, and without them on the very same grids (the ones build chose
    for the normalized model), so that the norms are the only difference."""
    import dataclasses

    import torch
    from bench_common import load_design

    from eqdesign.analysis.design import Nonlinear
    from eqdesign.escnn_backend.autogrid import build_tuned
    from eqdesign.escnn_backend.builder import build_escnn
    from eqdesign.escnn_backend.lower import compile_model
    from eqdesign.export.freeze import freeze

    normed = build_tuned(load_design(SPEC), 0)[0]
    layers = tuple(
        dataclasses.replace(x, norm=None, norm_params=0, norm_stats=0) if isinstance(x, Nonlinear) else x for x in normed.design.layers
    )
    plain = build_escnn(dataclasses.replace(normed.design, layers=layers), torch.float64, seed=0)
    out = []
    for model in (normed, plain):
        model32 = model.to(torch.float32).eval()
        out += [model32, freeze(compile_model(model32, torch.float32))]
    return out[0], out[1], out[2], out[3]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=15, help="samples per variant (medians over them)")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--sample-ms", type=float, default=60.0)
    args = ap.parse_args()

    import torch
    from timing import interleaved, median, quartiles

    escnn_with, with_norms, escnn_without, without_norms = _models()
    x = torch.randn(args.batch, 3, generator=torch.Generator().manual_seed(0))

    def run(m: object) -> object:
        with torch.no_grad():
            return m(x)  # type: ignore[operator]

    fns = {
        "compiled, batch norms (folded)": lambda: run(with_norms),
        "compiled, no norms": lambda: run(without_norms),
        "escnn, batch norms": lambda: run(escnn_with),
        "escnn, no norms": lambda: run(escnn_without),
    }
    samples, _ = interleaved(fns, args.reps, args.sample_ms, warmup=5)
    print(
        f"forward, batch {args.batch}, float32, eval mode, {torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
    )
    for label, xs in samples.items():
        lo, hi = quartiles(xs)
        print(f"  {label:32s} median {median(xs):8.3f} ms  (quartiles {lo:.3f} - {hi:.3f})")
    ratio = median(samples["compiled, batch norms (folded)"]) / median(samples["compiled, no norms"])
    escnn_ratio = median(samples["escnn, batch norms"]) / median(samples["escnn, no norms"])
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"ratio with / without norms: compiled {ratio:.3f} (target <= {TARGET}: {verdict}); escnn {escnn_ratio:.3f}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
