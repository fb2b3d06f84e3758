"""Messages and options: every flag, environment variable and spec key a message or hint names exists (and
a hint never suggests the key it rejects); explicit options are never dropped silently; output paths are
checked before any work, each fault with its own message."""

from __future__ import annotations

import ast
import functools
import json
import re
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest
import typer.main

from eqdesign.analysis.budget import Limits
from eqdesign.cli import app
from eqdesign.commands.check import check_file
from eqdesign.commands.rules import all_rules, explain
from eqdesign.exitcodes import ExitCode
from eqdesign.spec.model import Spec
from tests.conftest import ROOT, invoke_cli

PACKAGE = ROOT / "eqdesign"
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
#: pip's own options, in the commands that install the build extra (eqdesign/extras.py)
PIP_FLAGS = {"--index-url"}
ENV = re.compile(r"\bEQDESIGN_[A-Z_]+[A-Z]\b")
#: a command named in a message, and the text up to the end of its clause: its flags must be its own
COMMAND = re.compile(r"\beqdesign ([a-z]+)((?: [^;,()`\n]*?)?)(?=[;,()`\n]|$)")
#: keys a hint asks to add, write, set or use (``add n: 30``, ``use norm: iid_batch``, ``{name: cyclic, n: 8}``)
SUGGESTED_KEY = re.compile(r"(?:\b(?:add|write|use|set|with)\s+'?|[{,]\s*)([a-z_]+): ")
DOTTED_KEY = re.compile(r"\b(tests|grid|group)\.([a-z_]+)\b")


run_cli = invoke_cli  # these commands end before any work: no interpreter start-up per call


