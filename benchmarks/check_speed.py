#!/usr/bin/env python3
"""Speed check: `eqdesign check specs/` must cost at most half of `import torch`.

Measures, interleaved in one run (so both see the same machine load):

  * check: a fresh process `<repo>/.venv/bin/eqdesign check <repo>/specs/ --format json`
  * torch: a fresh process `<repo>/.venv/bin/python -c "import torch"`

and reports the medians, the ratio check/torch and PASS/FAIL against the target.
It then times `eqdesign.commands.check.check_file(path)` per spec in-process
(in a venv subprocess) to show where the time goes.

Stdlib only; run it with any Python 3:  python3 benchmarks/check_speed.py [--rounds N]
Exit code: 0 target met, 1 target missed or the measurement could not be made.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
VENV_PY = VENV_BIN / "python"
EQDESIGN = VENV_BIN / "eqdesign"
SPECS = REPO / "specs"
OK_CHECK_CODES = (0, 1)  # 1 = findings; specs/ holds specs that are meant to be flagged

PER_SPEC_CODE = r"""
import json, statistics, sys, time
from pathlib import Path
rounds = int(sys.argv[1])
paths = sys.argv[2:]
t0 = time.perf_counter()
try:
    from eqdesign.commands.check import check_file
except Exception as exc:  # module or function not there (yet)
    print(json.dumps({"unavailable": f"{type(exc).__name__}: {exc}"}))
    sys.exit(0)
import_ms = (time.perf_counter() - t0) * 1e3
rows = []
for p in paths:
    times, error = [], None
    for _ in range(rounds):
        t = time.perf_counter()
        try:
            check_file(Path(p))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            break
        times.append((time.perf_counter() - t) * 1e3)
    rows.append({"path": p, "first_ms": times[0] if times else None,
                 "median_ms": statistics.median(times) if times else None, "error": error})
print(json.dumps({"import_ms": import_ms, "rows": rows}))
"""


class BenchError(Exception):
    pass


def _tail(text: str, n: int = 15) -> str:
    lines = text.strip().splitlines()
    return "\n".join("    " + line for line in lines[-n:]) or "    (no output)"


def run_check() -> float:
    cmd = [str(EQDESIGN), "check", str(SPECS) + os.sep, "--format", "json"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in OK_CHECK_CODES:
        raise BenchError(
            f"`{' '.join(cmd)}` exited {proc.returncode} (2 = usage/spec error, 3 = internal error)\n"
            f"  stderr:\n{_tail(proc.stderr)}\n  stdout:\n{_tail(proc.stdout)}"
        )
    try:
        json.loads(proc.stdout)
    except ValueError:
        # Exit 1 is also what Python gives for a crash (e.g. ImportError): insist on JSON output.
        raise BenchError(
            f"`{' '.join(cmd)}` exited {proc.returncode} but did not print JSON\n"
            f"  stderr:\n{_tail(proc.stderr)}\n  stdout:\n{_tail(proc.stdout)}"
        ) from None
    return elapsed


def run_torch() -> float:
    cmd = [str(VENV_PY), "-c", "import torch"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise BenchError(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{_tail(proc.stderr)}")
    return elapsed


def per_spec(rounds: int) -> None:
    specs = sorted(str(p) for p in SPECS.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    print(f"\nper-spec analysis time (in-process eqdesign.commands.check.check_file, median of {rounds} calls; first call in brackets):")
    if not specs:
        print("  per-spec timing unavailable: no *.yaml / *.yml files under specs/")
        return
    proc = subprocess.run(
        [str(VENV_PY), "-c", PER_SPEC_CODE, str(rounds), *specs], capture_output=True, text=True, stdin=subprocess.DEVNULL, cwd=str(REPO)
    )
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        print(f"  per-spec timing unavailable: helper exited {proc.returncode}\n{_tail(proc.stderr)}")
        return
    if "unavailable" in data:
        print(f"  per-spec timing unavailable ({data['unavailable']})")
        return
    print(f"  import eqdesign.commands.check: {data['import_ms']:.1f} ms")
    width = max(len(os.path.relpath(r["path"], REPO)) for r in data["rows"])
    for r in data["rows"]:
        name = os.path.relpath(r["path"], REPO).ljust(width)
        if r["error"]:
            print(f"  {name}  raised {r['error']}")
        else:
            print(f"  {name}  {r['median_ms']:8.2f} ms  [{r['first_ms']:.2f} ms]")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7, help="timed rounds of each command (default 7)")
    ap.add_argument("--target", type=float, default=0.5, help="max allowed ratio check/torch (default 0.5)")
    args = ap.parse_args()
    if args.rounds < 1:
        ap.error("--rounds must be >= 1")

    missing = [p for p in (VENV_PY, EQDESIGN) if not p.exists()]
    if missing:
        print("check_speed: cannot measure, missing: " + ", ".join(map(str, missing)), file=sys.stderr)
        print(
            "check_speed: run `bash scripts/bootstrap.sh` first (the eqdesign CLI comes from the editable install into .venv)",
            file=sys.stderr,
        )
        return 1
    if not SPECS.is_dir():
        print(f"check_speed: cannot measure, {SPECS} is not a directory", file=sys.stderr)
        return 1

    check_s: list[float] = []
    torch_s: list[float] = []
    try:
        # One untimed warm-up of each (disk cache, .pyc files), then interleave;
        # the order alternates each round so neither always runs second.
        run_check()
        run_torch()
        for i in range(args.rounds):
            if i % 2 == 0:
                check_s.append(run_check())
                torch_s.append(run_torch())
            else:
                torch_s.append(run_torch())
                check_s.append(run_check())
    except BenchError as exc:
        print(f"check_speed: FAIL, could not measure:\n  {exc}", file=sys.stderr)
        return 1

    check_ms = statistics.median(check_s) * 1e3
    torch_ms = statistics.median(torch_s) * 1e3
    ratio = check_ms / torch_ms
    ok = ratio <= args.target
    print(f"rounds: {args.rounds} (interleaved, order alternating, after 1 untimed warm-up each)")
    print(f"eqdesign check specs/ --format json : median {check_ms:8.1f} ms  (min {min(check_s) * 1e3:.1f}, max {max(check_s) * 1e3:.1f})")
    print(f"python -c 'import torch'            : median {torch_ms:8.1f} ms  (min {min(torch_s) * 1e3:.1f}, max {max(torch_s) * 1e3:.1f})")
    print(f"ratio check/torch: {ratio:.3f}   target: <= {args.target}   {'PASS' if ok else 'FAIL'}")

    per_spec(args.rounds)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
