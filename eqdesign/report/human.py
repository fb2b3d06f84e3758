"""Human-readable reports with rich tables: field types, Schur blocks, mixing, influence, findings."""

from __future__ import annotations

import json
import math
import os
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..analysis.cost import ELEMENTWISE_MACS, Cost, cost_line, cost_of
from ..analysis.dataflow import Flow
from ..analysis.design import Design, FieldType, Grid, Linear
from ..exitcodes import ExitCode
from ..findings import Finding, Severity, printable
from ..results import BuildBatch, BuildResult, CheckResult, SpecResult, VerifyBatch

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


class HumanReporter:
    def __init__(self, out: TextIO) -> None:
        # Pipes and CI logs get a fixed, roomy width; terminals use their own.
        width = None if out.isatty() else 120
        # NO_COLOR wins over everything, FORCE_COLOR included (no-color.org): no escape codes at all.
        plain = bool(os.environ.get("NO_COLOR"))
        self.console = Console(file=out, highlight=False, width=width, color_system=None if plain else "auto")

    # -- check ------------------------------------------------------------------------------------------
    def check(self, result: CheckResult) -> None:
        for problem in result.usage_errors:
            self.console.print(Text(f"error: {printable(problem)}", style="bold red"))
        for spec in result.specs:
            self.spec(spec, result.strict)
        self.summary(result)

    def spec(self, s: SpecResult, strict: bool) -> None:
        c = self.console
        title = f"{printable(s.file)}"
        if s.design is not None:
            title += f"  ·  {s.design.spec.name}  ·  {s.design.group.label}  ·  {s.design.params:,} parameters"
        c.rule(Text(title, style="bold"), align="left")
        if s.design is not None:
            for title, table in _tables(s, s.design):
                c.print(Text(title, style="bold"))
                c.print(table)
        for f in s.all_findings():
            self.finding(f)
        code = s.exit_code(strict)
        verdict = {
            0: ("ok", "bold green"),
            1: ("fails the check", "bold red"),
            2: ("spec error", "bold red"),
            3: ("internal error", "bold red"),
        }[code]
        c.print(Text(f"{printable(s.file)}: {verdict[0]} ({s.errors} errors, {s.warnings} warnings)", style=verdict[1]))
        c.print()

    def finding(self, f: Finding) -> None:
        line = Text(f"{f.location}: ")
        line.append(f"{f.severity.value} ", style=_STYLE[f.severity])
        line.append(f"[{f.rule_id} {f.rule}] ", style="dim")
        line.append(f.message)
        self.console.print(line, soft_wrap=True)
        if f.hint:
            self.console.print(Text(f"    hint: {f.hint}", style="dim"), soft_wrap=True)

    def summary(self, result: CheckResult) -> None:
        for skipped in result.skipped:
            self.console.print(Text(f"skipped {printable(skipped)}", style="dim"), soft_wrap=True)
        n = len(result.specs)
        errors = sum(s.errors for s in result.specs)
        warnings = sum(s.warnings for s in result.specs)
        clean = sum(s.exit_code(result.strict) == 0 for s in result.specs)
        style = "bold green" if result.exit_code == 0 else "bold red"
        skipped = f", {len(result.skipped)} skipped" if result.skipped else ""
        self.console.print(
            Text(
                f"{n} spec(s) checked{skipped}: {clean} ok, {errors} errors, {warnings} warnings (exit {int(result.exit_code)})",
                style=style,
            )
        )

    # -- build and verify ---------------------------------------------------------------------------------
    def build(self, batch: BuildBatch) -> None:
        for problem in batch.usage_errors:
            self.console.print(Text(f"error: {printable(problem)}", style="bold red"), soft_wrap=True)
        for result in batch.builds:
            self.build_result(result)
        if len(batch.builds) > 1:
            built = sum(b.ok for b in batch.builds)
            style = "bold green" if batch.exit_code == ExitCode.OK else "bold red"
            self.console.print(Text(f"{len(batch.builds)} spec(s): {built} built (exit {int(batch.exit_code)})", style=style))

    def build_result(self, result: BuildResult) -> None:
        c, check = self.console, result.check
        if check.design is None or check.exit_code() != ExitCode.OK:
            self.spec(check, strict=False)
        else:
            c.rule(Text(f"{printable(check.file)}  ·  {check.design.spec.name}  ·  {check.design.group.label}", style="bold"), align="left")
        _equivariance(c, result)
        for failure in result.failures:
            c.print(Text(f"{printable(check.file)}: error: {failure}", style="bold red"), soft_wrap=True)
        for note in result.notes:
            c.print(Text(f"note: {note}", style="dim"), soft_wrap=True)
        if result.ok:
            c.print(
                Text(f"{printable(check.file)}: built and verified; {_written(result.artifacts)}", style="bold green"),
                soft_wrap=True,
            )
        else:
            c.print(
                Text(f"{printable(check.file)}: build failed (exit {int(result.exit_code)}); nothing was written", style="bold red"),
                soft_wrap=True,
            )

    def verify(self, batch: VerifyBatch) -> None:
        for v in batch.results:
            style = "bold green" if v.ok else "bold red"
            prefix = "error: " if not v.readable else ""
            self.console.print(Text(f"{prefix}{printable(v.path)}: {v.message}", style=style), soft_wrap=True)

    def cache(self, result: Any) -> None:
        verb = {"info": "cache", "clear": "cleared", "warm": "warmed"}[result.action]
        self.console.print(f"{verb}: {result.path} ({result.files} files, {result.bytes / 1e6:.1f} MB)", soft_wrap=True)
        for path in result.warmed:
            self.console.print(f"  built {path}", soft_wrap=True)
        for problem in result.problems:
            self.console.print(Text(f"error: {printable(problem)}", style="bold red"), soft_wrap=True)

    def error(self, message: str, code: int) -> None:
        self.console.print(Text(f"error: {message}", style="bold red"), soft_wrap=True)

    # -- other commands ---------------------------------------------------------------------------------
    def table(self, title: str, columns: list[str], rows: list[list[Any]]) -> None:
        self.console.print(Text(title, style="bold"))
        t = Table()
        for col in columns:
            t.add_column(col)
        for row in rows:
            t.add_row(*(str(x) for x in row))
        self.console.print(t)

    def text(self, text: str) -> None:
        self.console.print(text)

    def rule_doc(self, doc: dict[str, Any]) -> None:
        """One rule explained (``eqdesign rules ID``): meaning, fix, and a spec that triggers it."""
        c = self.console
        c.print(Text(f"{doc['id']} {doc['name']} ({doc['severity']})", style="bold"))
        c.print(doc["doc"], soft_wrap=True)
        c.print(Text("Fix: ", style="bold") + Text(doc["fix"]), soft_wrap=True)
        can = "can be ignored (configuration or lint: in a spec)" if doc["ignorable"] else "can never be ignored or softened"
        c.print(Text(f"This rule {can}.", style="dim"))
        if doc["example"]:
            c.print(Text(f"Example ({doc['example_file']}):", style="bold"))
            c.print(doc["example"].rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
        elif doc["example_note"]:
            c.print(Text(f"No example: {doc['example_note']}", style="dim"), soft_wrap=True)


def _tables(s: SpecResult, design: Design) -> list[tuple[str, Table]]:
    out = [("Field types" + _edges_note(design), _field_types(design))]
    out += [(f"Schur blocks of linear {x.index} ({x.in_type.dim} -> {x.out_type.dim})", _schur_table(x)) for x in design.linears]
    if design.hidden and s.flow is not None:  # no flow: the analysis failed (an internal error, reported below)
        out.append(("Mixing: output irrep <- the irreps each nonlinear layer makes it from", _mixing_table(design, s.flow)))
    cost = cost_of(design)
    out.append((COST_TITLE + _auto_note(cost), _cost_table(cost)))
    out.append(("Influence, output <- input: ● this architecture, ○ some architecture only, · none", _influence_table(s, design)))
    hidden = s.hidden_symmetry
    if hidden is not None:
        broken = f"broken by {', '.join(hidden['broken_by'])}" if hidden["broken_by"] else "every layer commutes with it"
        out.append(
            (f"Parity sectors under the inversion x -> -x (degree l with parity (-1)^l is natural): {broken}", _sector_table(hidden))
        )
    return out


def _edges_note(design: Design) -> str:
    """Why the input or output columns are not escnn's irreps, where they are not."""
    notes = []
    if design.spec.basis == "e3nn":
        notes.append("irreps of the input and output in e3nn's real basis (basis: e3nn), converted to escnn's at the edges")
    if design.input.cartesian or design.output.cartesian:
        notes.append("Cartesian tensor fields take all 3^k components, row-major; the network computes with their irreps")
    return "".join(f"\n  {n}" for n in notes)


def _sector_table(hidden: dict[str, Any]) -> Table:
    t = Table()
    for col in ("output", "natural parity <- input", "unnatural parity <- input"):
        t.add_column(col)
    natural, unnatural = hidden["sectors"]["natural"], hidden["sectors"]["unnatural"]
    for out in natural:
        t.add_row(out, "+".join(natural[out]) or "·", "+".join(unnatural[out]) or "·")
    return t


def _written(artifacts: list[str]) -> str:
    return "wrote " + ", ".join(artifacts) if artifacts else "nothing written (--dry-run)"


def _auto_note(cost: Cost) -> str:
    auto = cost.auto_grids
    return f"; auto grids ({', '.join(auto)}) counted at their starting rule" if auto else ""


COST_TITLE = (
    f"Cost per sample (MACs: multiply-adds of matrix products; elementwise: values other operations write; "
    f"time: MACs + {ELEMENTWISE_MACS} per elementwise value)"
)


def _cost_table(cost: Cost) -> Table:
    t = Table()
    columns = ("layer", "compiled form", "compiled", "escnn dense", "plain MLP", "activations", "elementwise", "time", "params")
    for col in columns:
        t.add_column(col, justify="left" if col in ("layer", "compiled form") else "right")
    names = ("compiled_macs", "escnn_dense_macs", "plain_mlp_macs", "activations", "elementwise", "time_units", "params")
    for x in cost.layers:
        t.add_row(x.layer, x.form, *(f"{getattr(x, n):,}" for n in names))
    t.add_row(Text("total", style="bold"), "", *(Text(f"{cost.total(n):,}", style="bold") for n in names))
    return t


def columns(t: FieldType) -> str:
    """The dimension, and the model's columns where Cartesian tensor fields take more (all components)."""
    return f"{t.dim} ({t.width} columns)" if t.cartesian else str(t.dim)


def _field_types(design: Design) -> Table:
    t = Table()
    for col in ("layer", "kind", "fields", "irreps", "dim", "params"):
        t.add_column(col, justify="right" if col in ("dim", "params") else "left")
    t.add_row("input", "", design.input.describe(), design.input.irreps_string(), columns(design.input), "")
    for layer in design.layers:
        if isinstance(layer, Linear):
            t.add_row(f"linear {layer.index}", "linear", "", "", "", f"{layer.params:,}")
        else:
            kind = layer.activation + (f" L={layer.band_limit}" if layer.band_limit is not None else "")
            if layer.grid is not None:
                kind += ", " + grid_label(layer.grid)
            if layer.norm is not None:
                kind += f"; norm {layer.norm} ({layer.norm_params} params, {layer.norm_stats} running stats)"
            t.add_row(
                f"hidden[{layer.index}]",
                kind,
                layer.out_type.describe(),
                layer.out_type.irreps_string(),
                str(layer.out_type.dim),
                f"{layer.params:,}",
            )
    t.add_row("output", "", design.output.describe(), design.output.irreps_string(), columns(design.output), "")
    return t


def _schur_table(layer: Linear) -> Table:
    t = Table()
    for col in ("irrep", "type", "m_in", "m_out", "per block", "params"):
        t.add_column(col, justify="left" if col in ("irrep", "type") else "right")
    for b in layer.blocks:
        t.add_row(b.irrep.name, b.irrep.type_name, str(b.m_in), str(b.m_out), str(b.irrep.endo), f"{b.params:,}")
    if layer.bias:
        t.add_row("bias", "trivial", "", str(layer.bias), "1", f"{layer.bias:,}")
    t.add_row(Text("total", style="bold"), "", "", "", "", Text(f"{layer.params:,}", style="bold"))
    return t


def _mixing_table(design: Design, flow: Flow) -> Table:
    t = Table()
    t.add_column("layer")
    t.add_column("couples")
    for layer, couples in zip(design.hidden, flow.mixing, strict=True):
        text = ", ".join(f"{c} <- {'+'.join(src)}" for c, src in couples.items()) or "nothing alive"
        t.add_row(f"hidden[{layer.index}] {layer.activation}", text)
    return t


def _influence_table(s: SpecResult, design: Design) -> Table:
    inputs = sorted({i.name for i in design.input.content()})
    t = Table()
    t.add_column("output")
    for name in inputs:
        t.add_column(name, justify="center")
    real, ideal = s.influence, s.ideal_influence
    for out in real:
        t.add_row(out, *("●" if i in real[out] else ("○" if i in ideal[out] else "·") for i in inputs))
    return t


def grid_label(grid: Grid) -> str:
    """How a layer's grid reads in a table: escnn's by its points, weighted rules by degree too."""
    if grid.type == "auto" and grid.rule is not None:
        return f"auto from {grid.points} pts (degree {grid.rule.degree})"
    if grid.rule is not None:
        return f"{grid.points} pts (degree {grid.rule.degree})"
    return f"{grid.points} pts"


def _grids(c: Console, result: BuildResult) -> None:
    if not result.grids:
        return
    t = Table(title="Fourier grids (what each layer samples)", title_justify="left")
    for col in ("layer", "grid", "points", "per coeff.", "layer error", "tried"):
        t.add_column(col, justify="right" if col in ("points", "per coeff.", "layer error") else "left")
    for g in result.grids:
        kind = f"{g['rule']}, degree {g['degree']}" if "rule" in g else f"{g['type']} (unweighted)"
        kind += ", exact" if g.get("exact") else ""
        tried = " ".join(f"{t['points']}:{_sci(t['error'])}" for t in g.get("tried", []))
        t.add_row(g["layer"], kind, str(g["points"]), f"{g['points_per_coefficient']:g}", _sci(g["error"]) if "error" in g else "", tried)
    c.print(t)


def _equivariance(c: Console, result: BuildResult) -> None:
    _grids(c, result)
    if not result.equivariance:
        return
    t = Table(title="Equivariance (relative error on random group elements)", title_justify="left")
    for col in ("probe", "exact", "max", "mean"):
        t.add_column(col, justify="right" if col in ("max", "mean") else "left")
    for e in result.equivariance:
        t.add_row(e["name"], "yes" if e["exact"] else "no", _sci(e["max_rel"]), _sci(e["mean_rel"]))
    c.print(t)
    infl = result.influence
    if infl:
        same = infl["measured"] == infl["static"]
        c.print(
            Text(
                "Influence measured from Jacobians: "
                + json.dumps(infl["measured"])
                + ("" if same else f"; check said {json.dumps(infl['static'])}")
            )
        )
    if result.agreement is not None:
        c.print(Text(f"Compiled module vs escnn (float32, same weights): {_sci(result.agreement)} relative"))
    if result.cost:
        c.print(Text(cost_line(result.cost)))


def _sci(x: Any) -> str:
    return "not finite" if x is None or not math.isfinite(x) else f"{x:.1e}"
