"""`eqdesign rules`: every rule's documentation from one source, never importing torch or escnn.

A rule's doc and fix are its entry in the rule table (codes.py); its example is the spec
``analysis/examples/<ID>-<name>.yaml`` shipped as package data.
docs/rules.md is generated from these (``rules_markdown``), and a test keeps it equal to them::

    .venv/bin/python -m eqdesign.commands.rules docs/rules.md
"""

from __future__ import annotations

import re
import sys
from importlib.resources import as_file, files
from typing import TYPE_CHECKING, Any

from ..codes import BUILD_RULES, RULE_TABLE, RULES, Rule
from .check import check_file

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

#: the package folder (beside analysis/rules.py) holding one minimal triggering spec per rule
EXAMPLES = files("eqdesign.analysis").joinpath("examples")

#: why a rule has no example spec (every other rule has one, and `check` or `build` emits it on it)
NO_EXAMPLE = {
    "internal-error": "no spec should trigger it: a spec that does has found a defect of eqdesign.",
    "config": "it concerns the configuration (pyproject.toml or eqdesign.toml), not a spec.",
    "build-failed": "a spec that passes check and yet fails to build is a disagreement between eqdesign and escnn, "
    "a defect rather than a design mistake.",
}

DOC_PATH = "docs/rules.md"
REGENERATE = f".venv/bin/python -m eqdesign.commands.rules {DOC_PATH}"


def find_rule(query: str) -> Rule | None:
    """The rule a word names: its id in any case (``EQ101``, ``eq101``) or its name (``dropped-irrep``)."""
    word = query.strip()
    by_name = RULES.get(word) or RULES.get(word.lower())
    if by_name is not None:
        return by_name
    return next((r for r in RULES.values() if r.rule_id.lower() == word.lower()), None)


def all_rules() -> list[Rule]:
    """Every rule, by id."""
    return list(RULE_TABLE)


def example_name(rule: Rule) -> str:
    """The file name of the rule's example spec, whether or not it exists."""
    return f"{rule.rule_id}-{rule.name}.yaml"


def example_file(rule: Rule) -> Traversable | None:
    path = EXAMPLES.joinpath(example_name(rule))
    return path if path.is_file() else None


def example_text(rule: Rule) -> str | None:
    """The rule's example spec, or None for the rules that have none (see ``NO_EXAMPLE``)."""
    path = example_file(rule)
    return None if path is None else path.read_text(encoding="utf-8")


def example_findings(rule: Rule) -> list[str]:
    """The names of the rules `check` reports on the rule's example (none for the rules without one)."""
    found = example_file(rule)
    if found is None:
        return []
    with as_file(found) as path:
        result = check_file(path)
    return sorted({f.rule for f in result.all_findings()})


def ignorable(rule: Rule) -> bool:
    """Whether configuration (``ignore``, ``severity``) or a spec's ``lint: {ignore: [...]}`` can silence it."""
    return rule.ignorable


def help_anchor(rule: Rule) -> str:
    """The GitHub anchor of the rule's heading in docs/rules.md: ``## EQ101 dropped-irrep`` -> ``eq101-dropped-irrep``."""
    return _anchor(_heading(rule))


def help_uri(rule: Rule) -> str:
    """The rule's section of docs/rules.md, relative to the repository root."""
    return f"{DOC_PATH}#{help_anchor(rule)}"


def explain(rule: Rule) -> dict[str, Any]:
    """Everything about one rule, for ``eqdesign rules ID`` in any output format."""
    return {
        "id": rule.rule_id,
        "name": rule.name,
        "severity": rule.severity.value,
        "summary": rule.summary,
        "doc": rule.doc,
        "fix": rule.fix,
        "ignorable": ignorable(rule),
        "example": example_text(rule),
        "example_file": example_name(rule) if example_file(rule) is not None else None,
        "example_note": _example_note(rule),
        "help_anchor": help_anchor(rule),
    }


def rules_markdown() -> str:
    """The whole of docs/rules.md."""
    rules = all_rules()
    out = [
        "# eqdesign rules",
        "",
        f"<!-- Generated from the rule table (eqdesign/codes.py) and the examples; do not edit. Regenerate: {REGENERATE} -->",
        "",
        "Every finding of `eqdesign check` and `eqdesign build` carries a stable rule id (`EQ...`) and name; ids are "
        "never reused or renumbered. Errors fail the check, warnings only under `--strict`. `eqdesign rules` prints "
        "the same documentation. Each example below is shipped with eqdesign (`eqdesign/analysis/examples/`) and "
        "triggers its rule.",
        "",
        "A rule that can be ignored can be silenced for a project (`ignore = [...]` under `[tool.eqdesign]` in "
        "pyproject.toml, or in eqdesign.toml) or for one spec (`lint: {ignore: [...]}`), by id or by name. The rest "
        "stand for a spec that cannot be read, built or trusted, and can be neither ignored nor softened.",
        "",
        "| id | name | severity | can be ignored | summary |",
        "|---|---|---|---|---|",
    ]
    out += [
        f"| [{r.rule_id}](#{help_anchor(r)}) | {r.name} | {r.severity.value} | {'yes' if ignorable(r) else 'no'} | {_cell(r.summary)} |"
        for r in rules
    ]
    for r in rules:
        out += ["", f"## {_heading(r)}", ""]
        out += [f"**Severity:** {r.severity.value}. **Can be ignored:** {'yes' if ignorable(r) else 'no, never'}.", ""]
        out += [r.doc, "", f"**Fix:** {r.fix}", ""]
        text = example_text(r)
        if text is None:
            out.append(f"**Example:** none; {NO_EXAMPLE.get(r.name, 'none is shipped.')}")
        else:
            found = example_findings(r)
            notes = [f"`{example_name(r)}`", _example_note(r)]
            others = [name for name in found if name != r.name]
            notes.append(f"check also reports {', '.join(others)}" if others else None)
            out += [f"**Example** ({'; '.join(n for n in notes if n)}):", ""]
            # the mark tells tests/test_docs.py which findings `check` gives on the block (all of them)
            out += [f"<!-- eqdesign-example: expect {', '.join(found)} -->", "```yaml", text.rstrip("\n"), "```"]
    return "\n".join(out) + "\n"


def _example_note(rule: Rule) -> str | None:
    if example_file(rule) is None:
        return NO_EXAMPLE.get(rule.name)
    if rule.name in BUILD_RULES:  # its example passes `check` and is caught by `build` only
        return "it passes `eqdesign check` and fails `eqdesign build`"
    return None


def _heading(rule: Rule) -> str:
    return f"{rule.rule_id} {rule.name}"


def _anchor(heading: str) -> str:
    """GitHub's heading slug: lower case, punctuation other than - and _ dropped, spaces made hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv: list[str]) -> int:
    """Print docs/rules.md, or write it to the path given."""
    text = rules_markdown()
    if argv:
        with open(argv[0], "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
