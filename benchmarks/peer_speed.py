#!/usr/bin/env python3
"""Peer speed: eqdesign's escnn model and its compiled forms vs plain MLPs and e3nn, side by side in one process.

For each spec it builds and times, interleaved (one sample of every variant per repetition, the order rotating,
so every variant sees the same machine load), after untimed warm-up calls:

  (a) the escnn model: ``build_tuned(design, seed=0)`` (float64, auto grids chosen) then ``.float()``; eval
      mode for the forward pass, a second copy in train mode for the training step (built again from the tuned
      design with ``build_escnn``, so no grid search runs twice);
  (b) the compiled module, ``compile_model(model64, torch.float32)``: the forward pass on its explicit
      inference copy ``freeze(compiled)`` (every matrix assembled once), the training step on a train-mode copy;
  (c) ``.pt``: ``torch.jit.script`` of (b) (train and eval copies);
  (d) ``.pt2``: ``torch.export.export(freeze(compiled), ...)`` with a dynamic batch dimension, ``.module()``
      (forward only: every weight frozen, dense-form layers assembled once);
  (e) ``torch.compile(compiled, fullgraph=True)`` (inductor), one compile for the forward pass and one for the
      training step; the compilation (first call) is timed separately (inductor's on-disk cache as found: a
      second run of this script compiles much faster); a failure is printed and the variant skipped
      (``--no-compile`` skips it);
  (f) a plain MLP of the same widths: one nn.Linear per design Linear layer (in_type.dim -> out_type.dim;
      where a nonlinearity changes the width, as a gated layer does, the previous width is fed), ELU between;
  (g) a plain MLP with the same activation count (specs with sampled Fourier layers only). Per hidden layer,
      from the previous width w: a Fourier/quotient layer of C channels sampled on P grid points (P = the
      escnn module's ``A.shape[0]``, C = ``len(module.in_type)``) becomes Linear(w, C*P) -> ELU ->
      Linear(C*P, hidden width) (the design Linear and the Fourier transform folded into one dense layer,
      the inverse transform a dense layer back to the coefficients); any other hidden layer becomes
      Linear(w, out_type.dim) -> ELU. A final Linear(w, output dim) closes it;
  (h) e3nn (specs whose hidden layers are all gated or tensor_product, groups o3 and so3): e3nn.o3.Linear
      (biases on scalars) between the spec's irreps, and per hidden layer an ``e3nn.nn.Gate`` with the same
      scalars (ELU), one sigmoid gate per gated irrep and the same gated irreps, or, for a tensor_product
      layer of C channels of a field F, a channel-wise ``e3nn.o3.TensorProduct(x, x)`` (C x F with itself
      onto C x F, every allowed path in mode "uuu": a FullyConnectedTensorProduct of F with itself per
      channel, one weight per path and channel, as eqdesign's layer has). SO(3) irreps are mapped to even
      parity (l -> "le"), so e3nn applies SO(3)'s selection rules. It computes a different function (own
      initialisation, own bases, e3nn's normalised activations, no learned gate bias: one parameter per gate
      fewer than eqdesign's sigmoid(gate - bias)): no output comparison;
  (i) the activations alone (specs with sampled Fourier layers): ELU on channels x points values per sample,
      as many as the Fourier layers evaluate, summed per sample, with nothing else: the floor of any model
      with that activation count. b/i says how far above that floor the compiled model runs (its transforms and linear layers).

Forward: ``model(x)`` under torch.no_grad(). Training step: ``zero_grad(set_to_none=True);
model(x).square().mean().backward()`` (no optimizer step). Batch 1024, float32, torch.set_num_threads(2),
OMP_WAIT_POLICY=PASSIVE unless set. One sample = the mean over an inner loop of calls lasting at least
``--sample-ms``; reported numbers are medians over ``--reps`` samples (IQR in brackets).

Default specs: specs/so3-vector-mlp.yaml (flagship), specs/ico-regular-elu.yaml, and three written to a
temporary folder: an O(3) gated MLP (compared with e3nn), a larger SO(3) Fourier MLP (two 64-channel
band-limit-2 Fourier layers, so the 2240 x 2240 linear layer between them dominates; its build needs
EQDESIGN_LIMIT_MAX_MEMORY_MB, set to 8192 here unless set) and an SO(3) tensor-product MLP (compared with an
e3nn channel-wise tensor product). ``--spec PATH`` (repeatable) overrides them.

It prints, per spec: trainable parameters, multiply-adds per sample of the linear layers (compiled: per-block
layers sum d*e*m_in*m_out over the irrep blocks, dense-form layers in*out, and which form each layer uses;
escnn: in*out; plain MLPs: in*out; e3nn: sum mul_in*mul_out*dim over the o3.Linear paths), a sanity line
(max |y - y_a| / max |y_a| of every variant computing the same function as (a)), the medians and the ratios
b/a, b/f, b/g, b/i, d/c, b/h, e/a, c/a (forward and training step).

Run it:  bash scripts/bootstrap.sh --dev --bench   then   .venv/bin/python benchmarks/peer_speed.py
         [--reps 15] [--sample-ms 150] [--spec specs/X.yaml ...] [--no-compile]
Exit code 0 when every spec was measured; 2 when something crashed.
"""

