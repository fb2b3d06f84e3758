"""The influence graph of checked specs: which irreps flow where, as Mermaid or Graphviz text (or a picture).

A spec's graph has one cluster per stage of its design: the input, then for every hidden layer its input
(what the linear layer before it makes) and its output, then the output. Each node is one irrep at one
stage, labelled with its multiplicity. Solid edges are the Schur blocks of the linear layers (an irrep can
only go to itself); dashed edges are the mixing inside a nonlinear layer (the dataflow analysis' record of
which irreps each output irrep is made from). An output that does not depend on the input is drawn red and
labelled "unreachable"; an irrep that is identically zero at a hidden stage is drawn grey, labelled "zero".

Nothing here imports torch or escnn: ``check --graph`` stays as light as ``check``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis.dataflow import Flow, State
from ..analysis.design import Design, FieldType, Linear, Nonlinear
from ..atomic import temp_beside, unwritable, usual_mode, write_file
from ..exitcodes import ExitCode
from ..findings import printable
from ..outfiles import file_problem
from ..results import SpecResult
from ..theory.irreps import Irrep

LEGEND = "solid: linear (Schur block) · dashed: mixing in a nonlinear layer · red: unreachable output · grey: zero"
DOT_TIMEOUT_S = 60
UNREACHABLE, ZERO = "unreachable", "zero"


@dataclass(frozen=True)
class Node:
    id: str
    irrep: str  # the irrep's name
    mult: int
    mark: str | None = None  # UNREACHABLE (an output with no dependence on the input), ZERO (a dead hidden irrep)

    @property
    def label(self) -> str:
        return f"{self.irrep} ×{self.mult}" + (f" · {self.mark}" if self.mark else "")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # "linear" or "mixing"
    label: str  # "linear", the nonlinearity (fourier_elu, gated, ...) or "tensor product"


@dataclass(frozen=True)
class Stage:
    id: str
    title: str
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class SpecGraph:
    id: str
    title: str
    stages: tuple[Stage, ...]
    edges: tuple[Edge, ...]


@dataclass
class GraphOutcome:
    """What ``render`` did. ``ok``: a file was written (the one asked for, or the Mermaid fallback)."""

    ok: bool
    message: str
    path: str | None = None  # the file written
    fallback: bool = False  # Graphviz was missing: the Mermaid text went to ``path`` instead of a picture
    notes: list[str] = field(default_factory=list)  # specs left out of the graph, and why

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.SPEC


# -- the graph ------------------------------------------------------------------------------------------


def _ordered(t: FieldType) -> list[tuple[Irrep, int]]:
    c = t.content()
    return [(i, c[i]) for i in sorted(c, key=lambda i: (i.freq, repr(i.eid)))]


def stage_titles(design: Design) -> list[str]:
    """One title per stage: the input, then the output of every layer of ``design.layers``."""
    titles = ["input"]
    for j, layer in enumerate(design.layers):
        if isinstance(layer, Linear):
            nxt = design.layers[j + 1] if j + 1 < len(design.layers) else None
            titles.append(f"hidden[{nxt.index}] {nxt.activation}: in" if isinstance(nxt, Nonlinear) else "output")
        else:
            titles.append(f"hidden[{layer.index}] {layer.activation}: out")
    return titles


def unreachable_outputs(result: SpecResult) -> set[str]:
    """Output irreps that depend on no input irrep (identically zero, or a constant bias)."""
    return {name for name, deps in result.influence.items() if not deps}


def _stage(sid: str, title: str, t: FieldType, state: State, unreachable: set[str] | None) -> Stage:
    nodes = []
    for k, (irrep, mult) in enumerate(_ordered(t)):
        if unreachable is not None:  # the output stage
            mark = UNREACHABLE if irrep.name in unreachable else None
        else:
            mark = None if irrep in state else ZERO
        nodes.append(Node(f"{sid}_n{k}", irrep.name, mult, mark))
    return Stage(sid, title, tuple(nodes))


def _edges(design: Design, flow: Flow, stages: Sequence[Stage]) -> list[Edge]:
    ids = [{n.irrep: n.id for n in s.nodes} for s in stages]
    edges: list[Edge] = []
    for j, layer in enumerate(design.layers):  # layer j maps stage j to stage j + 1
        src, dst = ids[j], ids[j + 1]
        if isinstance(layer, Linear):
            edges += [Edge(src[b.irrep.name], dst[b.irrep.name], "linear", "linear") for b in layer.blocks]
        else:
            label = "tensor product" if layer.kind == "tensor" else layer.activation
            mixing = flow.mixing[layer.index]
            edges += [Edge(src[s], dst[out], "mixing", label) for out, sources in mixing.items() for s in sources]
    return edges


def spec_graph(result: SpecResult, prefix: str = "s0") -> SpecGraph:
    """The graph of one analysed spec; node and cluster ids start with ``prefix``."""
    design, flow = result.design, result.flow
    if design is None or flow is None:
        raise ValueError(f"{result.file}: no analysed design to draw")
    types = [design.input] + [layer.out_type for layer in design.layers]
    titles = stage_titles(design)
    unreachable = unreachable_outputs(result)
    last = len(types) - 1
    stages = [_stage(f"{prefix}_t{j}", titles[j], t, flow.states[j], unreachable if j == last else None) for j, t in enumerate(types)]
    title = f"{design.spec.name} · {design.group.label}"
    return SpecGraph(prefix, title, tuple(stages), tuple(_edges(design, flow, stages)))


def _skip_reason(result: SpecResult) -> str | None:
    if result.design is not None and result.flow is not None:
        return None
    errors = [f.message for f in result.all_findings() if f.severity.value == "error"]
    why = errors[0] if errors else "it could not be analysed"
    return f"{printable(result.file)}: left out of the graph ({why})"


def graphs(results: SpecResult | Sequence[SpecResult]) -> tuple[list[SpecGraph], list[str]]:
    """The graph of every analysed spec (ids prefixed s0, s1, ...) and a note for every spec left out."""
    specs = [results] if isinstance(results, SpecResult) else list(results)
    out: list[SpecGraph] = []
    notes: list[str] = []
    for k, result in enumerate(specs):
        reason = _skip_reason(result)
        if reason is None:
            out.append(spec_graph(result, f"s{k}"))
        else:
            notes.append(reason)
    return out, notes


# -- Mermaid --------------------------------------------------------------------------------------------

_MERMAID_SAFE = frozenset(" _-.,:()[]/+=×·'")
_MERMAID_STYLE = {
    UNREACHABLE: "fill:#fde0e0,stroke:#c00000,stroke-width:2px,color:#900000",
    ZERO: "fill:#f2f2f2,stroke:#999999,stroke-dasharray:4 3,color:#777777",
}


def mermaid_text(text: str) -> str:
    """Text for inside a double-quoted Mermaid string: every character that could end or bend the string
    (quotes, #, ;, |, <, >, &, brackets of other shapes, ...) as a numeric entity, newlines as spaces."""
    text = " ".join(text.split())
    return "".join(c if c.isalnum() or c in _MERMAID_SAFE else f"#{ord(c)};" for c in text)


def _mermaid_spec(g: SpecGraph) -> list[str]:
    lines = [f'  subgraph {g.id}["{mermaid_text(g.title)}"]', "    direction LR"]
    for stage in g.stages:
        lines += [f'    subgraph {stage.id}["{mermaid_text(stage.title)}"]', "      direction TB"]
        lines += [f'      {n.id}["{mermaid_text(n.label)}"]' + (f":::{n.mark}" if n.mark else "") for n in stage.nodes]
        lines.append("    end")
    lines.append("  end")
    for e in g.edges:
        arrow = "-->" if e.kind == "linear" else f'-.->|"{mermaid_text(e.label)}"|'
        lines.append(f"  {e.source} {arrow} {e.target}")
    return lines


def mermaid(results: SpecResult | Sequence[SpecResult]) -> str:
    """A ``flowchart LR`` of one spec or several (one subgraph each)."""
    drawn, notes = graphs(results)
    lines = ["flowchart LR", f"  %% eqdesign influence graph. {mermaid_text(LEGEND)}"]
    lines += [f"  %% {mermaid_text(note)}" for note in notes]
    for g in drawn:
        lines += _mermaid_spec(g)
    lines += [f"  classDef {mark} {style}" for mark, style in _MERMAID_STYLE.items()]
    return "\n".join(lines) + "\n"


def mermaid_markdown(results: SpecResult | Sequence[SpecResult]) -> str:
    return "```mermaid\n" + mermaid(results) + "```\n"


# -- Graphviz -------------------------------------------------------------------------------------------

_DOT_NODE = {
    None: "",
    UNREACHABLE: ', color="#c00000", fontcolor="#900000", fillcolor="#fde0e0", style="rounded,filled", penwidth=2',
    ZERO: ', color="#999999", fontcolor="#777777", style="rounded,dashed"',
}


def dot_text(text: str) -> str:
    """Text for inside a double-quoted DOT string: backslashes and quotes escaped, no line breaks."""
    text = " ".join(text.split())
    return "".join(c for c in text if c.isprintable()).replace("\\", "\\\\").replace('"', '\\"')


def _dot_spec(g: SpecGraph) -> list[str]:
    lines = [f'  subgraph "cluster_{g.id}" {{', f'    label="{dot_text(g.title)}";', '    style=rounded; color="#bbbbbb";']
    for stage in g.stages:
        lines += [
            f'    subgraph "cluster_{stage.id}" {{',
            f'      label="{dot_text(stage.title)}";',
            '      style=dashed; color="#cccccc";',
        ]
        for n in stage.nodes:
            mark = f', class="{n.mark}"' if n.mark else ""
            lines.append(f'      "{n.id}" [label="{dot_text(n.label)}"{mark}{_DOT_NODE[n.mark]}];')
        if stage.nodes:  # one column per stage, also for irreps no edge reaches
            lines.append("      { rank=same; " + " ".join(f'"{n.id}";' for n in stage.nodes) + " }")
        lines.append("    }")
    lines.append("  }")
    firsts = [s.nodes[0].id for s in g.stages if s.nodes]  # invisible edges keep the stages in order
    lines += [f'  "{a}" -> "{b}" [style=invis];' for a, b in zip(firsts[:-1], firsts[1:], strict=True)]
    for e in g.edges:
        if e.kind == "linear":
            attrs = 'class="linear", tooltip="linear"'
        else:
            attrs = f'class="mixing", style=dashed, color="#1f5fbf", fontcolor="#1f5fbf", label="{dot_text(e.label)}"'
        lines.append(f'  "{e.source}" -> "{e.target}" [{attrs}];')
    return lines


def dot(results: SpecResult | Sequence[SpecResult]) -> str:
    """Graphviz DOT text of one spec or several (one cluster each)."""
    drawn, notes = graphs(results)
    lines = ["digraph influence {", "  rankdir=LR;", "  newrank=true;", '  fontname="Helvetica"; fontsize=12;']
    lines += ['  node [shape=box, style=rounded, fontname="Helvetica", fontsize=11];', '  edge [fontname="Helvetica", fontsize=9];']
    lines += [f'  label="{dot_text(LEGEND)}"; labelloc=b; labeljust=l;']
    lines += [f"  // {dot_text(note)}" for note in notes]
    for g in drawn:
        lines += _dot_spec(g)
    return "\n".join(lines) + "\n}\n"


# -- files ----------------------------------------------------------------------------------------------


def _run_dot(exe: str, text: str, fmt: str, target: Path) -> str | None:
    """Render DOT text with Graphviz into ``target`` (atomically). None, or why not."""
    problem = unwritable(target)
    if problem:
        return problem
    tmp: Path | None = None
    try:
        tmp = temp_beside(target)
        cmd = [exe, f"-T{fmt}", "-o", str(tmp)]
        proc = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=DOT_TIMEOUT_S, check=False)
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            why = " ".join(proc.stderr.decode(errors="replace").split())[:300]
            return f"Graphviz dot failed on {printable(str(target))} (exit {proc.returncode}): {why}"
        usual_mode(tmp)
        os.replace(tmp, target)
    except subprocess.TimeoutExpired:
        return _cleanup(tmp, f"Graphviz dot took more than {DOT_TIMEOUT_S} s on {printable(str(target))}")
    except OSError as err:
        return _cleanup(tmp, f"cannot write {printable(str(target))}: {err.strerror or err}")
    return None


