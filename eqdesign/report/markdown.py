"""The human build report, NAME.md: field types, Schur blocks, mixing, influence (and its graph) and equivariance."""

from __future__ import annotations

from ..analysis.cost import cost_line
from ..results import BuildResult
from .graph import LEGEND, mermaid
from .human import columns
from .locations import portable_name


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return lines + [""]


def markdown_report(result: BuildResult) -> str:
    s = result.check
    d, flow = s.design, s.flow
    if d is None or flow is None:
        raise ValueError(f"{s.file}: no analysed design to report")
    out = [f"# {d.spec.name}", "", f"Group {d.group.label}, {d.params:,} parameters, built from `{portable_name(s.file)}`.", ""]
    out += ["## Field types", ""]
    rows: list[list[object]] = [["input", d.input.describe(), d.input.irreps_string(), columns(d.input)]]
    rows += [[f"hidden[{x.index}] {x.activation}", x.out_type.describe(), x.out_type.irreps_string(), x.out_type.dim] for x in d.hidden]
    rows += [["output", d.output.describe(), d.output.irreps_string(), columns(d.output)]]
    out += _table(["layer", "fields", "irreps", "dim"], rows)
    out += ["## Schur blocks", ""]
    for lin in d.linears:
        out += [f"Linear {lin.index}: {lin.in_type.dim} -> {lin.out_type.dim}, {lin.params:,} parameters", ""]
        rows = [[b.irrep.name, b.irrep.type_name, b.m_in, b.m_out, b.irrep.endo, b.params] for b in lin.blocks]
        rows += [["bias", "trivial", "", lin.bias, 1, lin.bias]] if lin.bias else []
        out += _table(["irrep", "type", "m_in", "m_out", "per block", "params"], rows)
    out += ["## Mixing", ""]
    out += _table(
        ["layer", "couples"],
        [
            [f"hidden[{x.index}] {x.activation}", ", ".join(f"{c} <- {'+'.join(v)}" for c, v in m.items())]
            for x, m in zip(d.hidden, flow.mixing, strict=True)
        ],
    )
    out += ["## Influence", ""]
    measured = result.influence.get("measured", {})
    out += _table(
        ["output", "static (check)", "measured (Jacobian)", "ideal"],
        [
            [c, ", ".join(v) or "-", ", ".join(measured.get(c, [])) or "-", ", ".join(s.ideal_influence.get(c, [])) or "-"]
            for c, v in s.influence.items()
        ],
    )
    leaks = result.influence.get("leakage", [])
    if leaks:
        out += ["Symmetry-breaking leakage (shrinks on a finer grid, not a dependence):", ""]
        out += _table(
            ["output", "input", "relative", "on finer grid"],
            [[b["output"], b["input"], f"{b['rel']:.1e}", f"{b['rel_refined']:.1e}"] for b in leaks],
        )
    out += ["## Influence graph", "", f"Irreps at every stage; {LEGEND}.", "", "```mermaid", mermaid(s).rstrip("\n"), "```", ""]
    if result.grids:
        out += ["## Fourier grids", ""]
        out += _table(
            ["layer", "grid", "points", "points per coefficient", "layer error (auto)"],
            [
                [
                    g["layer"],
                    f"{g['rule']}, degree {g['degree']}" if "rule" in g else f"{g['type']} (unweighted)",
                    g["points"],
                    g["points_per_coefficient"],
                    f"{g['error']:.1e}" if "error" in g else "",
                ]
                for g in result.grids
            ],
        )
    out += ["## Equivariance", "", f"Spec tolerance for approximate layers: {d.spec.tests.tolerance}; scales {d.spec.tests.scales}.", ""]
    out += _table(
        ["probe", "exact", "max rel", "mean rel"],
        [[e["name"], "yes" if e["exact"] else "no", f"{e['max_rel']:.1e}", f"{e['mean_rel']:.1e}"] for e in result.equivariance],
    )
    out += [f"Compiled module against escnn (float32, same weights): {result.agreement:.1e} relative.", ""]
    if result.cost:
        out += [cost_line(result.cost) + ".", ""]
    return "\n".join(out)
