"""The package's stages import only downwards, never in a cycle; only escnn_backend imports escnn; the pure
stages never import torch (test_cli runs check to show it); a compiled model runs where escnn cannot be imported."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "eqdesign"
#: a stage may import its own modules and those of lower ranks only
RANK = {
    "theory": 0,
    "codes": 0,
    "findings": 0,
    "exitcodes": 0,
    "paths": 0,
    "atomic": 0,
    "interrupts": 0,
    "outfiles": 0,
    "__version__": 0,
    "spec": 1,
    "analysis": 2,
    "results": 3,
    "numerics": 4,
    "export": 4,
    "escnn_backend": 5,
    "report": 6,
    "training": 6.5,  # reads data and trains a compiled module; the API runs it
    "api": 7,
    "commands": 8,
    "cli": 9,
    "__main__": 10,
    "eqdesign": 11,  # the package's __init__ re-exports the API (imported on first use)
}
#: never torch or escnn
PURE = {"theory", "codes", "findings", "exitcodes", "paths", "atomic", "interrupts", "outfiles", "spec", "analysis", "results"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(module: str, path: Path, top_level_only: bool = False) -> set[str]:
    """Absolute names of everything the module imports (relative imports resolved)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    out = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
            target = ".".join(x for x in (base, node.module or "") if x)
            out |= {f"{target}.{a.name}" for a in node.names} if node.level and not node.module else {target}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def _stage(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


MODULES = _modules()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_stages(module: str):
    mine = _stage(module)
    assert mine in RANK, f"{module}: a stage the layering test does not know; add it to RANK"
    upward = [t for t in _imports(module, MODULES[module]) if t.startswith("eqdesign.") and RANK.get(_stage(t), 99) > RANK[mine]]
    assert not upward, f"{module} ({mine}) imports later stages: {upward}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_only_the_escnn_backend_imports_escnn(module: str):
    escnn = [t for t in _imports(module, MODULES[module]) if t.split(".")[0] == "escnn"]
    assert not escnn or _stage(module) == "escnn_backend", f"{module} imports {escnn}"
    if _stage(module) in PURE:
        torch = [t for t in _imports(module, MODULES[module]) if t.split(".")[0] == "torch"]
        assert not torch, f"{module} is a pure stage but imports {torch}"


def test_no_import_cycles_at_module_level():
    graph = {m: {t for t in _imports(m, p, top_level_only=True) if t in MODULES and t != m} for m, p in MODULES.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join(trail + [node, nxt])
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [])


def test_export_runs_where_escnn_cannot_be_imported():
    pytest.importorskip("torch")
    code = """
import sys
sys.modules["escnn"] = None
import torch
from eqdesign.export.blocks import BlockLinear, IrrepBlock
from eqdesign.export.modules import CompiledModel, FourierAct, NormAct, Pointwise
from eqdesign.export import artifacts, layout
block = IrrepBlock(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.ones(1, 1, 1), torch.eye(2).unsqueeze(0))
lin = BlockLinear(None, None, [block], torch.tensor([0, 1]), torch.zeros(0, dtype=torch.long), torch.zeros(0), 2)
model = CompiledModel([lin, Pointwise("elu")], 2, 2)
print(torch.jit.script(model)(torch.ones(1, 2)).shape)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "torch.Size([1, 2])"


#: what a command may import besides its own stage: the API (the domain), and what parses, reports and exits
COMMAND_IMPORTS = ("api", "results", "report", "outfiles", "exitcodes", "findings", "codes", "paths", "interrupts", "analysis.config")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _stage(m) in ("commands", "cli")))
def test_commands_hold_no_domain_logic(module: str):
    """A command parses its options, calls the API, reports and exits: it reaches the domain (analysis,
    theory, the escnn backend, numerics, export) only through ``eqdesign.api``."""
    allowed = tuple(f"eqdesign.{s}" for s in (*COMMAND_IMPORTS, "commands", "cli", "__version__"))
    reached = [t for t in _imports(module, MODULES[module]) if t.startswith("eqdesign.") and not t.startswith(allowed)]
    assert not reached, f"{module} imports the domain directly: {reached}"