def _cleanup(tmp: Path | None, message: str) -> str:
    if tmp is not None:
        tmp.unlink(missing_ok=True)
    return message


def _picture(results: SpecResult | Sequence[SpecResult], target: Path, fmt: str) -> GraphOutcome:
    exe = shutil.which("dot")
    if exe is None:
        fallback = target.with_suffix(".mmd")
        problem = write_file(fallback, mermaid(results).encode())
        if problem:
            return GraphOutcome(False, f"Graphviz (dot) is not installed, so no {fmt.upper()} was drawn, and {problem}")
        message = f"Graphviz (dot) is not installed, so no {fmt.upper()} was drawn; wrote the Mermaid text to {printable(str(fallback))}"
        return GraphOutcome(True, message, str(fallback), fallback=True)
    problem = _run_dot(exe, dot(results), fmt, target)
    return GraphOutcome(False, problem) if problem else GraphOutcome(True, f"wrote {printable(str(target))}", str(target))


_TEXT_FORMATS = {".mmd": mermaid, ".md": mermaid_markdown, ".dot": dot, ".gv": dot}
_PICTURES = {".svg": "svg", ".png": "png"}


def _format_problem(path: str) -> str | None:
    if Path(path).suffix.lower() in _TEXT_FORMATS or Path(path).suffix.lower() in _PICTURES:
        return None
    valid = ", ".join(list(_TEXT_FORMATS) + list(_PICTURES))
    return f"cannot tell the graph format of {printable(path)!r} from its extension; use one of {valid}"


