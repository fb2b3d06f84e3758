"""Docs that run: every YAML block of the README and of docs/ is a spec that `check` passes cleanly, unless
the line before its fence marks it: ``<!-- eqdesign-example: expect RULE[, RULE] -->`` (exactly those
findings) or ``<!-- eqdesign-example: not-a-spec -->`` (configuration, say)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ROOT
from eqdesign.commands.check import check_file

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"(?:<!--\s*eqdesign-example:\s*(?P<mark>[^>]*?)\s*-->\s*\n)?```ya?ml\n(?P<body>.*?)```", re.S)


def _blocks() -> list[tuple[str, str, str]]:
    """(id, mark, text) of every YAML block."""
    out = []
    for doc in DOCS:
        text = doc.read_text()
        for m in _BLOCK.finditer(text):
            line = text.count("\n", 0, m.start("body")) + 1
            out.append((f"{doc.name}:{line}", m.group("mark") or "", m.group("body")))
    return out


BLOCKS = _blocks()


def test_the_readme_has_a_spec_example():
    assert any(name.startswith("README.md") and not mark for name, mark, _ in BLOCKS)


@pytest.mark.parametrize(("name", "mark", "text"), BLOCKS, ids=[b[0] for b in BLOCKS])
def test_doc_example(name: str, mark: str, text: str, tmp_path: Path):
    if mark == "not-a-spec":
        return
    path = tmp_path / "example.yaml"
    path.write_text(text)
    result = check_file(path)
    found = sorted({f.rule for f in result.all_findings()})
    expected = sorted(r.strip() for r in mark.removeprefix("expect").split(",") if r.strip()) if mark.startswith("expect") else []
    assert found == expected, [f"{f.location}: {f.rule}: {f.message}" for f in result.all_findings()]
