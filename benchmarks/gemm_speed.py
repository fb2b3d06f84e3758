#!/usr/bin/env python3
"""GEMM efficiency: compiled models against a plain MLP with the same multiply-adds, side by side in one process.

For every model it times, interleaved (one sample of every variant per repetition, the order rotating, see
timing.py), after untimed warm-up calls:

  (b) the compiled module, ``compile_model(build_tuned(design), torch.float32)``: forward under
      ``torch.no_grad()`` on its explicit inference copy (``freeze``) and a training step on a train-mode copy;
  (m) a plain MLP with the same multiply-adds per sample as (b) (the cost model's ``compiled_macs``, which
      tests/test_cost.py holds equal to torch's FLOP count), within 10%: as many hidden layers of equal width h
      as the design has, ELU between, the width solved for the count and the last hidden width adjusted;
  (f) a plain MLP of the design's widths (peer_speed.py's (f)).

Forward: ``model(x)`` under ``torch.no_grad()``; training step: ``zero_grad(set_to_none=True);
model(x).square().mean().backward()``. float32, ``OMP_WAIT_POLICY=PASSIVE`` unless set (sleeping OpenMP
threads: spinning ones on a busy machine measure the machine, not the models).

Models: every spec in specs/*.yaml that check passes (``--no-gallery`` skips them), and what ``eqdesign
design`` writes for the asks in ``ASKS`` (SO(3), O(3), SO(2), O(2), a finite group, a cylinder; the function
behind the command, written to a temporary folder; ``--no-design`` skips them); ``--spec PATH`` (repeatable)
replaces both.

It prints, per thread count and batch, one row per model: multiply-adds per sample of (b) and (m), the medians
(ms) of forward and training step of (b), (m), (f), the ratios b/m (the target: at most 2.0 for models without
sampled Fourier layers; those are marked ``F``: their target is peer_speed.py's activation floor), b/f, and
multiply-adds per second (millions) of (b) and (m). A summary lists the rows above target.

Run it:  .venv/bin/python benchmarks/gemm_speed.py            # batches 64, 512, 4096 on 1 and 2 threads
         .venv/bin/python benchmarks/gemm_speed.py --quick    # batch 512, 1 thread, fewer samples
         [--reps 7] [--sample-ms 40] [--batches 64,512] [--threads 1] [--spec specs/X.yaml ...]
Exit code 0 when every model was measured (targets met or not); 2 when a model could not be set up.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# libgomp reads OMP_WAIT_POLICY when torch is loaded (see model_speed.py)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from bench_common import BenchError, load_design  # noqa: E402 - benchmarks/ is the script's folder
from peer_speed import plain_same_widths  # noqa: E402
from timing import interleaved, median  # noqa: E402
from torch import nn  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TARGET = 2.0  # b/m, forward and training step, models without sampled Fourier layers
MAC_TOLERANCE = 0.10  # (m)'s multiply-adds within 10% of (b)'s
#: (name, group, input, output, parameter budget): what `eqdesign design` is asked
ASKS = (
    ("so3-ask", "so3", "1x vector + 1x 0", "2x vector + 1x 0", 50_000),
    ("o3-physics-ask", "o3", "5x0e + 5x1o", "1x0e + 1x2e", 20_000),
    ("so2-ask", "so2", "1x vector", "1x vector + 1x 0", 20_000),
    ("o2-ask", "o2", "2x vector", "1x0 + 1x0- + 1x1", 20_000),
    ("octa-ask", "octa", "1xT1 + 1xA1", "1xA1 + 1xT1 + 1xE + 1xT2", 20_000),
    ("cylinder-ask", "cylinder", "1x vector", "1x0e + 1x0o + 1x1e + 1x1o", 20_000),
)
VARIANTS = ("b", "m", "f")


@dataclass
class Model:
    """One model and its comparators, built once and timed at every batch and thread count."""

    name: str
    compiled: nn.Module
    mac_mlp: nn.Sequential
    width_mlp: nn.Sequential
    macs: int  # (b) per sample, the cost model's compiled_macs
    mlp_macs: int
    fourier: bool  # has sampled Fourier layers: the 2x target does not apply
    kinds: str


def _linears_macs(model: nn.Sequential) -> int:
    return sum(m.in_features * m.out_features for m in model if isinstance(m, nn.Linear))


def _mlp(widths: list[int]) -> nn.Sequential:
    mods: list[nn.Module] = []
    for k in range(len(widths) - 1):
        mods.append(nn.Linear(widths[k], widths[k + 1]))
        if k < len(widths) - 2:
            mods.append(nn.ELU())
    return nn.Sequential(*mods)


def same_macs_mlp(d_in: int, d_out: int, hidden: int, macs: int) -> nn.Sequential:
    """An MLP d_in -> h x ``hidden`` -> d_out whose multiply-adds per sample are closest to ``macs``: h from the
    quadratic (hidden - 1) h^2 + (d_in + d_out) h = macs, then the last hidden width tuned; fewer hidden layers
    when the count is too small for them to reach it."""
    best: list[int] | None = None
    for layers in range(max(1, hidden), 0, -1):
        a, b = layers - 1, d_in + d_out
        h = macs / b if a == 0 else (-b + math.sqrt(b * b + 4 * a * macs)) / (2 * a)
        h = max(1, round(h))
        fixed = d_in * h + (layers - 2) * h * h if layers > 1 else 0  # everything but the last hidden width's terms
        per_last = (h if layers > 1 else d_in) + d_out
        last = max(1, round((macs - fixed) / per_last))
        widths = [d_in] + [h] * (layers - 1) + [last] + [d_out]
        got = sum(widths[k] * widths[k + 1] for k in range(len(widths) - 1))
        if best is None or abs(got - macs) < abs(_count(best) - macs):
            best = widths
        if abs(got - macs) <= MAC_TOLERANCE * macs and min(widths[1:-1]) >= 1:
            return _mlp(widths)
    assert best is not None
    return _mlp(best)


def _count(widths: list[int]) -> int:
    return sum(widths[k] * widths[k + 1] for k in range(len(widths) - 1))


def designed_specs(folder: Path) -> list[tuple[str, Path]]:
    """What `eqdesign design` writes for each ask in ASKS, as spec files in ``folder``."""
    from eqdesign.analysis.search import Ask
    from eqdesign.analysis.search import run_search as design

    out: list[tuple[str, Path]] = []
    for name, group, inp, outp, params in ASKS:
        t = time.perf_counter()
        result = design(Ask(group, inp, outp, params, 0.02, name=name))
        if not result.ok:
            raise BenchError(f"design {name}: exit {int(result.exit_code)}: {'; '.join(result.messages)[:300]}")
        path = folder / f"{name}.yaml"
        path.write_text(result.text)
        print(f"# design {name} ({group}: {inp} -> {outp}, {params:,} parameters): {time.perf_counter() - t:.1f} s", flush=True)
        out.append((name, path))
    return out


def gallery_specs() -> list[tuple[str, Path]]:
    return [(p.stem, p) for p in sorted((REPO / "specs").glob("*.yaml"))]


def make_model(name: str, path: Path) -> Model:
    from eqdesign.analysis.cost import cost_totals, element_basis
    from eqdesign.escnn_backend.autogrid import build_tuned
    from eqdesign.escnn_backend.lower import compile_model

    design = load_design(path)
    esc, _ = build_tuned(design, seed=0)
    tuned = esc.design  # auto grids as chosen
    compiled = compile_model(esc, torch.float32)
    macs = cost_totals(tuned)["compiled_macs"]
    hidden = len(tuned.hidden)
    mac_mlp = same_macs_mlp(tuned.input.dim, tuned.output.dim, hidden, macs)
    width_mlp, _ = plain_same_widths(tuned)
    fourier = any(x.kind in ("fourier", "quotient") and not element_basis(tuned.group, x) for x in tuned.hidden)
    kinds = ">".join(x.kind for x in tuned.hidden)
    return Model(name, compiled, mac_mlp, width_mlp, macs, _linears_macs(mac_mlp), fourier, kinds)


def forward_fn(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            model(x)

    return run


def train_fn(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        model.zero_grad(set_to_none=True)
        model(x).square().mean().backward()

    return run


def measure(model: Model, batch: int, args: argparse.Namespace) -> dict[str, float]:
    """Medians (ms) of forward ("b_fwd", ...) and training step ("b_trn", ...) of every variant, interleaved."""
    x = torch.randn(batch, model.mac_mlp[0].in_features, generator=torch.Generator().manual_seed(0))
    from eqdesign.export.freeze import freeze

    nets = {"b": model.compiled, "m": model.mac_mlp, "f": model.width_mlp}
    inference = {**nets, "b": freeze(model.compiled)}
    fns: dict[Any, Callable[[], object]] = {}
    for v, net in inference.items():
        fns[f"{v}_fwd"] = forward_fn(net.eval(), x)
    for v, net in nets.items():
        fns[f"{v}_trn"] = train_fn(_train_copy(net), x)
    samples, _ = interleaved(fns, args.reps, args.sample_ms, warmup=3, max_calls=500, warmup_s=1.0)
    return {str(k): median(v) for k, v in samples.items()}


def _train_copy(net: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(net).train()


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else float("nan")


HEADER = (
    f"{'model':<32} {'MACs b':>8} {'MACs m':>8}  {'fwd b':>7} {'fwd m':>7} {'fwd f':>7}  {'trn b':>7} {'trn m':>7} {'trn f':>7}"
    f"  {'fwd b/m':>7} {'trn b/m':>7} {'fwd b/f':>7} {'trn b/f':>7}  {'MMAC/s b':>8} {'MMAC/s m':>8}  target"
)


def row(model: Model, med: dict[str, float], batch: int) -> tuple[str, bool]:
    """One table row and whether it is above target."""
    fr, tr = _ratio(med["b_fwd"], med["m_fwd"]), _ratio(med["b_trn"], med["m_trn"])
    rate_b = model.macs * batch / med["b_fwd"] / 1e3  # millions per second: MACs / ms / 1e3
    rate_m = model.mlp_macs * batch / med["m_fwd"] / 1e3
    above = not model.fourier and max(fr, tr) > TARGET
    verdict = "F (sampled Fourier)" if model.fourier else ("ABOVE" if above else "ok")
    text = (
        f"{model.name[:32]:<32} {model.macs:>8,} {model.mlp_macs:>8,}  {med['b_fwd']:>7.3f} {med['m_fwd']:>7.3f} {med['f_fwd']:>7.3f}"
        f"  {med['b_trn']:>7.3f} {med['m_trn']:>7.3f} {med['f_trn']:>7.3f}  {fr:>7.2f} {tr:>7.2f}"
        f" {_ratio(med['b_fwd'], med['f_fwd']):>7.2f} {_ratio(med['b_trn'], med['f_trn']):>7.2f}  {rate_b:>8,.0f} {rate_m:>8,.0f}  {verdict}"
    )
    return text, above


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="batch 512, 1 thread, 3 samples of 15 ms (a minute or two)")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--sample-ms", type=float, default=40.0)
    p.add_argument("--batches", default="64,512,4096")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--spec", action="append", default=[], help="a spec file (repeatable): replaces the gallery and the asks")
    p.add_argument("--no-gallery", action="store_true")
    p.add_argument("--no-design", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.reps, args.sample_ms, args.batches, args.threads = 3, 15.0, "512", "1"
    return args


def model_list(args: argparse.Namespace, folder: Path) -> tuple[list[Model], list[str]]:
    """Every model built, and a line for each that could not be (a gallery spec with errors is skipped)."""
    specs: list[tuple[str, Path]] = [(Path(s).stem, Path(s)) for s in args.spec]
    if not specs:
        specs = ([] if args.no_gallery else gallery_specs()) + ([] if args.no_design else designed_specs(folder))
    models, skipped = [], []
    for name, path in specs:
        try:
            models.append(make_model(name, path))
        except BenchError as exc:
            skipped.append(f"{name}: {exc}")
    return models, skipped


def main() -> int:
    args = parse_args()
    torch.manual_seed(0)
    print(f"# torch {torch.__version__}, {os.cpu_count()} CPUs, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, float32")
    print(
        f"# {args.reps} samples of >= {args.sample_ms:g} ms per variant, medians (ms); b = compiled, m = same-MAC MLP, f = same-width MLP"
    )
    with tempfile.TemporaryDirectory(prefix="gemm-speed-") as tmp:
        try:
            models, skipped = model_list(args, Path(tmp))
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    for line in skipped:
        print(f"# skipped {line}")
    for m in models:
        off = abs(m.mlp_macs - m.macs) / max(1, m.macs)
        print(f"# {m.name}: {m.kinds}; MACs {m.macs:,}, same-MAC MLP {m.mlp_macs:,} ({off:.1%} off) {_widths(m.mac_mlp)}")
    above: list[str] = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for batch in [int(b) for b in args.batches.split(",")]:
            print(f"\n## {threads} thread(s), batch {batch}\n{HEADER}", flush=True)
            for m in models:
                text, bad = row(m, measure(m, batch, args), batch)
                print(text, flush=True)
                if bad:
                    above.append(f"{m.name} ({threads} thread(s), batch {batch})")
    print("\n# above the 2x target: " + (", ".join(above) if above else "none"))
    return 2 if skipped and args.spec else 0


def _widths(mlp: nn.Sequential) -> str:
    lin = [m for m in mlp if isinstance(m, nn.Linear)]
    return "-".join(str(w) for w in [lin[0].in_features] + [m.out_features for m in lin])


if __name__ == "__main__":
    sys.exit(main())