def graph_path_problem(path: str) -> str | None:
    """Why ``check --graph PATH`` could never write there (checked before any spec is read), or None."""
    return file_problem(path, "--graph", overwrite=True, command="check --graph", example="graph.mmd") or _format_problem(path)


def render(results: SpecResult | Sequence[SpecResult], path: str) -> GraphOutcome:
    """Write the influence graph of one spec or several to ``path``, in the format its extension names:
    .mmd, .md (a fenced mermaid block), .dot/.gv, or .svg/.png (drawn by Graphviz; without it, the Mermaid
    text goes to the same name with .mmd). Never raises for a bad path or format: the outcome says why."""
    target = Path(path)
    suffix = target.suffix.lower()
    unknown = _format_problem(path)
    if unknown is not None:
        return GraphOutcome(False, unknown)
    drawn, notes = graphs(results)
    if not drawn:
        return GraphOutcome(False, "no graph written: no spec could be analysed", notes=notes)
    if suffix in _PICTURES:
        outcome = _picture(results, target, _PICTURES[suffix])
    else:
        problem = write_file(target, _TEXT_FORMATS[suffix](results).encode())
        outcome = GraphOutcome(False, problem) if problem else GraphOutcome(True, f"wrote {printable(path)}", path)
    outcome.notes = notes
    return outcome
