"""Rules have one source: the rule table (eqdesign/codes.py) declares and documents every rule the analysis can
emit, each check function finds the rule the table pairs it with, every rule ships an example spec that
triggers it, and docs/rules.md is generated from the table and the examples, so none of them can go stale."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib.resources import as_file
from pathlib import Path

import pytest

from conftest import ROOT
from eqdesign.analysis.config import DEFAULT
from eqdesign.analysis.dataflow import Flow, analyse
from eqdesign.analysis.design import Design
from eqdesign.analysis.resolve import resolve
from eqdesign.analysis.rules import CHECKS
from eqdesign.codes import RULE_TABLE, Stage
from eqdesign.commands.check import check_file
from eqdesign.commands.rules import (
    EXAMPLES,
    NO_EXAMPLE,
    REGENERATE,
    example_file,
    example_text,
    explain,
    find_rule,
    help_anchor,
    rules_markdown,
)
from eqdesign.findings import BUILD_RULES, MANDATORY, RULES, Rule, Severity
from eqdesign.spec.load import LoadedSpec, load_spec
from eqdesign.spec.model import Spec

ALL = list(RULE_TABLE)
#: rules `check` never emits on a spec of its own: a defect, the configuration file, build verdicts
NOT_FROM_CHECK = {"internal-error", "config", "not-equivariant", "build-failed"}
EXAMPLE_NAME = re.compile(r"^(EQ\d{3})-([a-z0-9]+(?:-[a-z0-9]+)*)\.yaml$")


def _ids(rules: list[Rule]) -> list[str]:
    return [r.rule_id for r in rules]


def _example_path(rule: Rule) -> Path:
    found = example_file(rule)
    assert found is not None, f"{rule.rule_id} {rule.name} has no example"
    with as_file(found) as path:
        return Path(path)


# -- one table declares every rule


def test_rule_ids_and_names_are_unique_sorted_and_well_formed():
    ids = [r.rule_id for r in ALL]
    assert ids == sorted(set(ids)), "the table lists each rule once, by id"
    assert len({r.name for r in ALL}) == len(ALL), "two rules share a name"
    for r in ALL:
        assert re.fullmatch(r"EQ\d{3}", r.rule_id), r.rule_id
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", r.name), f"{r.rule_id}: {r.name!r} is not kebab-case"
    assert set(RULES) == {r.name for r in ALL} and all(RULES[r.name] is r for r in ALL)
    # a spec that cannot be read, resolved or built, or that broke eqdesign, must fail any gate: those rules are
    # errors no configuration can silence
    unbuildable = {r.name for r in ALL if r.stage in {Stage.READ, Stage.RESOLVE, Stage.BUILD, Stage.ANY}}
    assert unbuildable <= MANDATORY and all(RULES[name].severity is Severity.ERROR for name in MANDATORY)


def _emitted_names() -> dict[str, set[str]]:
    """Every rule name the package's source makes a finding with, and the modules that do: the first argument
    of make() and of yamlsrc's _problem() and YamlProblem(), a rule= keyword, and the default of a parameter
    named rule."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "eqdesign").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[ast.expr] = []
            if isinstance(node, ast.Call):
                callee = node.func.id if isinstance(node.func, ast.Name) else None
                names += node.args[:1] if callee in {"make", "_problem", "YamlProblem"} else []
                names += [k.value for k in node.keywords if k.arg == "rule"]
            elif isinstance(node, ast.arguments):
                params = node.posonlyargs + node.args
                names += [d for a, d in zip(params[len(params) - len(node.defaults) :], node.defaults, strict=True) if a.arg == "rule"]
                names += [d for a, d in zip(node.kwonlyargs, node.kw_defaults, strict=True) if a.arg == "rule" and d is not None]
            for name in names:
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    found.setdefault(name.value, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_rule_the_source_emits_is_in_the_table_and_every_table_rule_is_emitted():
    emitted = _emitted_names()
    assert "dropped-irrep" in emitted and "build-failed" in emitted, "the scan no longer sees how findings are made"
    unknown = {name: sorted(where) for name, where in emitted.items() if name not in RULES}
    assert not unknown, f"findings made with rules the table lacks: {unknown}"
    assert not set(RULES) - set(emitted), f"rules in the table that nothing emits: {sorted(set(RULES) - set(emitted))}"


def test_the_check_stage_is_exactly_the_rules_with_a_check_function():
    assert list(CHECKS) == [r.name for r in ALL if r.stage is Stage.CHECK], "CHECKS pairs each CHECK rule with its function, by id"
    assert "eqdesign/analysis/rules.py" not in set().union(*(w for n, w in _emitted_names().items() if RULES[n].stage is not Stage.CHECK))


def _analysed(path: Path) -> tuple[LoadedSpec, Design, Flow]:
    loaded = load_spec(path, DEFAULT.tests)
    assert not isinstance(loaded, list), [f.message for f in loaded]
    design = resolve(loaded).design
    assert design is not None, f"{path.name} does not resolve"
    return loaded, design, analyse(design)


CHECK_EXAMPLES = [RULES[name] for name in CHECKS]


@pytest.mark.parametrize("rule", CHECK_EXAMPLES, ids=_ids(CHECK_EXAMPLES))
def test_each_check_function_finds_its_rule_and_no_other(rule: Rule):
    """On every CHECK rule's example, each check function reports only the rule the table pairs it with, and the
    function of this example's rule reports it."""
    analysed = _analysed(_example_path(rule))
    for name, check in CHECKS.items():
        found = check(*analysed)
        assert {f.rule for f in found} <= {name}, f"{check.__name__} reports {sorted({f.rule for f in found})}"
        assert found or name != rule.name, f"{check.__name__} finds nothing on its example"


def test_importing_the_package_registers_nothing():
    """The table is complete before any check function is imported: configuration and the reporters see every
    rule without importing analysis/rules.py, and importing it (or anything else) changes nothing."""
    code = """
import sys
from eqdesign.analysis.config import rule_names
from eqdesign.report.entries import rules_run
assert "eqdesign.analysis.rules" not in sys.modules, "importing the table imported the check functions"
before = (rule_names("ALL"), [r.name for r in rules_run(True)])
import eqdesign.analysis.rules, eqdesign.commands.rules, eqdesign.report.sarif, eqdesign.report.junit
assert (rule_names("ALL"), [r.name for r in rules_run(True)]) == before
print(" ".join(before[0]))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == sorted(RULES)
    with pytest.raises(TypeError):
        RULES["new-rule"] = ALL[0]  # type: ignore[index]


# -- the rules document themselves


@pytest.mark.parametrize("rule", ALL, ids=_ids(ALL))
def test_every_rule_has_doc_summary_and_fix(rule: Rule):
    assert rule.doc.strip(), f"{rule.rule_id}: empty docstring"
    assert len(rule.doc) > len(rule.summary), f"{rule.rule_id}: the doc is one sentence; explain why the rule holds"
    assert rule.summary.strip(". "), f"{rule.rule_id}: empty summary"
    assert len(rule.summary) <= 200, f"{rule.rule_id}: the summary is not a one-line description: {rule.summary!r}"
    assert rule.fix.strip(), f"{rule.rule_id}: no fix= text"
    assert rule.fix.rstrip().endswith("."), f"{rule.rule_id}: the fix text is not a sentence"


# -- examples


def test_every_example_names_an_existing_rule():
    names = sorted(p.name for p in EXAMPLES.iterdir() if p.is_file())
    assert names, "no example specs shipped"
    for name in names:
        match = EXAMPLE_NAME.match(name)
        assert match, f"{name}: examples are named <ID>-<name>.yaml"
        rule = find_rule(match.group(2))
        assert rule is not None, f"{name}: no rule is named {match.group(2)!r}"
        assert rule.rule_id == match.group(1), f"{name}: {match.group(2)} is {rule.rule_id}"


@pytest.mark.parametrize("rule", ALL, ids=_ids(ALL))
def test_every_rule_check_can_emit_has_an_example(rule: Rule):
    if rule.name in NOT_FROM_CHECK:
        if example_file(rule) is None:
            assert rule.name in NO_EXAMPLE, f"{rule.rule_id}: say in NO_EXAMPLE why it has no example"
        return
    assert example_file(rule) is not None, f"{rule.rule_id}: add eqdesign/analysis/examples/{rule.rule_id}-{rule.name}.yaml"
    assert rule.name not in NO_EXAMPLE


def test_every_example_explains_itself():
    for rule in ALL:
        text = example_text(rule)
        if text is not None:
            assert text.lstrip().startswith("#"), f"{rule.rule_id}: start the example with a comment saying what triggers it"
            assert rule.rule_id in text.split("\n", 1)[0], f"{rule.rule_id}: the first comment line should name the rule"


CHECKED = [r for r in ALL if r.name not in NOT_FROM_CHECK]


@pytest.mark.parametrize("rule", CHECKED, ids=_ids(CHECKED))
def test_example_triggers_its_rule(rule: Rule):
    if rule.name == "unused-suppression" and "lint" not in Spec.model_fields:
        pytest.skip("the spec language has no lint: key yet (it is being added)")
    result = check_file(_example_path(rule))
    assert not result.internal_error, result.internal_error
    found = [f.rule_id for f in result.findings]
    assert rule.rule_id in found, f"{rule.rule_id} example yields only {found}"


def test_not_equivariant_example_passes_check():
    """EQ301 is a build verdict: its example must get through check (warnings allowed) to reach the build."""
    rule = RULES["not-equivariant"]
    assert rule.name in BUILD_RULES
    result = check_file(_example_path(rule))
    assert not result.internal_error, result.internal_error
    errors = [f"{f.rule_id} {f.message}" for f in result.findings if f.severity == Severity.ERROR]
    assert not errors, errors


@pytest.mark.escnn
def test_not_equivariant_example_fails_the_build(tmp_path: Path):
    from eqdesign.commands.build import build_spec

    result = build_spec(str(_example_path(RULES["not-equivariant"])), str(tmp_path / "out"))
    assert any(f.rule_id == "EQ301" for f in result.verdicts), [f"{f.rule_id} {f.message}" for f in result.verdicts]


# -- the generated page and the look-ups


def test_docs_rules_md_is_generated():
    path = ROOT / "docs" / "rules.md"
    assert path.is_file(), f"docs/rules.md is missing; generate it: {REGENERATE}"
    assert path.read_text(encoding="utf-8") == rules_markdown(), f"docs/rules.md is stale; regenerate it: {REGENERATE}"


def test_docs_have_one_section_per_rule_at_its_anchor():
    text = rules_markdown()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings == [f"{r.rule_id} {r.name}" for r in ALL]
    for r in ALL:
        assert f"(#{help_anchor(r)})" in text
        if example_text(r) is None:
            assert f"## {r.rule_id} {r.name}" in text and NO_EXAMPLE[r.name] in text


def test_help_anchor_is_githubs_slug():
    assert help_anchor(RULES["dropped-irrep"]) == "eq101-dropped-irrep"
    assert help_anchor(RULES["internal-error"]) == "eq000-internal-error"


def test_find_rule():
    assert find_rule("EQ101") is RULES["dropped-irrep"]
    assert find_rule("eq101") is RULES["dropped-irrep"]
    assert find_rule("dropped-irrep") is RULES["dropped-irrep"]
    assert find_rule(" Unused-Input ") is RULES["unused-input"]
    assert find_rule("EQ999") is None
    assert find_rule("no-such-rule") is None
    assert find_rule("") is None


def test_explain():
    info = explain(RULES["dropped-irrep"])
    assert info["id"] == "EQ101" and info["name"] == "dropped-irrep" and info["severity"] == "warning"
    assert info["summary"] == RULES["dropped-irrep"].summary and info["doc"] and info["fix"]
    assert info["example"] and "EQ101" in info["example"]
    assert info["help_anchor"] == "eq101-dropped-irrep"
    assert info["ignorable"] is True
    none = explain(RULES["internal-error"])
    assert none["example"] is None and none["example_note"] and none["ignorable"] is False