from __future__ import annotations

import argparse
import copy
import gc
import os
import platform
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# libgomp reads OMP_WAIT_POLICY when torch is loaded: spinning OpenMP threads on a busy 2-core machine make every
# 2-thread op wait for a time slice, which says nothing about the models.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# the large SO(3) spec's build is estimated at ~4.3 GB, above check's default limit of 4096 MB
os.environ.setdefault("EQDESIGN_LIMIT_MAX_MEMORY_MB", "8192")

import torch  # noqa: E402
from bench_common import BenchError, load_design  # noqa: E402 - benchmarks/ is the script's folder
from timing import interleaved, median, quartiles  # noqa: E402
from torch import nn  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BATCH = 1024
THREADS = 2
MISMATCH = 1e-4  # relative output difference above which the sanity line says MISMATCH

O3_GATED = """\
name: o3-gated-peer
group: o3
input: "16x1o + 8x1e + 8x2e + 32x0e"
output: "16x1o + 8x1e + 8x2e + 32x0e"
hidden:
  - {nonlinearity: gated, fields: "16x1o + 8x1e + 8x2e", scalars: 32}
  - {nonlinearity: gated, fields: "16x1o + 8x1e + 8x2e", scalars: 32}
"""
SO3_BIG = """\
name: so3-fourier-big-peer
group: so3
input: "1x1 + 1x0"
output: "1x1 + 1x0"
hidden:
  - {nonlinearity: fourier_elu, band_limit: 2, channels: 64}
  - {nonlinearity: fourier_elu, band_limit: 2, channels: 64}
"""
SO3_TP = """\
name: so3-tensor-product-peer
group: so3
input: "1x1 + 1x0"
output: "1x1 + 1x0"
hidden:
  - {nonlinearity: tensor_product, channels: 32, field: "0 + 1 + 2"}
"""
REPO_SPECS = ["specs/so3-vector-mlp.yaml", "specs/ico-regular-elu.yaml"]
TEMP_SPECS = {"o3-gated-peer.yaml": O3_GATED, "so3-fourier-big-peer.yaml": SO3_BIG, "so3-tensor-product-peer.yaml": SO3_TP}

VARIANTS = ("a", "b", "c", "d", "e", "f", "g", "h", "i")
LABELS = {
    "a": "(a) escnn",
    "b": "(b) compiled",
    "c": "(c) .pt jit.script",
    "d": "(d) .pt2 export(freeze)",
    "e": "(e) torch.compile",
    "f": "(f) plain MLP, widths",
    "g": "(g) plain MLP, activations",
    "h": "(h) e3nn",
    "i": "(i) the activations alone",
}
RATIOS = ("b/a", "b/f", "b/g", "b/i", "d/c", "b/h", "e/a", "c/a")
SAME_FUNCTION = ("b", "c", "d", "e")  # variants that compute (a)'s function


@dataclass
class Bench:
    """Everything built for one spec."""

    spec: str
    path: Path
    design: Any
    fwd: dict[str, Callable[[torch.Tensor], torch.Tensor]] = field(default_factory=dict)
    trn: dict[str, nn.Module] = field(default_factory=dict)
    trn_call: dict[str, Callable[[torch.Tensor], torch.Tensor]] = field(default_factory=dict)
    params: dict[str, int] = field(default_factory=dict)
    macs: dict[str, int] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    layer_forms: list[str] = field(default_factory=list)


# -- specs and the escnn / compiled models ------------------------------------------------------------------


