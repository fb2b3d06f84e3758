#!/usr/bin/env python3
"""Grid accuracy: equivariance error against number of points, and set-up time, for two grid families.

One escnn FourierELU layer (SO(3) regular fields, band limit 2, 8 channels, float64) is resampled on
(a) eqdesign's weighted quadrature rules, t = 4..12 (70 points and more; set-up = rule construction +
resampling, median of --reps), and (b) escnn's unweighted thomson_cube grids, 24*N points (set-up = the
first G.grid("thomson_cube", N) call in this process + resampling; the note says whether escnn's disk cache,
under $EQDESIGN_CACHE_DIR or ~/.cache/eqdesign, held N, and times a second call; N=30 takes minutes cold).
Error: max relative equivariance error (32 random elements, 8 inputs) at input scale 1 and over scales
0.3, 1, 3. Then, per thomson_cube grid, the largest quadrature rule with no more points and the error ratios.

    .venv/bin/python benchmarks/grid_accuracy.py [--thomson 4,8,16,30] [--reps 5] [--threads N]

Under a minute when the thomson grids are cached. Exit code 0; non-zero only when something crashes.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spinning OpenMP threads distort timings

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch

from eqdesign.commands.check import check_file
from eqdesign.escnn_backend.builder import build_escnn, sample_on_rule
from eqdesign.escnn_backend.compat import quiet
from eqdesign.escnn_backend.grids import sampling_matrix, set_fourier_sampling
from eqdesign.numerics.elements import pick_elements, rep_stack
from eqdesign.numerics.equivariance import Probe, measure
from eqdesign.paths import escnn_cache_dir
from eqdesign.theory.quadrature import RuleShape, rule

DEGREES = range(4, 13)
SCALES = (0.3, 1.0, 3.0)
T = TypeVar("T")
SPEC = """name: grid-accuracy
group: so3
input: "1x1 + 1x0"
output: "1x1 + 1x0"
hidden:
  - {nonlinearity: fourier_elu, band_limit: 2, channels: 8, grid: {type: quadrature, degree: 4}}
"""


@dataclass
class Row:
    family: str
    param: str  # "t=9" or "N=16"
    points: int
    err1: float
    err_scales: float
    setup_s: float
    note: str = ""


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


class Bench:
    """The Fourier layer of the spec, its group and a fixed probe (elements, inputs)."""

    def __init__(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "grid-accuracy.yaml"
            path.write_text(SPEC)
            res = check_file(path)
        if res.design is None:
            raise SystemExit(f"grid_accuracy: spec has no design ({res.internal_error or [f.message for f in res.findings]})")
        self.design = res.design
        model = build_escnn(res.design, torch.float64)
        self.G: Any = model.G
        self.layer = res.design.hidden[0]
        self.m: Any = next(b.module for b in model.built if hasattr(b.module, "A"))
        rin = rep_stack(self.m.in_type.representation, pick_elements(self.G, 32, 0), torch.float64)
        self.probe = Probe("fourier_elu", lambda t: self.m(self.m.in_type(t)).tensor, rin, rin, exact=False)
        self.x = torch.randn(8, rin.shape[1], generator=torch.Generator().manual_seed(0), dtype=torch.float64)

    def errors(self) -> tuple[float, float]:
        return measure(self.probe, self.x, (1.0,)).max_rel, measure(self.probe, self.x, SCALES).max_rel

    def quadrature(self, t: int, reps: int) -> Row:
        shape = RuleShape("so3", t, False)

        def setup() -> None:
            rule.cache_clear()  # time the rule's construction too, not only the resampling
            sample_on_rule(self.m, self.G, self.design.group, self.layer, shape)

        times = [timed(setup)[1] for _ in range(reps)]
        return Row("quadrature", f"t={t}", shape.points, *self.errors(), statistics.median(times))

    def thomson(self, n: int) -> Row:
        from escnn.group.groups._numerical_thomson import thomson_cube_so3

        cached = thomson_cube_so3.check_call_in_cache(n)
        with quiet():
            elements, first = timed(lambda: self.G.grid("thomson_cube", n))
            second = timed(lambda: self.G.grid("thomson_cube", n))[1]
        resample = timed(lambda: set_fourier_sampling(self.m, sampling_matrix(self.m, elements)))[1]
        note = f"grid {'cached' if cached else 'computed (cold)'}: G.grid {first:.4f} s (2nd call {second:.4f} s) + resampling {resample:.4f} s"
        return Row("thomson_cube", f"N={n}", len(elements), *self.errors(), first + resample, note)


def print_table(rows: list[Row], reps: int) -> None:
    print(f"\n{'family':<13} {'param':>6} {'points':>6} {'error@1':>9} {'error@0.3-3':>11} {'setup s':>9}  note")
    for r in rows:
        note = r.note or f"median of {reps}"
        print(f"{r.family:<13} {r.param:>6} {r.points:>6} {r.err1:>9.2e} {r.err_scales:>11.2e} {r.setup_s:>9.4f}  {note}")


def print_comparison(rows: list[Row]) -> None:
    print("\nweighted quadrature vs thomson_cube at no more points (ratio = weighted / thomson; < 1: weighted is better):")
    quad = [r for r in rows if r.family == "quadrature"]
    for th in (r for r in rows if r.family == "thomson_cube"):
        fit = [q for q in quad if q.points <= th.points]
        if not fit:
            print(f"  thomson_cube {th.param} ({th.points} pts): no quadrature rule with <= {th.points} points")
            continue
        q = max(fit, key=lambda r: r.points)
        for label, a, b in (("scale 1", q.err1, th.err1), ("scales 0.3-3", q.err_scales, th.err_scales)):
            print(
                f"  ratio [{label}] thomson_cube {th.param} ({th.points} pts) {b:.2e} vs quadrature {q.param} ({q.points} pts) {a:.2e}: ratio {a / b:.2f}"
            )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--thomson", default="4,8,16", help="thomson_cube N values, comma-separated (24*N points; default 4,8,16)")
    ap.add_argument("--reps", type=int, default=5, help="timed repetitions of each quadrature set-up (median; default 5)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's own)")
    args = ap.parse_args()
    try:
        ns = sorted({int(s) for s in args.thomson.split(",") if s.strip()})
    except ValueError:
        ap.error(f"--thomson: comma-separated integers, not {args.thomson!r}")
    if args.reps < 1 or any(n < 1 for n in ns):
        ap.error("--reps and every --thomson N must be >= 1")
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, os.cpu_count {os.cpu_count()}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, escnn cache {escnn_cache_dir()}"
    )
    t0 = time.perf_counter()
    bench = Bench()
    print(f"spec: so3 fourier_elu band_limit 2, 8 channels, float64; build {time.perf_counter() - t0:.2f} s")
    rows = [bench.quadrature(t, args.reps) for t in DEGREES] + [bench.thomson(n) for n in ns]
    rows.sort(key=lambda r: (r.points, r.family))
    print_table(rows, args.reps)
    print_comparison(rows)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
