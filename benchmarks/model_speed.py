#!/usr/bin/env python3
"""Model speed: the escnn model vs its compiled plain-torch module vs a plain MLP of the same widths.

For each spec (default: the flagship specs/so3-vector-mlp.yaml and the finite-group specs/ico-regular-elu.yaml;
``--spec`` overrides, repeatable) it times, in one process, interleaved (the order rotates every repetition,
so every variant sees the same machine load), after untimed warm-up calls:

  (a) the escnn model: eval mode for the forward pass (escnn caches the expanded matrices), train mode for the
      training step (escnn re-expands its weights on every call: that is what training it costs);
  (b) the compiled module (eqdesign.escnn_backend.lower.compile_model), its explicit inference copy
      (``freeze``) for the forward pass;
  (c) torch.jit.script of the compiled module;
  (d) a plain nn.Sequential of nn.Linear + nn.ELU with the design's widths (one Linear per design Linear
      layer, ELU after every hidden one).

Forward: ``model(x)`` under torch.no_grad(). Training step: ``zero_grad(); model(x).square().mean().backward()``
(no optimizer step). Batch 1024, float32, torch.set_num_threads(2). One sample = the mean over an inner loop
of calls lasting at least ``--sample-ms``; the reported number is the median over ``--reps`` samples.

It prints the medians, the ratios b/a, c/a, b/d and PASS/FAIL against the targets
(forward b/a <= 0.5, forward b/d <= 1.0, training step b/a <= 0.3), a per-layer forward breakdown of (a) and
(b), and the build time of each spec, measured in fresh subprocesses (see BUILD_CODE: "cold" = first
build_escnn in a fresh process, escnn's on-disk joblib cache as found; "warm" = the second build in that
process; ``--disk-cold`` adds a run with escnn's on-disk cache redirected to an empty temporary folder).

Needs only the stdlib, torch and eqdesign:  .venv/bin/python benchmarks/model_speed.py [--reps 30]
Exit code 0 whether or not the targets are met; non-zero (2) only when something crashes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

from bench_common import BenchError, load_design
from timing import interleaved, median, quartiles

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPECS = ["specs/so3-vector-mlp.yaml", "specs/ico-regular-elu.yaml"]
BATCH = 1024
THREADS = 2
TARGETS = [  # (phase, ratio, limit)
    ("forward", "b/a", 0.5),
    ("forward", "b/d", 1.0),
    ("train", "b/a", 0.3),
]
VARIANTS = ("a", "b", "c", "d")
LABELS = {
    "a": "(a) escnn",
    "b": "(b) compiled",
    "c": "(c) jit.script(compiled)",
    "d": "(d) plain Linear+ELU",
}

# Build timing in a fresh process. Prints one JSON line. argv: spec path, disk-cold flag ("0"/"1").
BUILD_CODE = r"""
import json, os, sys, tempfile, time
spec, disk_cold = sys.argv[1], sys.argv[2] == "1"
out = {}
if disk_cold:
    # escnn keeps joblib.Memory caches in escnn/group/_cache, created at import time: point every Memory
    # at an empty temporary folder instead (nothing under the venv is touched).
    import joblib
    tmp = tempfile.mkdtemp(prefix="eqd-escnn-cache-")
    _init = joblib.Memory.__init__
    def _patched(self, location=None, *args, **kwargs):
        _init(self, tmp, *args, **kwargs)
    joblib.Memory.__init__ = _patched
t = time.perf_counter()
import torch
torch.set_num_threads(@THREADS@)
out["import_torch_s"] = time.perf_counter() - t
t = time.perf_counter()
from eqdesign.commands.check import check_file
from eqdesign.escnn_backend.builder import build_escnn
from eqdesign.escnn_backend.lower import compile_model
out["import_eqdesign_escnn_s"] = time.perf_counter() - t
t = time.perf_counter()
res = check_file(spec)
out["check_s"] = time.perf_counter() - t
if res.design is None:
    print(json.dumps({"error": f"no design ({res.internal_error or 'findings'})"}))
    sys.exit(0)
