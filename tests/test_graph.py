"""The influence graph (eqdesign/report/graph.py): its edges are the design's Schur blocks and the dataflow's
mixing, derived here again from the design; its unreachable marks are exactly the outputs that depend on no
input; the Mermaid text is well formed, the DOT text renders with the real Graphviz, and files are written
atomically (Graphviz missing: the Mermaid text instead, and a message that says so)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import ACCEPTANCE, ROOT
from eqdesign.analysis.design import Linear, Nonlinear
from eqdesign.commands.check import check_file
from eqdesign.report import graph
from eqdesign.report.markdown import markdown_report
from eqdesign.results import BuildResult, SpecResult

SPECS = ROOT / "specs"
CASES = [
    SPECS / "so3-vector-mlp.yaml",  # Fourier and sphere layers
    SPECS / "o3-two-vectors-cross-product.yaml",  # the cross product: 1o mixes into 1e, 0o stays zero
    SPECS / "so3-gated-tensor-product.yaml",  # a tensor product, then gates
    SPECS / "cylinder-tensor-product.yaml",  # a tensor product and a norm layer on a product group
    SPECS / "d6-fourier.yaml",  # irrep names with '-'
    ACCEPTANCE / "acc02-so3-norm-cannot-create-vectors.yaml",  # an unreachable output
]
HAVE_DOT = shutil.which("dot") is not None

Key = tuple[int, str]  # (stage index, irrep name)
EdgeKey = tuple[Key, Key, str]  # source, target, label ("linear" for the Schur blocks)


# -- what the graph must say, derived from the design and the flow again ----------------------------------


def _label(layer: Nonlinear) -> str:
    return "tensor product" if layer.kind == "tensor" else layer.activation


def expected_mixing(r: SpecResult) -> set[EdgeKey]:
    assert r.design is not None and r.flow is not None
    positions = [j for j, layer in enumerate(r.design.layers) if isinstance(layer, Nonlinear)]
    assert len(positions) == len(r.flow.mixing) == len(r.design.hidden)
    return {
        ((j, s), (j + 1, out), _label(r.design.hidden[k]))
        for k, (j, m) in enumerate(zip(positions, r.flow.mixing, strict=True))
        for out, sources in m.items()
        for s in sources
    }


def expected_linear(r: SpecResult) -> set[EdgeKey]:
    assert r.design is not None
    out: set[EdgeKey] = set()
    for j, layer in enumerate(r.design.layers):
        if isinstance(layer, Linear):
            shared = set(layer.in_type.content()) & set(layer.out_type.content())
            assert shared == {b.irrep for b in layer.blocks}
            out |= {((j, i.name), (j + 1, i.name), "linear") for i in shared}
    return out


def unreachable(r: SpecResult) -> set[str]:
    """Outputs whose final state is absent (zero) or depends on no input (a constant)."""
    assert r.design is not None and r.flow is not None
    final = r.flow.final
    return {c.name for c in r.design.output.content() if c not in final or not final[c].deps}


# -- reading the Mermaid text back ------------------------------------------------------------------------

_SUBGRAPH = re.compile(r'^ *subgraph ([A-Za-z][A-Za-z0-9_]*)\["([^"]*)"\]$')
_NODE = re.compile(r'^ *([A-Za-z][A-Za-z0-9_]*)\["([^"]*)"\](?::::([a-z]+))?$')
_EDGE = re.compile(r'^ *([A-Za-z][A-Za-z0-9_]*) (-->|-\.->\|"([^"]*)"\|) ([A-Za-z][A-Za-z0-9_]*)$')
_CLASSDEF = re.compile(r"^ *classDef ([a-z]+) [a-z-]+:[^ ]+( [^ ]+)*$")
_OTHER = re.compile(r"^ *(end|direction (LR|TB)|%% .*)$")


class Mermaid:
    """A parse of the flowchart: every line must be one of the few forms the module writes."""

    def __init__(self, text: str) -> None:
        lines = text.splitlines()
        assert lines[0] == "flowchart LR"
        self.specs: list[str] = []  # top-level subgraph ids
        self.stages: dict[str, list[str]] = {}  # spec id -> its stage ids in order
        self.node_stage: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.marks: dict[str, str] = {}
        self.edges: list[tuple[str, str, str]] = []
        self.classdefs: set[str] = set()
        self.titles: dict[str, str] = {}
        stack: list[str] = []
        for line in lines[1:]:
            if m := _SUBGRAPH.match(line):
                assert len(stack) < 2, line
                (self.specs if not stack else self.stages.setdefault(stack[0], [])).append(m[1])
                self.titles[m[1]] = m[2]
                stack.append(m[1])
            elif line.strip() == "end":
                stack.pop()
            elif m := _NODE.match(line):
                assert len(stack) == 2 and m[1] not in self.labels, line
                self.node_stage[m[1]], self.labels[m[1]] = stack[1], m[2]
                if m[3]:
                    self.marks[m[1]] = m[3]
            elif m := _EDGE.match(line):
                self.edges.append((m[1], m[4], m[3] or "linear"))
            elif m := _CLASSDEF.match(line):
                self.classdefs.add(m[1])
            else:
                assert _OTHER.match(line), f"unexpected Mermaid line: {line!r}"
        assert not stack, "unclosed subgraph"
        assert all(a in self.labels and b in self.labels for a, b, _ in self.edges), "an edge names an undeclared node"
        assert set(self.marks.values()) <= self.classdefs

    def key(self, node: str) -> Key:
        stage = self.node_stage[node]
        spec = next(s for s, stages in self.stages.items() if stage in stages)
        return self.stages[spec].index(stage), self.labels[node].split(" ×")[0]

    def edge_keys(self, kind: str) -> set[EdgeKey]:
        return {(self.key(a), self.key(b), label) for a, b, label in self.edges if (label == "linear") == (kind == "linear")}


def _check(path: Path) -> SpecResult:
    r = check_file(path)
    assert r.design is not None and r.flow is not None, r.all_findings()
    return r


# -- the edges and marks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_mermaid_edges_are_the_schur_blocks_and_the_mixing(path: Path):
    r = _check(path)
    m = Mermaid(graph.mermaid(r))
    assert len(m.specs) == 1 and len(m.stages[m.specs[0]]) == len(r.design.layers) + 1  # type: ignore[union-attr]
    assert m.edge_keys("linear") == expected_linear(r)
    assert m.edge_keys("mixing") == expected_mixing(r)
    assert len(m.edges) == len(set(m.edges)), "an edge drawn twice"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_nodes_are_the_irreps_of_every_stage_with_multiplicities(path: Path):
    r = _check(path)
    assert r.design is not None and r.flow is not None
    m = Mermaid(graph.mermaid(r))
    types = [r.design.input] + [layer.out_type for layer in r.design.layers]
    for j, (stage, t) in enumerate(zip(m.stages[m.specs[0]], types, strict=True)):
        got = {m.labels[n].split(" · ")[0] for n, s in m.node_stage.items() if s == stage}
        assert got == {f"{i.name} ×{mult}" for i, mult in t.content().items()}, j
        zero = {m.key(n)[1] for n, s in m.node_stage.items() if s == stage and m.marks.get(n) == "zero"}
        if 0 < j < len(types) - 1:  # hidden stages: grey exactly where the flow says identically zero
            assert zero == {i.name for i in t.content() if i not in r.flow.states[j]}
        else:
            assert not zero


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_unreachable_marks_exactly_the_unreachable_outputs(path: Path):
    r = _check(path)
    m = Mermaid(graph.mermaid(r))
    marked = {m.key(n)[1] for n, mark in m.marks.items() if mark == "unreachable"}
    assert marked == unreachable(r)
    assert all(m.labels[n].endswith("· unreachable") == (m.marks.get(n) == "unreachable") for n in m.labels)
    last = m.stages[m.specs[0]][-1]
    assert all(m.node_stage[n] == last for n, mark in m.marks.items() if mark == "unreachable")
    # the check's own verdict agrees: EQ201 names the same outputs
    flagged = {re.match(r"output (\S+) is", f.message)[1] for f in r.findings if f.rule == "unreachable-output"}  # type: ignore[index]
    assert flagged == marked


def test_known_graphs():
    """What the physics says, spelled out: the Fourier layer mixes the scalar and the vector into 0, 1, 2; O(3)
    reaches the pseudovector 1e from two polar vectors but never 0o; norm layers cannot make a vector."""
    r = _check(SPECS / "so3-vector-mlp.yaml")
    mixing = expected_mixing(r)
    assert {(a[1], b[1]) for a, b, label in mixing if a[0] == 1} == {(s, t) for s in "01" for t in "012"}
    assert {label for *_, label in mixing} == {"fourier_elu", "quotient_fourier_elu"}

    r = _check(SPECS / "o3-two-vectors-cross-product.yaml")
    m = Mermaid(graph.mermaid(r))
    made = {b[1] for a, b, _ in m.edge_keys("mixing")}
    assert made == {"0e", "1o", "1e"} and ("1o", "1e") in {(a[1], b[1]) for a, b, _ in m.edge_keys("mixing")}
    assert {m.key(n) for n, mark in m.marks.items() if mark == "zero"} >= {(2, "0o")}

    r = _check(SPECS / "so3-gated-tensor-product.yaml")
    labels = {label for *_, label in Mermaid(graph.mermaid(r)).edge_keys("mixing")}
    assert labels == {"tensor product", "gated"}

    r = _check(ACCEPTANCE / "acc02-so3-norm-cannot-create-vectors.yaml")
    m = Mermaid(graph.mermaid(r))
    assert [m.labels[n] for n, mark in m.marks.items() if mark == "unreachable"] == ["1 ×1 · unreachable"]


# -- several specs, skipped specs, escaping ---------------------------------------------------------------


def test_several_specs_one_subgraph_each_and_failed_specs_skipped(tmp_path: Path):
    broken = tmp_path / "bad \"name'+x\n.yaml"
    broken.write_text("name: broken\ngroup: so3\ninput: 1x1o\noutput: 1x0\n")
    results = [_check(CASES[0]), check_file(broken), _check(CASES[5])]
    assert results[1].design is None
    text = graph.mermaid(results)
    m = Mermaid(text)  # the broken file name (quotes, +, a newline) stays inside one comment line
    assert m.specs == ["s0", "s2"]
    for spec, stages in m.stages.items():
        assert all(s.startswith(spec + "_") for s in stages)
        assert all(n.startswith(spec + "_") for n, s in m.node_stage.items() if s in stages)
    assert {m.key(a)[0] for a, _, _ in m.edges} and all(
        m.node_stage[a].split("_")[0] == m.node_stage[b].split("_")[0] for a, b, _ in m.edges
    )
    _, notes = graph.graphs(results)
    assert len(notes) == 1 and "left out" in notes[0] and "1o" in notes[0]
    outcome = graph.render(results, str(tmp_path / "g.mmd"))
    assert outcome.ok and outcome.notes == notes


def test_escaping():
    raw = "a\"b'c+d#e;f|g<h>i&j`k%l{m}\nn"
    esc = graph.mermaid_text(raw)
    assert not set(esc) & set('"|<>&`%{}\n') and "'" in esc and "+" in esc
    assert "#34;" in esc and "#35;" in esc and "#59;" in esc  # a literal '#' cannot start an entity of its own
    d = graph.dot_text('a"b\\c\nd')
    assert d == 'a\\"b\\\\c d'


def test_mermaid_and_dot_texts_stay_parseable_with_hostile_names(tmp_path: Path):
    """Spec names are restricted, but titles and notes carry file names: any character must be harmless."""
    r = _check(CASES[0])
    odd = tmp_path / "x\"y'+z;#|.yaml"
    odd.write_text("not: [yaml")
    Mermaid(graph.mermaid([r, check_file(odd)]))
    text = graph.dot([r, check_file(odd)])
    assert text.count("{") == text.count("}")
    if HAVE_DOT:
        proc = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr


# -- DOT and pictures -------------------------------------------------------------------------------------

_DOT_EDGE = re.compile(r'^ *"(\w+)" -> "(\w+)" \[(.*)\];$')


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_dot_has_the_same_edges_as_mermaid(path: Path):
    r = _check(path)
    m = Mermaid(graph.mermaid(r))
    text = graph.dot(r)
    assert text.startswith("digraph influence {") and text.rstrip().endswith("}")
    edges = set()
    for line in text.splitlines():
        if e := _DOT_EDGE.match(line):
            if "style=invis" in e[3]:
                continue
            label = re.search(r'label="([^"]*)"', e[3])
            assert ('class="mixing"' in e[3]) == bool(label) and ("style=dashed" in e[3]) == bool(label)
            edges.add((e[1], e[2], label[1] if label else "linear"))
    assert edges == set(m.edges)
    declared = set(re.findall(r'^ *"(\w+)" \[label=', text, re.M))
    assert declared == set(m.labels)
    assert set(re.findall(r'^ *"(\w+)" \[label="[^"]*", class="unreachable"', text, re.M)) == {
        n for n, k in m.marks.items() if k == "unreachable"
    }


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz dot is not installed")
@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_svg_from_real_graphviz(path: Path, tmp_path: Path):
    r = _check(path)
    target = tmp_path / "g.svg"
    outcome = graph.render(r, str(target))
    assert outcome.ok and not outcome.fallback and outcome.path == str(target), outcome.message
    root = ET.parse(target).getroot()
    assert root.tag.endswith("svg")
    texts = {"".join(t.itertext()) for t in root.iter() if t.tag.endswith("text")}
    m = Mermaid(graph.mermaid(r))
    assert set(m.labels.values()) <= texts  # every irrep node, with its multiplicity and marks
    classes = [g.get("class", "") for g in root.iter() if g.tag.endswith("}g")]
    assert classes.count("node unreachable") == len(unreachable(r))
    assert classes.count("edge mixing") == len(expected_mixing(r))
    assert classes.count("edge linear") == len(expected_linear(r))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.svg"]  # no temporary file left


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz dot is not installed")
def test_png_and_several_specs(tmp_path: Path):
    outcome = graph.render([_check(p) for p in CASES[:3]], str(tmp_path / "g.PNG"))
    assert outcome.ok, outcome.message
    assert (tmp_path / "g.PNG").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.PNG"]


def test_without_graphviz_the_mermaid_text_goes_to_mmd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    r = _check(CASES[5])
    outcome = graph.render(r, str(tmp_path / "x.svg"))
    mmd = tmp_path / "x.mmd"
    assert outcome.ok and outcome.fallback and outcome.path == str(mmd)
    assert "Graphviz" in outcome.message and "not installed" in outcome.message and str(mmd) in outcome.message
    assert mmd.read_text() == graph.mermaid(r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.mmd"]


def test_a_failing_dot_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    false = shutil.which("false")
    assert false is not None
    monkeypatch.setattr(graph.shutil, "which", lambda name: false)  # a "dot" that fails
    target = tmp_path / "x.svg"
    target.write_text("old")
    outcome = graph.render(_check(CASES[0]), str(target))
    assert not outcome.ok and "dot failed" in outcome.message and outcome.exit_code == 2
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.svg"]


# -- text files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".mmd", ".md", ".dot", ".gv"])
def test_text_formats_written_atomically(suffix: str, tmp_path: Path):
    r = _check(CASES[0])
    target = tmp_path / f"g{suffix}"
    target.write_text("old")
    outcome = graph.render(r, str(target))
    assert outcome.ok and outcome.path == str(target)
    text = target.read_text()
    want = {".mmd": graph.mermaid(r), ".md": "```mermaid\n" + graph.mermaid(r) + "```\n", ".dot": graph.dot(r), ".gv": graph.dot(r)}
    assert text == want[suffix]
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_unknown_extension_missing_folder_and_nothing_to_draw(tmp_path: Path):
    r = _check(CASES[0])
    outcome = graph.render(r, str(tmp_path / "g.txt"))
    assert not outcome.ok and "extension" in outcome.message and ".svg" in outcome.message and outcome.exit_code == 2
    outcome = graph.render(r, str(tmp_path / "missing" / "g.mmd"))
    assert not outcome.ok and "does not exist" in outcome.message
    outcome = graph.render(r, str(tmp_path))  # a folder: no extension
    assert not outcome.ok
    (tmp_path / "d.mmd").mkdir()
    outcome = graph.render(r, str(tmp_path / "d.mmd"))
    assert not outcome.ok and "folder" in outcome.message
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ngroup: so4\ninput: 1x1\noutput: 1x1\n")
    outcome = graph.render([check_file(bad)], str(tmp_path / "g.mmd"))
    assert not outcome.ok and outcome.notes and not (tmp_path / "g.mmd").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "d.mmd"]


def test_markdown_report_has_the_graph():
    r = _check(CASES[0])
    md = markdown_report(BuildResult(check=r, agreement=1e-7))
    assert "## Influence graph" in md
    block = md.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block == graph.mermaid(r)
    Mermaid(block)


def test_graph_module_never_imports_torch():
    code = (
        "import sys\nfrom eqdesign.commands.check import check_file\nfrom eqdesign.report import graph, markdown\n"
        "graph.mermaid(check_file('specs/so3-vector-mlp.yaml')); graph.dot(check_file('specs/so3-vector-mlp.yaml'))\n"
        "assert 'torch' not in sys.modules and 'escnn' not in sys.modules, sorted(sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