def _trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def build_escnn_pair(design: Any, bench: Bench) -> Any:
    """(a): eval and train copies (float32) and the compiled module made from the float64 model."""
    from eqdesign.escnn_backend.autogrid import build_tuned
    from eqdesign.escnn_backend.builder import build_escnn
    from eqdesign.escnn_backend.lower import compile_model

    (model64, _), t_build = _timed(lambda: build_tuned(design, seed=0))
    compiled, t_compile = _timed(lambda: compile_model(model64, torch.float32))
    # the train copy: built again from the tuned design (its grids are chosen: no second search)
    model64_b, t_build2 = _timed(lambda: build_escnn(model64.design, torch.float64, seed=0))
    esc_train = model64_b.float()
    esc_train.train()
    esc_eval = model64.float()  # in place: model64 is not needed any more
    esc_eval.train()
    esc_eval.eval()  # escnn caches the expanded matrices (now in float32) when switched to eval
    bench.design = model64.design  # the tuned design
    bench.fwd["a"], bench.trn["a"] = esc_eval, esc_train
    bench.setup.append(f"build_tuned {t_build:.1f} s (float64, auto grids), train copy build_escnn {t_build2:.1f} s")
    bench.setup.append(f"compile_model {t_compile:.2f} s")
    return compiled


def add_compiled(compiled: nn.Module, bench: Bench, x: torch.Tensor, use_compile: bool) -> None:
    """(b), (c), (d), (e)."""
    from eqdesign.export.freeze import freeze

    bench.fwd["b"], bench.trn["b"] = freeze(compiled), copy.deepcopy(compiled).train()
    (c_eval, c_train), t_script = _timed(lambda: (torch.jit.script(copy.deepcopy(compiled)), torch.jit.script(copy.deepcopy(compiled))))
    bench.fwd["c"], bench.trn["c"] = c_eval.eval(), c_train.train()
    bench.setup.append(f"torch.jit.script {t_script / 2:.2f} s")
    try:
        pt2, t_export = _timed(lambda: export_pt2(freeze(copy.deepcopy(compiled)), x[:2]))
        bench.fwd["d"] = pt2
        bench.setup.append(f"freeze + torch.export {t_export:.2f} s")
    except Exception as exc:  # noqa: BLE001
        bench.notes.append(f"(d) skipped: torch.export failed: {_short(exc)}")
    if use_compile:
        add_torch_compile(compiled, bench, x)
    else:
        bench.notes.append("(e) skipped (--no-compile)")


