"""Interleaved timing shared by the benchmarks: warm-up, calibrated inner loops, medians and quartiles.

Every variant gives one sample per repetition, in an order that rotates (and reverses every len(fns)
repetitions), so all of them see the same machine load; a sample is the mean over an inner loop lasting
at least ``sample_ms``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable


def calibrate(fn: Callable[[], object], sample_ms: float, warmup: int, max_calls: int = 2000, warmup_s: float = 2.0) -> int:
    """Untimed warm-up calls (at most ``warmup_s`` seconds of them), then how many calls make one sample."""
    t0 = time.perf_counter()
    for _ in range(warmup):
        fn()
        if time.perf_counter() - t0 > warmup_s:
            break
    best = float("inf")
    for _ in range(3):  # a few calls, the fastest
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return max(1, min(max_calls, int(sample_ms / 1e3 / max(best, 1e-7)) + 1))


def sample(fn: Callable[[], object], inner: int) -> float:
    """Mean ms per call over ``inner`` calls."""
    t = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t) / inner * 1e3


def interleaved(
    fns: dict[Hashable, Callable[[], object]], reps: int, sample_ms: float, warmup: int, max_calls: int = 2000, warmup_s: float = 2.0
) -> tuple[dict[Hashable, list[float]], dict[Hashable, int]]:
    """ms per call of each function (one sample each per repetition) and each inner loop's length."""
    keys = list(fns)
    inner = {k: calibrate(fns[k], sample_ms, warmup, max_calls, warmup_s) for k in keys}
    samples: dict[Hashable, list[float]] = {k: [] for k in keys}
    for r in range(reps):
        order = keys[r % len(keys) :] + keys[: r % len(keys)]
        if (r // len(keys)) % 2:
            order.reverse()
        for k in order:
            samples[k].append(sample(fns[k], inner[k]))
    return samples, inner


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def quartiles(xs: list[float]) -> tuple[float, float]:
    """First and third quartiles (the extremes when there are fewer than four samples)."""
    if len(xs) < 4:
        return min(xs), max(xs)
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]