t = time.perf_counter()
model = build_escnn(res.design, dtype=torch.float32, seed=0)
out["build_cold_s"] = time.perf_counter() - t
t = time.perf_counter()
model2 = build_escnn(res.design, dtype=torch.float32, seed=0)
out["build_warm_s"] = time.perf_counter() - t
t = time.perf_counter()
compiled = compile_model(model, torch.float32)
out["compile_s"] = time.perf_counter() - t
t = time.perf_counter()
torch.jit.script(compiled)
out["script_s"] = time.perf_counter() - t
if disk_cold:
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
print(json.dumps(out))
""".replace("@THREADS@", str(THREADS))


# -- models -------------------------------------------------------------------------------------------------


def plain_mlp(design, torch):
    """nn.Sequential: one nn.Linear per design Linear layer, ELU after every hidden one."""
    from eqdesign.analysis.design import Linear as DLinear

    linears = [layer for layer in design.layers if isinstance(layer, DLinear)]
    mods = []
    prev = None
    notes = []
    for k, layer in enumerate(linears):
        d_in = layer.in_type.dim
        if prev is not None and d_in != prev:
            # a nonlinearity that changes the width (gates are consumed): feed the previous width
            notes.append(f"linear {k}: design in {d_in}, plain MLP uses {prev}")
            d_in = prev
        mods.append(torch.nn.Linear(d_in, layer.out_type.dim))
        if k < len(linears) - 1:
            mods.append(torch.nn.ELU())
        prev = layer.out_type.dim
    return torch.nn.Sequential(*mods), [layer.in_type.dim for layer in linears[:1]] + [l.out_type.dim for l in linears], notes


def make_models(spec: str, torch):
    from eqdesign.escnn_backend.builder import build_escnn
    from eqdesign.escnn_backend.lower import compile_model
    from eqdesign.export.freeze import freeze

    design = load_design(REPO / spec if not Path(spec).is_absolute() else Path(spec))
    esc_eval = build_escnn(design, dtype=torch.float32, seed=0)
    esc_eval.eval()
    esc_train = build_escnn(design, dtype=torch.float32, seed=0)
    esc_train.train()
    compiled = compile_model(esc_eval, torch.float32)
    compiled_train = compile_model(esc_eval, torch.float32)
    scripted = torch.jit.script(compile_model(esc_eval, torch.float32))
    scripted_train = torch.jit.script(compile_model(esc_eval, torch.float32))
    torch.manual_seed(0)
    plain, widths, notes = plain_mlp(design, torch)
    torch.manual_seed(0)
    plain_train, _, _ = plain_mlp(design, torch)
    for m in (compiled, scripted, plain):
        m.eval()
    for m in (compiled_train, scripted_train, plain_train):
        m.train()
    fwd = {"a": esc_eval, "b": freeze(compiled), "c": scripted, "d": plain}
    trn = {"a": esc_train, "b": compiled_train, "c": scripted_train, "d": plain_train}
    return design, fwd, trn, widths, notes


# -- timing -------------------------------------------------------------------------------------------------


def _forward_fn(model, x, torch):
    def f():
        with torch.no_grad():
            model(x)

    return f


def _train_fn(model, x, torch):
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise BenchError(f"{type(model).__name__} has no trainable parameters")

    def f():
        model.zero_grad(set_to_none=True)
        model(x).square().mean().backward()

    return f


# -- per layer ----------------------------------------------------------------------------------------------


def per_layer(design, esc, compiled, x, reps: int, sample_ms: float, warmup: int, torch):
    """Forward (no_grad) time of every layer of the escnn model (eval) and of CompiledModel.layers, on the
    activations the model actually sees."""
    rows = []
    with torch.no_grad():
        h = x
        inputs = []
        for m in compiled.layers:
            inputs.append(h)
            h = m(h)
    fns = {}
    for i, (em, cm, xin) in enumerate(zip(esc.layers, compiled.layers, inputs, strict=True)):

        def ef(em=em, xin=xin):
            with torch.no_grad():
                em(em.in_type(xin))

        def cf(cm=cm, xin=xin):
            with torch.no_grad():
                cm(xin)

        fns[("a", i)] = ef
        fns[("b", i)] = cf
    samples, _ = interleaved(fns, reps, sample_ms, warmup, max_calls=1000, warmup_s=float("inf"))
    for i, (em, cm, xin) in enumerate(zip(esc.layers, compiled.layers, inputs, strict=True)):
        with torch.no_grad():
            out = cm(xin)
        rows.append(
            {
                "i": i,
                "escnn": type(em).__name__,
                "compiled": type(cm).__name__,
                "shape": f"{xin.shape[1]}->{out.shape[1]}",
                "a_ms": median(samples[("a", i)]),
                "b_ms": median(samples[("b", i)]),
                "detail": _layer_detail(cm),
            }
        )
    return rows


def _layer_detail(cm) -> str:
    name = type(cm).__name__
    if name == "BlockLinear":
        blocks = [f"{b.d}x({b.e}*{b.m_in}->{b.m_out})" for b in cm.blocks]
        q = ("q_in " if cm.has_q_in else "") + ("q_out " if cm.has_q_out else "")
        return f"{len(cm.blocks)} irrep blocks [d x (e*m_in->m_out)]: {' '.join(blocks)}" + (f"; {q.strip()} dense" if q else "")
    if name == "FourierAct":
        return f"{cm.channels} channels x {cm.d} coeffs, {cm.a.shape[0]} grid points"
    return ""


# -- build time ---------------------------------------------------------------------------------------------


def build_times(spec: str, disk_cold: bool) -> dict:
    path = str(REPO / spec) if not Path(spec).is_absolute() else spec
    proc = subprocess.run(
        [sys.executable, "-c", BUILD_CODE, path, "1" if disk_cold else "0"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=str(REPO),
        timeout=600,
    )
    lines = proc.stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1])
    except (ValueError, IndexError):
        tail = "\n".join(proc.stderr.strip().splitlines()[-10:])
        return {"error": f"build subprocess exited {proc.returncode}: {tail or '(no output)'}"}
    return data


def _escnn_cache_info() -> str:
    try:
        import escnn.group as eg  # already imported by eqdesign

        path = Path(eg.__cache_path__)
    except Exception as exc:  # noqa: BLE001
        return f"unknown ({exc})"
    files = [p for p in path.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    return f"{path} ({len(files)} files, {size / 2**20:.1f} MiB apparent size)"


# -- main ---------------------------------------------------------------------------------------------------


def run(args) -> None:
    import torch

    torch.set_num_threads(THREADS)
    t_import = time.perf_counter()
    import eqdesign.escnn_backend.builder  # noqa: F401  (escnn import: quiet, and timed separately below)
    import eqdesign.escnn_backend.lower  # noqa: F401

    t_import = time.perf_counter() - t_import

    print(
        f"model_speed: torch {torch.__version__}, python {platform.python_version()}, "
        f"torch.set_num_threads({THREADS}) (get_num_threads={torch.get_num_threads()}), os.cpu_count={os.cpu_count()}"
    )
    print(
        f"  OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset: libgomp default, spinning)')} "
        f"(--omp-wait-policy; spinning OpenMP threads on a busy machine make every multi-threaded op wait for a "
        f"time slice)"
    )
    try:
        load = os.getloadavg()
        print(f"  load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    except OSError:
        pass
    print(
        f"  batch {BATCH}, float32; {args.reps} interleaved repetitions (order rotating), "
        f"{args.warmup} untimed warm-up calls each; one sample = mean over an inner loop of >= {args.sample_ms:g} ms; "
        f"numbers are medians of the samples, ms per call"
    )
    print(
        "  forward = model(x) under no_grad; train step = zero_grad + model(x).square().mean().backward() "
        "(escnn in train mode, re-expanding its weights every call)"
    )

    summary = []
    for spec in args.spec:
        t_spec = time.perf_counter()
        design, fwd, trn, widths, notes = make_models(spec, torch)
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(BATCH, design.input.dim, generator=gen, dtype=torch.float32)
        with torch.no_grad():
            ref = fwd["a"](x)
            diff_b = (fwd["b"](x) - ref).abs().max().item()
            diff_c = (fwd["c"](x) - ref).abs().max().item()
            diff_t = (trn["a"](x) - ref).abs().max().item()
        scale = ref.abs().max().item()
        params = {k: sum(p.numel() for p in trn[k].parameters() if p.requires_grad) for k in VARIANTS}

        print()
        print("=" * 100)
        print(f"spec {spec}: group {design.group.label if hasattr(design, 'group') else '?'}, widths {' -> '.join(map(str, widths))}")
        print(f"  escnn layers:    {', '.join(type(m).__name__ for m in fwd['a'].layers)}")
        print(f"  compiled layers: {', '.join(type(m).__name__ for m in fwd['b'].layers)}")
        print(f"  trainable parameters: escnn {params['a']}, compiled {params['b']}, plain MLP {params['d']}")
        for n in notes:
            print(f"  note: {n}")
        print(
            f"  sanity: max|compiled - escnn| = {diff_b:.2e}, max|scripted - escnn| = {diff_c:.2e}, "
            f"max|escnn train - escnn eval| = {diff_t:.2e} (output scale {scale:.2e})"
        )

        res = {}
        inner = {}
        for phase, maker, models in (("forward", _forward_fn, fwd), ("train", _train_fn, trn)):
            fns = {k: maker(models[k], x, torch) for k in VARIANTS}
            res[phase], inner[phase] = interleaved(fns, args.reps, args.sample_ms, args.warmup, max_calls=1000, warmup_s=float("inf"))

        print()
        print(f"  {'variant':<28}{'forward ms':>12}{'(IQR)':>18}{'train step ms':>16}{'(IQR)':>18}   calls/sample fwd,train")
        for k in VARIANTS:
            f, t = res["forward"][k], res["train"][k]
            fl, fh = quartiles(f)
            tl, th = quartiles(t)
            lab = LABELS[k] + (" [eval / train]" if k == "a" else "")
            print(
                f"  {lab:<28}{median(f):>12.3f}{f'({fl:.3f}-{fh:.3f})':>18}{median(t):>16.3f}"
                f"{f'({tl:.3f}-{th:.3f})':>18}   {inner['forward'][k]},{inner['train'][k]}"
            )
        med = {ph: {k: median(res[ph][k]) for k in VARIANTS} for ph in res}
        ratios = {
            ph: {"b/a": med[ph]["b"] / med[ph]["a"], "c/a": med[ph]["c"] / med[ph]["a"], "b/d": med[ph]["b"] / med[ph]["d"]} for ph in med
        }
        # ratio of medians, and the median of the per-repetition ratios (same repetition = same load)
        rep_ratios = {
            ph: {r: median([res[ph][r[0]][i] / res[ph][r[2]][i] for i in range(args.reps)]) for r in ("b/a", "c/a", "b/d")} for ph in res
        }
        print()
        print(f"  {'ratio':<10}{'forward':>10}{'train step':>12}   (ratio of medians; median of per-repetition ratios in brackets)")
        for r in ("b/a", "c/a", "b/d"):
            print(
                f"  {r:<10}{ratios['forward'][r]:>10.3f}{ratios['train'][r]:>12.3f}   "
                f"[{rep_ratios['forward'][r]:.3f}, {rep_ratios['train'][r]:.3f}]"
            )
        verdicts = []
        for phase, r, limit in TARGETS:
            v = ratios[phase][r]
            ok = v <= limit
            verdicts.append((phase, r, limit, v, ok))
            print(f"  target {phase:<8} {r} <= {limit:<4}: {v:.3f}  {'PASS' if ok else 'FAIL'}")

        layers = per_layer(design, fwd["a"], fwd["b"], x, max(10, args.reps // 2), args.sample_ms / 2, args.warmup, torch)
        tot_a = sum(r["a_ms"] for r in layers)
        tot_b = sum(r["b_ms"] for r in layers)
        print()
        print("  forward per layer (no_grad, medians, ms; share of the layer sum):")
        for r in layers:
            print(
                f"    {r['i']}: {r['escnn']:<26} -> {r['compiled']:<12} {r['shape']:>10}  escnn {r['a_ms']:8.3f} "
                f"({100 * r['a_ms'] / tot_a:4.0f}%)  compiled {r['b_ms']:8.3f} ({100 * r['b_ms'] / tot_b:4.0f}%)"
                f"  b/a {r['b_ms'] / r['a_ms']:.2f}"
            )
            if r["detail"]:
                print(f"         {r['detail']}")

        bt = build_times(spec, False)
        btc = build_times(spec, True) if args.disk_cold else None
        print()
        if "error" in bt:
            print(f"  build time: unavailable ({bt['error']})")
        else:
            print(
                f"  build time (fresh subprocess): import torch {bt['import_torch_s']:.2f} s, import eqdesign+escnn "
                f"{bt['import_eqdesign_escnn_s']:.2f} s, check_file {bt['check_s']:.2f} s;"
            )
            print(
                f"    build_escnn cold {bt['build_cold_s']:.3f} s (first build in the process, escnn's on-disk cache "
                f"as found), warm {bt['build_warm_s']:.3f} s (second build, same process);"
            )
            print(f"    compile_model {bt['compile_s']:.3f} s, torch.jit.script {bt['script_s']:.3f} s")
        if btc is not None:
            if "error" in btc:
                print(f"    disk-cold: unavailable ({btc['error']})")
            else:
                print(
                    f"    disk-cold (escnn's joblib cache redirected to an empty folder): import eqdesign+escnn "
                    f"{btc['import_eqdesign_escnn_s']:.2f} s, build_escnn cold {btc['build_cold_s']:.3f} s, warm "
                    f"{btc['build_warm_s']:.3f} s"
                )
        print(f"  (spec done in {time.perf_counter() - t_spec:.0f} s)")
        summary.append((spec, med, ratios, verdicts, bt, btc))

    print()
    print("=" * 100)
    print(
        f"SUMMARY (medians, ms; batch {BATCH}, float32, {THREADS} threads, {args.reps} reps; in-process import of "
        f"eqdesign+escnn {t_import:.2f} s; escnn disk cache {_escnn_cache_info()})"
    )
    for spec, med, ratios, verdicts, bt, btc in summary:
        name = Path(spec).stem
        for ph in ("forward", "train"):
            m = med[ph]
            r = ratios[ph]
            print(
                f"  {name:<22} {ph:<7}  a {m['a']:8.3f}  b {m['b']:8.3f}  c {m['c']:8.3f}  d {m['d']:8.3f}   "
                f"b/a {r['b/a']:.3f}  c/a {r['c/a']:.3f}  b/d {r['b/d']:.3f}"
            )
        line = "  ".join(f"{ph} {r}<={lim}: {v:.3f} {'PASS' if ok else 'FAIL'}" for ph, r, lim, v, ok in verdicts)
        print(f"  {'':<22} {line}")
        if "error" not in bt:
            extra = f", disk-cold {btc['build_cold_s']:.3f} s" if btc and "error" not in btc else ""
            print(
                f"  {'':<22} build_escnn cold {bt['build_cold_s']:.3f} s, warm {bt['build_warm_s']:.3f} s{extra} "
                f"(cold = first build in a fresh process, escnn disk cache as found)"
            )
    n_fail = sum(not ok for *_, verdicts, _, _ in summary for *__, ok in verdicts)
    n_all = sum(len(s[3]) for s in summary)
    print(f"  targets: {n_all - n_fail}/{n_all} PASS")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", action="append", help="spec to time (repeatable; default: " + ", ".join(DEFAULT_SPECS) + ")")
    ap.add_argument("--reps", type=int, default=30, help="interleaved timed repetitions (default 30)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed warm-up calls per variant (default 5)")
    ap.add_argument("--sample-ms", type=float, default=10.0, help="minimum duration of one sample (default 10 ms)")
    ap.add_argument(
        "--disk-cold",
        action="store_true",
        help="also time a build with escnn's on-disk cache redirected to an empty folder (slow for polyhedral groups)",
    )
    ap.add_argument(
        "--omp-wait-policy",
        choices=("PASSIVE", "ACTIVE", "default"),
        default=os.environ.get("OMP_WAIT_POLICY", "PASSIVE").upper()
        if os.environ.get("OMP_WAIT_POLICY", "PASSIVE").upper() in ("PASSIVE", "ACTIVE")
        else "PASSIVE",
        help="OMP_WAIT_POLICY for torch's OpenMP threads (default: $OMP_WAIT_POLICY, else PASSIVE; "
        "'default' leaves libgomp's spinning default)",
    )
    args = ap.parse_args()
    if args.reps < 1:
        ap.error("--reps must be >= 1")
    args.spec = args.spec or DEFAULT_SPECS
    # libgomp reads OMP_WAIT_POLICY when torch is imported: set it before (it is inherited by the build
    # subprocesses too). With the default (spinning) policy and a busy 2-core machine, two OpenMP threads wait
    # for each other's time slices: a 0.5 ms MLP forward takes ~45 ms, which says nothing about the models.
    if args.omp_wait_policy != "default":
        if "torch" in sys.modules:
            raise SystemExit("model_speed: torch was imported before OMP_WAIT_POLICY could be set")
        os.environ["OMP_WAIT_POLICY"] = args.omp_wait_policy
    t0 = time.perf_counter()
    try:
        run(args)
    except Exception as exc:  # noqa: BLE001
        if not isinstance(exc, BenchError):
            traceback.print_exc()
        print(f"\nmodel_speed: CRASHED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(f"  total runtime {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