def _options() -> dict[str, set[str]]:
    """Every command's options (subcommands as 'cache info'), and '' for the top-level ones."""
    found: dict[str, set[str]] = {}

    def walk(cmd: object, name: str) -> None:
        found[name] = {o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")} | {"--help"}  # type: ignore[attr-defined]
        for sub in getattr(cmd, "commands", {}).values():
            walk(sub, f"{name} {sub.name}".strip())

    walk(typer.main.get_command(app), "")
    return found


OPTIONS = _options()
ALL_FLAGS = set().union(*OPTIONS.values())


@functools.cache
def _nodes() -> list[tuple[str, ast.AST]]:
    """(module, node) of every syntax node of the package, parsed once."""
    return [(str(p.relative_to(ROOT)), node) for p in sorted(PACKAGE.rglob("*.py")) for node in ast.walk(ast.parse(p.read_text()))]


def _source_strings() -> Iterator[tuple[str, str]]:
    """(module, text) of every string literal in the package, f-strings by their constant parts."""
    for where, node in _nodes():
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield where, node.value


def _environment_names() -> set[str]:
    """Every EQDESIGN_ variable the package reads: literal keys, and the limits' EQDESIGN_LIMIT_<NAME>."""
    read = {f"EQDESIGN_LIMIT_{f.name.upper()}" for f in fields(Limits)}
    named = _string_constants()  # a variable's name kept in a constant (ROOT_VARIABLE = "EQDESIGN_SOURCE_ROOT")
    for where, node in _nodes():
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("get", "setdefault", "pop"):
            read |= {a.value for a in node.args[:1] if isinstance(a, ast.Constant) and isinstance(a.value, str)}
            read |= {named[(where, a.id)] for a in node.args[:1] if isinstance(a, ast.Name) and (where, a.id) in named}
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            read.add(node.slice.value)
    return {n for n in read if n.startswith("EQDESIGN_")}


def _string_constants() -> dict[tuple[str, str], str]:
    """(module, name) -> value of every assignment of a string literal to a plain name."""
    out = {}
    for where, node in _nodes():
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out |= {(where, t.id): node.value.value for t in node.targets if isinstance(t, ast.Name)}
    return out


def _spec_keys() -> set[str]:
    """Every key the spec language has (the JSON Schema's properties, at every level)."""
    keys: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            keys.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(Spec.model_json_schema())
    return keys


def _corpus_findings() -> list[tuple[str, str, str]]:
    """(file, message, hint) of every finding check reports on the repository's specs, valid and hostile."""
    files = sorted(
        p for folder in ("specs", "tests/corpus", "tests/hostile", "tests/designs") for p in (ROOT / folder).rglob("*.y*ml") if p.is_file()
    )
    assert len(files) > 150
    out = []
    for path in files:
        result = check_file(path)
        out += [(str(path.relative_to(ROOT)), f.message, f.hint or "") for f in result.all_findings()]
    return out


FINDINGS = _corpus_findings()


def _rule_texts() -> Iterator[tuple[str, str]]:
    for r in all_rules():
        yield r.rule_id, json.dumps(explain(r))


@functools.cache
def _texts() -> list[tuple[str, str]]:
    """(where, text) of everything the CLI can say: the package's strings, check's findings, the rules."""
    return [*_source_strings(), *((f, f"{m} (hint: {h})") for f, m, h in FINDINGS), *_rule_texts()]


def test_every_flag_a_message_names_exists_and_belongs_to_the_command_named() -> None:
    unknown = sorted({(where, flag) for where, text in _texts() for flag in FLAG.findall(text) if flag not in ALL_FLAGS | PIP_FLAGS})
    assert not unknown, unknown
    wrong = []
    for where, text in _texts():
        for command, rest in COMMAND.findall(text):
            if command in OPTIONS:
                wrong += [(where, command, flag) for flag in FLAG.findall(rest) if flag not in OPTIONS[command]]
    assert not wrong, wrong


def test_every_environment_variable_a_message_names_is_read() -> None:
    known = _environment_names()
    assert {"EQDESIGN_LIMIT_MAX_POINTS", "EQDESIGN_DEBUG", "EQDESIGN_CACHE_DIR"} <= known
    unknown = sorted({(where, name) for where, text in _texts() for name in ENV.findall(text) if name not in known})
    assert not unknown, unknown


def test_every_spec_key_a_hint_suggests_exists_and_is_not_the_one_it_rejects() -> None:
    keys = _spec_keys()
    assert {"band_limit", "tolerance", "max_points", "degree", "n", "norm"} <= keys
    suggested = [(file, key, hint) for file, _, hint in FINDINGS for key in SUGGESTED_KEY.findall(hint)]
    suggested += [(file, key, hint) for file, _, hint in FINDINGS for _, key in DOTTED_KEY.findall(hint)]
    assert suggested  # the patterns find what they look for
    assert not [s for s in suggested if s[1] not in keys]
    rejected = [(re.search(r"unknown key '([^']*)'", m), h) for _, m, h in FINDINGS]
    pairs = [(match.group(1), hint) for match, hint in rejected if match]
    assert pairs
    for key, hint in pairs:
        assert f"'{key}'" not in hint and f"{key}:" not in hint, (key, hint)


#: command lines that fail with a message, per command: what they say names that command's options only
FAILING = [
    ["init", "--group", "nope"],
    ["init", "--group", "cyclic"],
    ["init", "--group", "so3", "--input", "1x 99"],
    ["design", "--group", "nope", "--input", "1", "--output", "1"],
    ["design", "--group", "dihedral", "--input", "1", "--output", "1"],
    ["design", "--input", "1x 1o", "--output", "1"],
    ["design", "--input", "1", "--output", "1", "--params", "0", "--tolerance", "2"],
    ["groups", "nope"],
    ["groups", "cyclic"],
    ["groups", "so3", "--n", "3"],
    ["groups", "c8", "--n", "4"],
    ["rules", "EQ999"],
    ["check", "missing.yaml"],
    ["check", str(ROOT / "tests" / "hostile" / "duplicate-key.yaml")],
    ["build", "missing.yaml", "--dry-run"],
]


@pytest.mark.parametrize("args", FAILING, ids=" ".join)
def test_a_commands_messages_name_only_its_own_options(args: list[str]) -> None:
    done = run_cli(*args)
    said = done.stdout + done.stderr
    assert done.returncode == ExitCode.SPEC and said.strip()
    assert not [flag for flag in FLAG.findall(said) if flag not in OPTIONS[args[0]]], said


# -- explicit options, never dropped --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--group", "o3"], "--group"),
        (["--input", "1x 1"], "--input"),
        (["--output", "1x 1", "--group", "so3"], "--group, --output"),
    ],
)
def test_design_from_a_partial_spec_refuses_the_options_it_would_ignore(tmp_path: Path, args: list[str], said: str) -> None:
    partial = tmp_path / "partial.yaml"
    partial.write_text("name: mine\ngroup: so3\ninput: '1x1'\noutput: '1x1'\n")
    done = run_cli("design", "--from", str(partial), *args, "-f", "json")
    doc = json.loads(done.stdout)
    assert done.returncode == ExitCode.SPEC and doc["exit_code"] == ExitCode.SPEC
    assert doc["messages"][0].startswith(f"{said}: --from takes the group, input and output from the partial spec")


