"""The API's documentation runs: every Python block of docs/api.md and of the README (in order, one namespace
per document, from the repository's root), and the example in the docstring of every public function."""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
from pathlib import Path

import pytest

import eqdesign
from conftest import ROOT

DOCS = [ROOT / "docs" / "api.md", ROOT / "README.md"]
_BLOCK = re.compile(r"(?:<!--\s*eqdesign-example:\s*(?P<mark>[^>]*?)\s*-->\s*\n)?```python\n(?P<body>.*?)```", re.S)
#: the API's modules whose docstrings hold examples
MODULES = [
    "eqdesign",
    *(
        f"eqdesign.api.{m}"
        for m in ("spec", "checking", "building", "designing", "loading", "equivariance", "inference", "exporting", "interop", "training")
    ),
]


def _blocks(doc: Path) -> list[tuple[int, str, str]]:
    """(line, marks, code) of every Python block; a block marked ``escnn`` needs the build extra, one marked
    ``after-quick-start`` the artifacts the Quick start writes to out/."""
    text = doc.read_text()
    return [(text.count("\n", 0, m.start("body")) + 1, m.group("mark") or "", m.group("body")) for m in _BLOCK.finditer(text)]


def _run(doc: Path, blocks: list[tuple[int, str, str]], folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a folder of its own that sees the repository's specs/ (what the examples write stays there)."""
    (folder / "specs").symlink_to(ROOT / "specs")
    monkeypatch.chdir(folder)
    namespace: dict[str, object] = {"__name__": f"doc_{doc.stem}"}
    for line, marks, code in blocks:
        if "after-quick-start" in marks.split():
            eqdesign.build("specs/so3-vector-mlp.yaml", influence=False).save("out")
        try:
            exec(compile(code, f"{doc.name}:{line}", "exec"), namespace)
        except Exception as err:
            raise AssertionError(f"{doc.name}, the block at line {line} fails: {type(err).__name__}: {err}") from err


def test_the_docs_have_python_examples():
    assert len(_blocks(ROOT / "docs" / "api.md")) >= 8
    assert _blocks(ROOT / "README.md"), "the README's Python API section has an example"


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_the_examples_that_need_no_build_run(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The check-only examples, alone: they must not lean on a block that builds."""
    _run(doc, [b for b in _blocks(doc) if "escnn" not in b[1].split()], tmp_path, monkeypatch)


@pytest.mark.escnn
@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_example_runs(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _run(doc, _blocks(doc), tmp_path, monkeypatch)


def _public_functions() -> list[str]:
    return [n for n in eqdesign.__all__ if inspect.isfunction(getattr(eqdesign, n))]


def test_every_public_function_documents_a_runnable_example():
    names = _public_functions()
    assert set(names) >= {"load_spec", "check", "build", "design", "load", "verify", "assert_equivariant", "freeze"}
    for name in names:
        doc = inspect.getdoc(getattr(eqdesign, name)) or ""
        assert ">>> " in doc, f"eqdesign.{name} has no example in its docstring"


def _doctests(module: str) -> list[doctest.DocTest]:
    import eqdesign.api as api

    globs = {name: getattr(api, name) for name in api.__all__}
    found = doctest.DocTestFinder(exclude_empty=True).find(importlib.import_module(module), globs=globs)
    return [t for t in found if t.examples]


def _needs_build(test: doctest.DocTest) -> bool:
    return any(word in ex.source for ex in test.examples for word in ("build(", "freeze(", "torch.", "assert_equivariant(", "train("))


DOCTESTS = [t for m in MODULES for t in _doctests(m)]


@pytest.mark.parametrize(
    "test", [pytest.param(t, marks=[pytest.mark.escnn] if _needs_build(t) else []) for t in DOCTESTS], ids=lambda t: t.name
)
def test_docstring_example(test: doctest.DocTest, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    if _needs_build(test):
        import tempfile

        import torch

        test.globs.update(torch=torch, tempfile=tempfile)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test, out=lambda text: pytest.fail(text, pytrace=False))
    assert runner.failures == 0


def test_every_docstring_example_is_collected():
    """Each public function's example is among the doctests run above (a module left out of MODULES would
    silently drop it)."""
    collected = {t.name.rsplit(".", 1)[-1] for t in DOCTESTS}
    missing = [n for n in _public_functions() if n not in collected]
    assert not missing, missing
