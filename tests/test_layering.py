"""The package's stages import only downwards, never in a cycle; only escnn_backend imports escnn; the pure
stages never import torch (test_cli runs check to show it); a compiled model runs where escnn cannot be imported."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
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
    "extras": 0,
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
PURE = {"theory", "codes", "findings", "exitcodes", "paths", "atomic", "interrupts", "outfiles", "extras", "spec", "analysis", "results"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(module: str, path: Path, top_level_only: bool = False, runtime_only: bool = False) -> set[str]:
    """Absolute names of everything the module imports (relative imports resolved), in function bodies too
    unless ``top_level_only``. ``runtime_only`` leaves out the imports under ``if TYPE_CHECKING:``: they
    never run, so they form no cycle when the modules load, and they are how an annotation names a type of
    a module that imports this one. The stage rules count them: a type is a dependency all the same."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else _runtime_nodes(tree) if runtime_only else ast.walk(tree)
    out = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
            target = ".".join(x for x in (base, node.module or "") if x)
            out |= {f"{target}.{a.name}" for a in node.names} if node.level and not node.module else {target}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def _type_checking(test: ast.expr) -> bool:
    """The condition ``TYPE_CHECKING`` or ``typing.TYPE_CHECKING``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of the tree that may run, at any depth: the bodies of ``if TYPE_CHECKING:`` are skipped,
    their ``else:`` branches kept."""
    for child in ast.iter_child_nodes(tree):
        kept = child.orelse if isinstance(child, ast.If) and _type_checking(child.test) else [child]
        for node in kept:
            yield node
            yield from _runtime_nodes(node)


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


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph (its modules in order, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                path = trail + [node]
                return path[path.index(nxt) :] + [nxt]
            found = visit(nxt, trail + [node]) if nxt not in state else None
            if found:
                return found
        state[node] = 2
        return None

    for module in sorted(graph):
        found = visit(module, []) if module not in state else None
        if found:
            return found
    return None


def _import_graph(top_level_only: bool) -> dict[str, set[str]]:
    return {m: {t for t in _imports(m, p, top_level_only, runtime_only=True) if t in MODULES and t != m} for m, p in MODULES.items()}


def test_no_import_cycles_at_module_level():
    cycle = _cycle(_import_graph(top_level_only=True))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_cycles_through_function_local_imports():
    """A function-local import hides a cycle from the interpreter (it runs after both modules loaded), not
    from the design: the two modules still depend on each other. Cycles count through every import that
    runs, at module level or in a function."""
    cycle = _cycle(_import_graph(top_level_only=False))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_sees_function_local_and_skips_type_checking_imports(tmp_path: Path) -> None:
    """The checks above on a package written here: a cycle closed by an import in a function body is found,
    one closed only under ``if TYPE_CHECKING:`` is not."""
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from . import a\n")
    (tmp_path / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\nelse:\n    import os\n")
    imports = {name: _imports(f"pkg.{name}", tmp_path / f"{name}.py", runtime_only=True) for name in ("a", "b", "c")}
    assert imports == {"a": {"pkg.b"}, "b": {"pkg.a"}, "c": {"typing", "os"}}
    assert _imports("pkg.b", tmp_path / "b.py", top_level_only=True) == set()
    graph = {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}, "pkg.c": set()}
    assert _cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]
    assert _cycle({"pkg.a": {"pkg.b"}, "pkg.b": set(), "pkg.c": set()}) is None


#: the names of escnn's private attributes (escnn 1.0.11) that eqdesign reads or writes, and eqdesign's own
#: attributes on escnn objects ("_eqd_..."): compat.py's accessors alone name them (a trailing "_": a prefix)
ESCNN_PRIVATE = (
    "_order",
    "_contiguous",
    "_nfields",
    "_in_reprs",
    "_out_reprs",
    "_representations_pairs",
    "_escape_pair",
    "_has_trivial",
    "_sizes",
    "_function",
    "_escape_name",
    "_stored_filters",
    "_generalized_he_init_variances",
    "block_expansion_",
    "_eqd_",
)
COMPAT = "eqdesign.escnn_backend.compat"