def export_pt2(frozen: nn.Module, example: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(frozen, (example,), dynamic_shapes={"x": {0: batch}})
    return program.module()


def add_torch_compile(compiled: nn.Module, bench: Bench, x: torch.Tensor) -> None:
    """(e): compile the forward (no_grad, eval copy) and the training step (train copy); time the first calls."""
    # every spec's CompiledModel shares one forward code object: without a reset, dynamo's recompile limit (8)
    # is reached after a few specs and fullgraph=True turns that into a hard failure
    torch._dynamo.reset()
    ev, tr = copy.deepcopy(compiled).eval(), copy.deepcopy(compiled).train()
    try:
        opt_ev = torch.compile(ev, fullgraph=True)
        with torch.no_grad():
            _, t_fwd = _timed(lambda: opt_ev(x))
    except Exception as exc:  # noqa: BLE001
        bench.notes.append(f"(e) skipped: torch.compile (forward) failed: {_short(exc)}")
        return
    try:
        opt_tr = torch.compile(tr, fullgraph=True)

        def step() -> None:
            tr.zero_grad(set_to_none=True)
            opt_tr(x).square().mean().backward()

        _, t_train = _timed(step)
    except Exception as exc:  # noqa: BLE001
        bench.notes.append(f"(e) training step skipped: torch.compile (train) failed: {_short(exc)}")
        opt_tr, t_train = None, float("nan")
    bench.fwd["e"] = opt_ev
    if opt_tr is not None:
        bench.trn["e"], bench.trn_call["e"] = tr, opt_tr
    bench.setup.append(
        f"torch.compile: first call (compilation, inductor cache as found) forward {t_fwd:.1f} s, training step {t_train:.1f} s"
    )


def _short(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}"


# -- plain MLPs ---------------------------------------------------------------------------------------------


def plain_same_widths(design: Any) -> tuple[nn.Sequential, list[str]]:
    """(f): one nn.Linear per design Linear layer, ELU between."""
    linears = design.linears
    mods: list[nn.Module] = []
    notes: list[str] = []
    prev: int | None = None
    for k, layer in enumerate(linears):
        d_in = layer.in_type.dim
        if prev is not None and d_in != prev:
            notes.append(f"(f) linear {k}: design in {d_in}, plain MLP feeds the previous width {prev}")
            d_in = prev
        mods.append(nn.Linear(d_in, layer.out_type.dim))
        if k < len(linears) - 1:
            mods.append(nn.ELU())
        prev = layer.out_type.dim
    return nn.Sequential(*mods), notes


def _sampled(module: Any) -> tuple[int, int] | None:
    """(channels, grid points) of an escnn Fourier/quotient module, else None."""
    if not (hasattr(module, "A") and hasattr(module, "Ainv")):
        return None
    return len(module.in_type), int(module.A.shape[0])


def plain_same_activations(esc: Any) -> tuple[nn.Sequential, list[str]] | None:
    """(g), see the module docstring; None when the model has no sampled Fourier layer."""
    from eqdesign.analysis.design import Nonlinear

    design = esc.design
    hidden = [b for b in esc.built if isinstance(b.layer, Nonlinear)]
    if not any(_sampled(b.module) for b in hidden):
        return None
    mods: list[nn.Module] = []
    desc: list[str] = []
    prev = design.input.dim
    for b in hidden:
        cp = _sampled(b.module)
        if cp is not None:
            a = cp[0] * cp[1]
            mods += [nn.Linear(prev, a), nn.ELU(), nn.Linear(a, b.layer.out_type.dim)]
            desc.append(f"{prev}->{a} ({cp[0]} ch x {cp[1]} pts) ELU ->{b.layer.out_type.dim}")
            prev = b.layer.out_type.dim
        else:
            a = b.layer.out_type.dim
            mods += [nn.Linear(prev, a), nn.ELU()]
            desc.append(f"{prev}->{a} ELU")
            prev = a
    mods.append(nn.Linear(prev, design.output.dim))
    desc.append(f"{prev}->{design.output.dim}")
    return nn.Sequential(*mods), desc


def _activations(module: Any) -> int:
    """Activation evaluations per sample of one escnn module: channels x points of a sampled layer, the width
    of a pointwise one, none elsewhere."""
    sampled = _sampled(module)
    if sampled is not None:
        return sampled[0] * sampled[1]
    return 0


class ActivationsAlone(nn.Module):
    """(i): ELU on as many values per sample as the model's Fourier layers sample, summed per sample (so that
    the training step's loss is as small as a model's output), and nothing else: the time those activations
    take at least (the input only sets the batch)."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.samples = nn.Parameter(torch.randn(BATCH, count))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.elu(self.samples[: x.shape[0]]).sum(dim=1, keepdim=True)


# -- e3nn ---------------------------------------------------------------------------------------------------


def _e3nn_name(group_key: str, name: str) -> str | None:
    if group_key == "o3" and re.fullmatch(r"\d+[eo]", name):
        return name
    if group_key == "so3" and re.fullmatch(r"\d+", name):
        return f"{name}e"  # even parity: SO(3)'s selection rules
    return None


def e3nn_irreps(group_key: str, ftype: Any) -> Any:
    from e3nn import o3

    parts = []
    for irrep, mul in ftype.content().items():
        name = _e3nn_name(group_key, irrep.name)
        if name is None:
            raise BenchError(f"no e3nn irrep for {irrep.name} of {group_key}")
        parts.append((mul, o3.Irrep(name)))
    return o3.Irreps(parts).sort().irreps.simplify()


class SelfTensorProduct(nn.Module):
    """x -> tp(x, x): a channel-wise e3nn tensor product of a field with itself."""

    def __init__(self, tp: nn.Module) -> None:
        super().__init__()
        self.tp = tp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tp(x, x)


def e3nn_gate(group_key: str, layer: Any) -> nn.Module:
    from e3nn import o3
    from e3nn.nn import Gate

    out = e3nn_irreps(group_key, layer.out_type)
    scalars, gated = [], []
    left = layer.scalars
    for mul, ir in out:
        if ir == o3.Irrep("0e") and left:
            take = min(mul, left)
            scalars.append((take, ir))
            left -= take
            mul -= take
        if mul:
            gated.append((mul, ir))
    gated_irreps = o3.Irreps(gated)
    gates = o3.Irreps(f"{gated_irreps.num_irreps}x0e") if gated_irreps.num_irreps else o3.Irreps("")
    scalar_irreps = o3.Irreps(scalars)
    act_s = [torch.nn.functional.elu] * len(scalar_irreps)
    return Gate(scalar_irreps, act_s, gates, [torch.sigmoid] * len(gates), gated_irreps)


def e3nn_tensor_product(group_key: str, layer: Any) -> nn.Module:
    from e3nn import o3

    field_irreps: list[Any] = []
    for irrep, mul in sorted(layer.channel.items(), key=lambda kv: kv[0].freq):
        name = _e3nn_name(group_key, irrep.name)
        if name is None:
            raise BenchError(f"no e3nn irrep for {irrep.name} of {group_key}")
        field_irreps += [o3.Irrep(name)] * mul
    c = layer.channels
    irreps = o3.Irreps([(c, ir) for ir in field_irreps])
    ins = [
        (i1, i2, o, "uuu", True)
        for i1, (_, ir1) in enumerate(irreps)
        for i2, (_, ir2) in enumerate(irreps)
        for o, (_, ir_out) in enumerate(irreps)
        if ir_out in ir1 * ir2
    ]
    return SelfTensorProduct(o3.TensorProduct(irreps, irreps, irreps, ins))


def e3nn_model(design: Any) -> tuple[nn.Module | None, str]:
    """(h), or None and the reason."""
    try:
        from e3nn import o3
    except ImportError:
        return None, "e3nn is not installed (bash scripts/bootstrap.sh --dev --bench)"
    key = design.group.key
    if key not in ("o3", "so3"):
        return None, f"group {design.group.label}: no e3nn counterpart"
    kinds = sorted({h.kind for h in design.hidden} - {"gated", "tensor"})
    if kinds:
        return None, f"hidden layers of kind {', '.join(kinds)}: no e3nn counterpart here (gated and tensor_product only)"
    mods: list[nn.Module] = []
    prev = e3nn_irreps(key, design.input)
    for h in design.hidden:
        act = e3nn_gate(key, h) if h.kind == "gated" else e3nn_tensor_product(key, h)
        irreps_in = act.irreps_in if h.kind == "gated" else act.tp.irreps_in1
        irreps_out = act.irreps_out if h.kind == "gated" else act.tp.irreps_out
        mods += [o3.Linear(prev, irreps_in, biases=True), act]
        prev = irreps_out
    mods.append(o3.Linear(prev, e3nn_irreps(key, design.output), biases=True))
    return nn.Sequential(*mods), " -> ".join(_e3nn_desc(m) for m in mods)


def _e3nn_desc(m: nn.Module) -> str:
    name = type(m).__name__
    if name == "Linear":
        return f"Linear[{m.irreps_in} -> {m.irreps_out}]"
    if name == "Gate":
        return f"Gate[{m.irreps_scalars} | gates {m.irreps_gates} | {m.irreps_gated}]"
    return f"TensorProduct[uuu, {len(m.tp.instructions)} paths]"


# -- multiply-adds ------------------------------------------------------------------------------------------


def compiled_linear_forms(compiled: nn.Module) -> tuple[int, list[str]]:
    """MACs per sample of the compiled linear layers, and one line per layer with its form."""
    from eqdesign.export.blocks import BlockLinear, DenseLinear

    total, lines = 0, []
    for i, layer in enumerate(compiled.layers):
        if isinstance(layer, DenseLinear):
            macs = layer.weight.numel()
            total += macs
            lines.append(f"layer {i}: DenseLinear {layer.weight.shape[1]}->{layer.weight.shape[0]}, MACs {macs:,}")
        if not isinstance(layer, BlockLinear):
            continue
        blocks = [f"{b.d}x({b.e}*{b.m_in}->{b.m_out})" for b in layer.blocks]
        if layer.per_block:
            macs = sum(b.d * b.e * b.m_in * b.m_out for b in layer.blocks)
            q = layer.in_dim**2 * layer.has_q_in + layer.out_dim**2 * layer.has_q_out
            extra = f" (+ {q:,} for the changes of basis)" if q else ""
            form = "per-block"
        else:
            macs, extra, form = layer.in_dim * layer.out_dim, "", "dense"
        total += macs
        lines.append(
            f"layer {i}: {layer.in_dim}->{layer.out_dim} {form:<9} MACs {macs:>9,}{extra}  "
            f"{len(blocks)} irrep blocks d x (e*m_in->m_out): {' '.join(blocks) or '-'}"
        )
    return total, lines


def escnn_macs(esc: Any) -> int:
    from eqdesign.escnn_backend.compat import enn

    return sum(b.module.in_type.size * b.module.out_type.size for b in esc.built if isinstance(b.module, enn.Linear))


def plain_macs(model: nn.Module) -> int:
    return sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, nn.Linear))


def e3nn_macs(model: nn.Module) -> int:
    from e3nn import o3

    total = 0
    for m in model.modules():
        if isinstance(m, o3.Linear):
            total += sum(
                ins.path_shape[0] * ins.path_shape[1] * m.irreps_out[ins.i_out].ir.dim for ins in m.instructions if len(ins.path_shape) == 2
            )
    return total


# -- building one spec --------------------------------------------------------------------------------------


def make_bench(spec: str, path: Path, x_seed: int, use_compile: bool) -> tuple[Bench, torch.Tensor]:
    design = load_design(path)
    bench = Bench(spec, path, design)
    compiled = build_escnn_pair(design, bench)
    gen = torch.Generator().manual_seed(x_seed)
    x = torch.randn(BATCH, bench.design.input.dim, generator=gen, dtype=torch.float32)
    add_compiled(compiled, bench, x, use_compile)
    bench.macs["a"] = escnn_macs(bench.fwd["a"])
    bench.macs["b"], bench.layer_forms = compiled_linear_forms(compiled)

    torch.manual_seed(0)
    plain_f, notes_f = plain_same_widths(bench.design)
    bench.notes += notes_f
    _add_plain("f", plain_f, bench)
    g = plain_same_activations(bench.fwd["a"])
    if g is None:
        bench.notes.append("(g) skipped: no sampled Fourier/quotient layer (it would be (f) again)")
    else:
        _add_plain("g", g[0], bench)
        bench.notes.append(f"(g) layers: {' | '.join(g[1])}")
        floor = ActivationsAlone(sum(_activations(b.module) for b in bench.fwd["a"].built))
        _add_plain("i", floor, bench)
        bench.notes.append(f"(i) ELU on {floor.samples.shape[1]:,} samples per input: the floor of any model with that activation count")
    h, why = e3nn_model(bench.design)
    if h is None:
        bench.notes.append(f"(h) skipped: {why}")
    else:
        _add_plain("h", h, bench)
        bench.notes.append(f"(h) e3nn: {why}")
    for k, m in bench.trn.items():
        bench.params[k] = _trainable(m)
    return bench, x


def _add_plain(key: str, model: nn.Module, bench: Bench) -> None:
    bench.fwd[key] = model.eval()
    bench.trn[key] = copy.deepcopy(model).train()
    bench.macs[key] = e3nn_macs(model) if key == "h" else 0 if key == "i" else plain_macs(model)


# -- timing -------------------------------------------------------------------------------------------------


def forward_fn(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Callable[[], None]:
    def f() -> None:
        with torch.no_grad():
            model(x)

    return f


def train_fn(model: nn.Module, call: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Callable[[], None]:
    if not any(p.requires_grad for p in model.parameters()):
        raise BenchError(f"{type(model).__name__} has no trainable parameters")

    def f() -> None:
        model.zero_grad(set_to_none=True)
        call(x).square().mean().backward()

    return f


# -- report -------------------------------------------------------------------------------------------------


def sanity(bench: Bench, x: torch.Tensor) -> str:
    """max |y - y_a| / max |y_a| for every variant that computes (a)'s function."""
    with torch.no_grad():  # forward copies as timed: under no_grad
        ref = bench.fwd["a"](x)
        outs = {k: bench.fwd[k](x) for k in SAME_FUNCTION if k in bench.fwd}
        shapes = {k: tuple(bench.fwd[k](x).shape) for k in ("f", "g", "h") if k in bench.fwd}  # (i) computes no function of x
    # train copies as timed: with grad (a torch.compile'd module would otherwise compile a third graph)
    for k in ("a", *SAME_FUNCTION):
        if k in bench.trn:
            outs[f"{k} train"] = bench.trn_call.get(k, bench.trn[k])(x).detach()
    scale = ref.abs().max().item()
    parts = []
    for name, y in outs.items():
        rel = (y - ref).abs().max().item() / max(scale, 1e-30)
        parts.append(f"{name} {rel:.1e}{' MISMATCH' if not rel <= MISMATCH else ''}")
    parts += [f"{k}: output shape {shape} != {tuple(ref.shape)}" for k, shape in shapes.items() if shape != tuple(ref.shape)]
    return f"max|y - y_a|/max|y_a| (output scale {scale:.2e}): " + ", ".join(parts)


def ratio_table(res: dict[str, dict[str, list[float]]], reps: int) -> dict[str, dict[str, tuple[float, float] | None]]:
    """phase -> ratio -> (ratio of medians, median of per-repetition ratios), None where a side is missing."""
    out: dict[str, dict[str, tuple[float, float] | None]] = {}
    for phase, samples in res.items():
        out[phase] = {}
        for r in RATIOS:
            num, den = r.split("/")
            if num in samples and den in samples:
                per_rep = median([samples[num][i] / samples[den][i] for i in range(reps)])
                out[phase][r] = (median(samples[num]) / median(samples[den]), per_rep)
            else:
                out[phase][r] = None
    return out


def print_spec_header(bench: Bench, x: torch.Tensor) -> None:
    d = bench.design
    widths = [d.linears[0].in_type.dim] + [lin.out_type.dim for lin in d.linears]
    hidden = ", ".join(f"{h.activation}" for h in d.hidden)
    print()
    print("=" * 110)
    print(f"spec {bench.spec}: group {d.group.label}, linear widths {' -> '.join(map(str, widths))}, hidden: {hidden}")
    if "(temporary" in bench.spec:
        print("  spec text: " + " | ".join(line for line in bench.path.read_text().splitlines() if line.strip()))
    print(f"  setup: {'; '.join(bench.setup)}")
    print("  compiled linear layers (form chosen by lower_linear.choose_per_block):")
    for line in bench.layer_forms:
        print(f"    {line}")
    keys = [k for k in VARIANTS if k in bench.params]
    print("  trainable parameters: " + ", ".join(f"{LABELS[k]} {bench.params[k]:,}" for k in keys))
    keys = [k for k in VARIANTS if k in bench.macs]
    print("  linear-layer MACs per sample: " + ", ".join(f"{LABELS[k]} {bench.macs[k]:,}" for k in keys))
    print("    (escnn: in*out of every escnn Linear, dense; compiled: per-block sum d*e*m_in*m_out, dense in*out)")
    for note in bench.notes:
        print(f"  note: {note}")
    print(f"  sanity: {sanity(bench, x)}")


def _cell(xs: list[float] | None, width: int) -> str:
    if not xs:
        return f"{'-':>{width}}{'':>22}"
    lo, hi = quartiles(xs)
    return f"{median(xs):>{width}.3f}{f'({lo:.3f}-{hi:.3f})':>22}"


def print_results(res: dict[str, dict[str, list[float]]], inner: dict[str, dict[str, int]], reps: int) -> dict[str, Any]:
    print()
    print(f"  {'variant':<30}{'forward ms':>12}{'(IQR)':>22}{'train step ms':>16}{'(IQR)':>22}   calls/sample fwd,train")
    for k in VARIANTS:
        if k not in res["forward"] and k not in res["train"]:
            continue
        calls = ",".join(str(inner[ph].get(k, "-")) for ph in ("forward", "train"))
        print(f"  {LABELS[k]:<30}{_cell(res['forward'].get(k), 12)}{_cell(res['train'].get(k), 16)}   {calls}")
    ratios = ratio_table(res, reps)
    print()
    print(f"  {'ratio':<8}{'forward':>10}{'train step':>12}   (ratio of medians; median of per-repetition ratios in brackets)")
    for r in RATIOS:
        f, t = ratios["forward"][r], ratios["train"][r]
        if f is None and t is None:
            continue
        fs = f"{f[0]:.3f}" if f else "-"
        ts = f"{t[0]:.3f}" if t else "-"
        br = f"[{f[1]:.3f}" if f else "[-"
        br += f", {t[1]:.3f}]" if t else ", -]"
        print(f"  {r:<8}{fs:>10}{ts:>12}   {br}")
    return ratios


def run_spec(spec: str, path: Path, args: argparse.Namespace) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    t0 = time.perf_counter()
    bench, x = make_bench(spec, path, 0, not args.no_compile)
    print_spec_header(bench, x)
    res: dict[str, dict[str, list[float]]] = {}
    inner: dict[str, dict[str, int]] = {}
    fwd = {k: forward_fn(bench.fwd[k], x) for k in VARIANTS if k in bench.fwd}
    res["forward"], inner["forward"] = interleaved(fwd, args.reps, args.sample_ms, args.warmup)
    trn = {k: train_fn(bench.trn[k], bench.trn_call.get(k, bench.trn[k]), x) for k in VARIANTS if k in bench.trn}
    res["train"], inner["train"] = interleaved(trn, args.reps, args.sample_ms, args.warmup)
    ratios = print_results(res, inner, args.reps)
    print(f"  (spec done in {time.perf_counter() - t0:.0f} s)")
    med = {ph: {k: median(v) for k, v in res[ph].items()} for ph in res}
    return med, ratios


def print_summary(rows: list[tuple[str, dict[str, dict[str, float]], dict[str, Any]]], args: argparse.Namespace) -> None:
    print()
    print("=" * 110)
    print(f"SUMMARY (medians, ms per call; batch {BATCH}, float32, {THREADS} threads, {args.reps} reps, samples >= {args.sample_ms:g} ms)")
    for spec, med, ratios in rows:
        name = Path(spec.split()[0]).stem
        for ph in ("forward", "train"):
            ms = "  ".join(f"{k} {med[ph][k]:.3f}" for k in VARIANTS if k in med[ph])
            rs = "  ".join(f"{r} {ratios[ph][r][0]:.3f}" for r in RATIOS if ratios[ph][r])
            print(f"  {name:<26} {ph:<7}  {ms}")
            print(f"  {'':<26} {'':<7}  {rs}")


def spec_list(args: argparse.Namespace, tmp: Path) -> list[tuple[str, Path]]:
    if args.spec:
        return [(s, Path(s) if Path(s).is_absolute() else Path.cwd() / s) for s in args.spec]
    out = [(s, REPO / s) for s in REPO_SPECS]
    for name, text in TEMP_SPECS.items():
        (tmp / name).write_text(text)
        out.append((f"{name} (temporary, {tmp / name})", tmp / name))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--spec", action="append", help="spec to time (repeatable; default: the two repo specs and three temporary ones)")
    ap.add_argument("--reps", type=int, default=15, help="interleaved timed repetitions (default 15)")
    ap.add_argument("--sample-ms", type=float, default=150.0, help="minimum duration of one sample (default 150 ms)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed warm-up calls per variant, capped at ~2 s (default 3)")
    ap.add_argument("--no-compile", action="store_true", help="skip (e), torch.compile")
    args = ap.parse_args()
    if args.reps < 1:
        ap.error("--reps must be >= 1")
    torch.set_num_threads(THREADS)
    import eqdesign.escnn_backend.lower  # noqa: F401  (imports escnn once, before anything is timed)

    try:
        import e3nn

        e3nn_version = e3nn.__version__
    except ImportError:
        e3nn_version = "not installed"
    print(
        f"peer_speed: torch {torch.__version__}, e3nn {e3nn_version}, python {platform.python_version()}, "
        f"threads {torch.get_num_threads()}, os.cpu_count {os.cpu_count()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
        f"EQDESIGN_LIMIT_MAX_MEMORY_MB={os.environ.get('EQDESIGN_LIMIT_MAX_MEMORY_MB')}"
    )
    print(
        f"  batch {BATCH}, float32; {args.reps} interleaved repetitions, {args.warmup} warm-up calls; one sample = mean over "
        f">= {args.sample_ms:g} ms of calls. forward = model(x) under no_grad; train step = zero_grad + "
        "model(x).square().mean().backward()"
    )
    t0 = time.perf_counter()
    rows = []
    failed = 0
    with tempfile.TemporaryDirectory(prefix="eqd-peer-") as tmp:
        for spec, path in spec_list(args, Path(tmp)):
            try:
                med, ratios = run_spec(spec, path, args)
                rows.append((spec, med, ratios))
            except Exception as exc:  # noqa: BLE001
                failed += 1
                if not isinstance(exc, BenchError):
                    traceback.print_exc()
                print(f"\npeer_speed: {spec}: FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
            gc.collect()
    print_summary(rows, args)
    print(f"  total runtime {time.perf_counter() - t0:.0f} s")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