def test_design_refuses_measure_options_without_measure() -> None:
    done = run_cli("design", "--input", "1x 1", "--output", "1x 1", "--top", "2", "-j", "2")
    assert done.returncode == ExitCode.SPEC
    assert "--top and --jobs: only --measure and --data use them" in done.stderr


# -- output paths, checked first --------------------------------------------------------------------------

SPEC = str(ROOT / "specs" / "so3-vector-mlp.yaml")
ASK = ["--input", "1x 1", "--output", "1x 1"]
#: every option that names a file or folder a command writes: (command line before the path, the option as
#: messages name it, whether the path is a folder)
WRITERS = [
    (["check", SPEC, "-o"], "--output-file", False),
    (["check", SPEC, "--graph"], "--graph", False),
    (["build", SPEC, "--output-file"], "--output-file", False),
    (["build", SPEC, "-o"], "--out", True),
    (["init", "-o"], "-o", False),
    (["design", *ASK, "--measure", "-o"], "-o", False),
]


@pytest.mark.parametrize(("before", "option", "folder"), WRITERS)
def test_an_empty_output_path_has_its_own_message(before: list[str], option: str, folder: bool) -> None:
    done = run_cli(*before, "")
    assert done.returncode == ExitCode.SPEC and "Traceback" not in done.stderr
    assert f"{option}: the {'folder' if folder else 'file'} name is empty" in done.stderr + done.stdout


@pytest.mark.parametrize(("before", "option", "folder"), [w for w in WRITERS if not w[2]])
def test_a_folder_where_a_file_is_expected_has_its_own_message(tmp_path: Path, before: list[str], option: str, folder: bool) -> None:
    done = run_cli(*before, str(tmp_path))
    said = done.stderr + done.stdout
    assert done.returncode == ExitCode.SPEC
    assert f"{option} {tmp_path}: is a folder" in said and "name a file, such as" in said
    assert list(tmp_path.iterdir()) == []  # and nothing was written into it


def test_a_file_where_the_output_folder_is_expected_is_refused_before_building(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("a file")
    done = run_cli("build", SPEC, "-o", str(blocker / "sub"))
    assert done.returncode == ExitCode.SPEC and "is a file; name a folder" in done.stdout + done.stderr
    assert "building" not in done.stderr  # no step of a build was shown: refused before


def test_design_measure_refuses_an_existing_file_before_building_anything(tmp_path: Path) -> None:
    """--measure builds candidates (minutes): an -o that will be refused is refused first, so the document
    lists no candidate and nothing was measured."""
    existing = tmp_path / "mine.yaml"
    existing.write_text("keep me\n")
    done = run_cli("design", *ASK, "--measure", "-o", str(existing), "-f", "json")
    doc = json.loads(done.stdout)
    assert done.returncode == ExitCode.SPEC and "never overwrites" in doc["messages"][0]
    assert doc["candidates"] == [] and existing.read_text() == "keep me\n"


def test_check_refuses_a_report_path_before_reading_any_spec(tmp_path: Path) -> None:
    done = run_cli("check", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "no" / "report.txt"), "-f", "json")
    doc = json.loads(done.stdout)
    assert done.returncode == ExitCode.SPEC and doc["summary"]["exit_code"] == ExitCode.SPEC and doc["specs"] == []
    (problem,) = doc["usage_errors"]
    assert "does not exist (create it first)" in problem and "missing.yaml" not in problem
