"""The gate's command-line options as a user meets them: the format chosen under GitHub Actions, -o report
files, --statistics, --exit-zero, --specs-only, colour, `rules ID`, `init` and `check --graph`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, invoke_cli
from eqdesign.commands.check import check_paths
from eqdesign.findings import RULES

FLAGGED = ROOT / "specs" / "flagged"
GOOD = ROOT / "specs" / "so2-gated.yaml"


_cli = invoke_cli  # the options and reports under test are the CLI's own code: run in this process


def test_github_format_is_chosen_under_github_actions_and_writes_the_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    proc = _cli("check", str(FLAGGED), GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary))
    assert proc.returncode == 1
    errors = [line for line in proc.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == sum(s.errors for s in check_paths([str(FLAGGED)]).specs)
    assert summary.read_text().startswith("earlier step\n")  # appended, as GitHub expects
    assert "EQ201" in summary.read_text()
    assert not _cli("check", str(FLAGGED), "-f", "human", GITHUB_ACTIONS="true").stdout.startswith("::")


def test_output_file_gets_the_report_and_the_terminal_a_concise_summary(tmp_path: Path) -> None:
    report = tmp_path / "out.sarif"
    proc = _cli("check", str(FLAGGED), "-f", "sarif", "-o", str(report))
    assert proc.returncode == 1
    sarif = json.loads(report.read_text())
    assert sarif["version"] == "2.1.0"
    concise = [line for line in proc.stdout.splitlines() if re.match(r".+:\d+:\d+: (error|warning|info) \[EQ\d+ ", line)]
    assert len(concise) == len(sarif["runs"][0]["results"])
    assert f"wrote the sarif report to {report}" in proc.stdout


def test_output_file_in_a_missing_folder_is_a_usage_error_and_leaves_nothing(tmp_path: Path) -> None:
    proc = _cli("check", str(GOOD), "-f", "json", "-o", str(tmp_path / "nope" / "r.json"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "nope").exists()


def test_statistics_count_each_rule(tmp_path: Path) -> None:
    result = check_paths([str(FLAGGED)])
    expected: dict[str, int] = {}
    for spec in result.specs:
        for f in spec.all_findings():
            expected[f.rule_id] = expected.get(f.rule_id, 0) + 1
    proc = _cli("check", str(FLAGGED), "--statistics", "-f", "json")
    assert proc.returncode == 1
    assert {row["rule_id"]: row["count"] for row in json.loads(proc.stdout)} == expected
    text = _cli("check", str(FLAGGED), "--statistics").stdout.splitlines()
    assert [line.split()[:2] for line in text[:-1]] == [[str(row["count"]), row["rule_id"]] for row in json.loads(proc.stdout)]


def test_exit_zero_turns_findings_into_success_but_not_usage_errors() -> None:
    assert _cli("check", str(FLAGGED), "-f", "concise", "--exit-zero").returncode == 0
    assert _cli("check", str(ROOT / "tests" / "nonexistent.yaml"), "--exit-zero").returncode == 2


def test_specs_only_skips_yaml_that_declares_no_group(tmp_path: Path) -> None:
    (tmp_path / "workflow.yml").write_text("on: push\njobs: {}\n")
    (tmp_path / "spec.yaml").write_text(GOOD.read_text())
    proc = _cli("check", str(tmp_path), "--specs-only", "-f", "json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and [s["file"] for s in report["specs"]] == [str(tmp_path / "spec.yaml")]
    assert _cli("check", str(tmp_path), "-f", "json").returncode == 2  # without it, the workflow is a bad spec


@pytest.mark.parametrize("env, colour", [({}, False), ({"FORCE_COLOR": "1"}, True), ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False)])
def test_colour_only_on_a_terminal_and_never_under_no_color(env: dict[str, str], colour: bool) -> None:
    # FORCE_COLOR stands in for a terminal (rich reads it as one); NO_COLOR wins over it.
    out = _cli("check", str(FLAGGED), **env).stdout
    assert ("\x1b[" in out) is colour


def test_rules_explains_one_rule_by_id_or_name() -> None:
    by_id, by_name = _cli("rules", "EQ201"), _cli("rules", "unreachable-output")
    assert by_id.returncode == by_name.returncode == 0 and by_id.stdout == by_name.stdout
    assert RULES["unreachable-output"].fix.split()[0] in by_id.stdout and "Example (EQ201-unreachable-output.yaml)" in by_id.stdout
    doc = json.loads(_cli("rules", "eq201", "-f", "json").stdout)
    assert doc["id"] == "EQ201" and doc["example"] and doc["ignorable"] is True
    unknown = _cli("rules", "EQ999")
    assert unknown.returncode == 2 and "no rule is called 'EQ999'" in unknown.stderr


def test_init_writes_a_new_spec_that_passes_check(tmp_path: Path) -> None:
    target = tmp_path / "starter.yaml"
    proc = _cli("init", "--group", "o3", "--input", "2x1o", "--output", "1x1e + 1x0e", "-o", str(target))
    assert proc.returncode == 0, proc.stderr
    assert _cli("check", str(target), "-f", "concise").returncode == 0
    spec = yaml.safe_load(target.read_text())
    assert (spec["group"], spec["input"], spec["output"]) == ("o3", "2x1o", "1x1e + 1x0e")
    again = _cli("init", "-o", str(target))
    assert again.returncode == 2 and "exists" in again.stderr and yaml.safe_load(target.read_text()) == spec
    impossible = _cli("init", "--group", "o3", "--input", "1x1o", "--output", "1x1e")
    assert impossible.returncode == 2 and impossible.stdout == "" and "1e" in impossible.stderr


def test_check_graph_writes_mermaid_and_svg(tmp_path: Path) -> None:
    spec = str(ROOT / "specs" / "so3-vector-mlp.yaml")
    assert _cli("check", spec, "-f", "concise", "--graph", str(tmp_path / "g.mmd")).returncode == 0
    assert (tmp_path / "g.mmd").read_text().startswith("flowchart")
    bad = _cli("check", spec, "-f", "concise", "--graph", str(tmp_path / "g.xyz"))
    assert bad.returncode == 2 and not (tmp_path / "g.xyz").exists()
    if __import__("shutil").which("dot"):
        assert _cli("check", spec, "-f", "concise", "--graph", str(tmp_path / "g.svg")).returncode == 0
        assert "<svg" in (tmp_path / "g.svg").read_text()


FORMATS = ["concise", "github", "sarif", "junit", "gitlab", "json", "human"]


def test_check_never_imports_torch_in_any_format(tmp_path: Path) -> None:
    """Every format, one after the other in one fresh interpreter (torch would stay imported once any of
    them pulled it in, and the one it came with is named)."""
    runs = [["eqdesign", "check", str(FLAGGED), "-f", fmt, "--statistics", "--graph", str(tmp_path / f"{fmt}.mmd")] for fmt in FORMATS]
    code = (
        "import runpy, sys\n"
        f"for argv in {runs!r}:\n"
        "    sys.argv = argv\n"
        "    try:\n        runpy.run_module('eqdesign', run_name='__main__')\n"
        "    except SystemExit as done:\n        assert done.code == 1, (argv, done.code)\n"
        "    bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'escnn')]\n"
        "    assert not bad, (argv, bad)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all((tmp_path / f"{fmt}.mmd").read_text().startswith("flowchart") for fmt in FORMATS)