def _private_names(text: str) -> set[str]:
    """The ESCNN_PRIVATE names an attribute name or a string (getattr's, an f-string's part) spells."""
    return {name for name in ESCNN_PRIVATE if (text.startswith(name) if name.endswith("_") else text == name)}


def _spelled(node: ast.AST) -> list[str]:
    """What a node spells that could name an attribute: an attribute's name, a string (getattr's, an
    f-string's part), the names imported from escnn."""
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("escnn"):
        return [a.name for a in node.names]
    return []


def _escnn_private_uses(path: Path) -> list[str]:
    """Where a module names one of escnn's private attributes, in line order."""
    found = [
        (node.lineno, name)
        for node in ast.walk(ast.parse(path.read_text()))
        for text in _spelled(node)
        for name in sorted(_private_names(text))
        if isinstance(node, (ast.expr, ast.stmt))
    ]
    return [f"line {line}: {name}" for line, name in sorted(found)]


def _foreign_private_attributes(path: Path) -> list[str]:
    """Attributes with a leading underscore (dunders aside) read or written on anything but ``self``/``cls``."""
    return [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
    ]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != COMPAT))
def test_only_compat_names_escnns_private_attributes(module: str) -> None:
    """escnn's undocumented layout is read in one place, escnn_backend/compat.py, whose accessors say which
    escnn class and version each reads; every other module calls them. In escnn_backend, where most values
    are escnn objects, no module but compat touches an underscored attribute of anything but itself."""
    uses = _escnn_private_uses(MODULES[module])
    assert not uses, f"{module} names escnn's private attributes (use compat's accessors): {uses}"
    if _stage(module) == "escnn_backend":
        foreign = _foreign_private_attributes(MODULES[module])
        assert not foreign, f"{module} touches private attributes of other objects (add an accessor to compat.py): {foreign}"


def test_the_private_attribute_checks_see_attributes_strings_and_foreign_objects(tmp_path: Path) -> None:
    """The checks above on a module written here, and compat itself: it names what the others may not."""
    path = tmp_path / "m.py"
    path.write_text(
        "from escnn.nn.init import _generalized_he_init_variances\n"
        'def f(m, self, _order):\n    m._order\n    getattr(m, f"block_expansion_{m.x}")\n    self._sizes = m.__dict__\n'
    )
    want = ["line 1: _generalized_he_init_variances", "line 3: _order", "line 4: block_expansion_", "line 5: _sizes"]
    assert _escnn_private_uses(path) == want  # an argument of that name is not an attribute
    assert _foreign_private_attributes(path) == ["line 3: m._order"]
    in_compat = {use.split(": ")[1] for use in _escnn_private_uses(MODULES[COMPAT])}
    assert in_compat == set(ESCNN_PRIVATE) - {"_escape_name"}  # compat writes that rule out rather than call it


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
COMMAND_IMPORTS = (
    "api",
    "results",
    "report",
    "outfiles",
    "exitcodes",
    "findings",
    "codes",
    "paths",
    "interrupts",
    "extras",
    "analysis.config",
)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _stage(m) in ("commands", "cli")))
def test_commands_hold_no_domain_logic(module: str):
    """A command parses its options, calls the API, reports and exits: it reaches the domain (analysis,
    theory, the escnn backend, numerics, export) only through ``eqdesign.api``."""
    allowed = tuple(f"eqdesign.{s}" for s in (*COMMAND_IMPORTS, "commands", "cli", "__version__"))
    reached = [t for t in _imports(module, MODULES[module]) if t.startswith("eqdesign.") and not t.startswith(allowed)]
    assert not reached, f"{module} imports the domain directly: {reached}"
