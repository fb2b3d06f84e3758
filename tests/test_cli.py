"""The command line as a user meets it: fresh processes, exit codes, JSON shape, no traceback, no torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

GOOD = """\
name: good
group: so3
input: "1x vector + 1x 0"
output: "1x vector + 1x 0"
hidden:
  - {nonlinearity: fourier_elu, band_limit: 1, channels: 2}
"""


def test_check_clean_spec_exits_0_and_reports_blocks(write_spec):
    path = write_spec(GOOD)
    proc = run_cli("check", str(path), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["schema_version"] == 1
    assert report["summary"] == {"specs": 1, "errors": 0, "warnings": report["summary"]["warnings"], "exit_code": 0, "skipped": 0}
    spec = report["specs"][0]
    assert spec["ok"] and spec["group"]["name"] == "so3"
    first = spec["layers"][0]
    # input 1x0 + 1x1 -> 2 channels of regular(L=1) = 2x(1x0 + 3x1): blocks 1*2 + 1*6, bias 2
    assert first["kind"] == "linear"
    assert [(b["irrep"], b["m_in"], b["m_out"], b["params"]) for b in first["blocks"]] == [("0", 1, 2, 2), ("1", 1, 6, 6)]
    assert first["bias"] == 2 and first["params"] == 10
    assert spec["params"] == sum(layer["params"] for layer in spec["layers"])
    assert spec["influence"] == {"0": ["0", "1"], "1": ["0", "1"]}
    assert (
        set(spec["findings"][0]) >= {"rule_id", "rule", "severity", "message", "line", "column", "spec_path", "hint"}
        if spec["findings"]
        else True
    )


def test_check_error_finding_exits_1(write_spec):
    path = write_spec(GOOD.replace('output: "1x vector + 1x 0"', 'output: "1x3"').replace("band_limit: 1", "band_limit: 2"))
    proc = run_cli("check", str(path))
    assert proc.returncode == 1
    assert "EQ201" in proc.stdout or "EQ204" in proc.stdout


BAD_SPECS = [
    (
        "name: x\ngroup: so3\ninput: '1x1'\noutput: '1x0'\nhidden:\n  - {nonlinearity: fourier_elu, band_limit: 1, channels: 2, grdi: 3}\n",
        6,
        61,
        "schema",
    ),
    ("name: x\ngroup: so4\ninput: '1x1'\noutput: '1x0'\n", 2, 8, "unknown-group"),
    ("name: x\ngroup: so3\ninput: '1x0 + 2xvec'\noutput: '1x0'\n", 3, 17, "unknown-irrep"),
    ("name: x\ngroup: so3\ninput: '1x1'\noutput: '1x0'\ninput: '1x1'\n", 5, 1, "duplicate-key"),
    ("name: x\ngroup: so3\n  input: '1x1'\n", 3, 8, "yaml-syntax"),
]


def test_bad_specs_exit_2_with_location_and_no_traceback(write_spec):
    """Every kind of unreadable spec, all in one command line (exit 2 is each one's code, and the highest
    wins), in JSON and in the human format."""
    paths = [write_spec(text, f"bad{k}.yaml") for k, (text, *_) in enumerate(BAD_SPECS)]
    proc = run_cli("check", *map(str, paths), "--format", "json")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    specs = {s["file"]: s for s in json.loads(proc.stdout)["specs"]}
    human = run_cli("check", *map(str, paths))
    assert human.returncode == 2 and "Traceback" not in human.stdout + human.stderr
    for path, (_, line, col, rule) in zip(paths, BAD_SPECS, strict=True):
        assert specs[str(path)]["exit_code"] == 2
        finding = specs[str(path)]["findings"][0]
        assert (finding["rule"], finding["line"], finding["column"]) == (rule, line, col)
        assert finding["hint"]
        assert f"{path}:{line}:{col}" in human.stdout


def test_many_inputs_directories_and_globs(write_spec, tmp_path):
    write_spec(GOOD, "a.yaml")
    write_spec(GOOD.replace("name: good", "name: other"), "b.yml")
    proc = run_cli("check", str(tmp_path), str(tmp_path / "*.yaml"), "--format", "json")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["summary"]["specs"] == 2  # a.yaml counted once


def test_missing_path_is_a_usage_error(tmp_path):
    proc = run_cli("check", str(tmp_path / "absent.yaml"))
    assert proc.returncode == 2 and "no such file" in proc.stdout


def test_strict_fails_on_warnings(write_spec):
    path = write_spec(GOOD)  # the last linear drops nothing here, but the decoupled/dropped rules may warn
    spec = json.loads(run_cli("check", str(path), "--format", "json").stdout)["specs"][0]
    strict = run_cli("check", str(path), "--strict")
    assert strict.returncode == (1 if spec["findings"] else 0)


def test_check_never_imports_torch_or_escnn(write_spec):
    import subprocess
    import sys

    path = write_spec(GOOD)
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['eqdesign', 'check', {str(path)!r}]\n"
        "try:\n    runpy.run_module('eqdesign', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'escnn')]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr


def test_groups_command_lists_o3_irreps_in_e3nn_style():
    proc = run_cli("groups", "o3", "--format", "json", "--max-freq", "1")
    assert proc.returncode == 0
    info = json.loads(proc.stdout)
    assert [(i["name"], i["escnn_id"], i["dim"]) for i in info["irreps"]] == [
        ("0e", "(0, 0)", 1),
        ("0o", "(1, 0)", 1),
        ("1e", "(0, 1)", 3),
        ("1o", "(1, 1)", 3),
    ]
    assert info["vector"].startswith("1o")
    assert run_cli("groups", "c8").returncode == 0
    assert run_cli("groups", "nope").returncode == 2


def test_rules_are_documented_and_ids_unique():
    proc = run_cli("rules", "--format", "json")
    rules = json.loads(proc.stdout)
    ids = [r["rule_id"] for r in rules]
    assert len(ids) == len(set(ids)) and all(r["doc"] for r in rules)
    assert {"dropped-irrep", "grid-too-small", "invalid-nonlinearity", "unreachable-output", "unused-input", "decoupled", "band-limit"} <= {
        r["rule"] for r in rules
    }


def test_shipped_json_schema_is_current():
    proc = run_cli("schema")
    assert json.loads(proc.stdout) == json.loads((ROOT / "eqdesign" / "schema" / "spec-v1.json").read_text())


def test_check_dir_reads_every_spec_and_reports_what_it_skipped(tmp_path: Path):
    spec = (ROOT / "specs" / "so3-vector-mlp.yaml").read_text()
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "UPPER.YAML").write_text(spec.replace("so3-vector-mlp", "upper"))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "linked.yml").write_text(spec.replace("so3-vector-mlp", "linked"))
    (tmp_path / "specs" / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "specs" / ".venv").mkdir()
    (tmp_path / "specs" / ".venv" / "vendored.yaml").write_text("not: read")
    proc = run_cli("check", str(tmp_path / "specs"), "--format", "json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, proc.stdout
    assert sorted(Path(s["file"]).name for s in report["specs"]) == ["UPPER.YAML", "linked.yml"]
    assert report["summary"]["skipped"] == 1 and report["skipped"][0].startswith(str(tmp_path / "specs" / ".venv"))
    human = run_cli("check", str(tmp_path / "specs"))
    assert "2 spec(s) checked, 1 skipped" in human.stdout


def test_check_of_a_folder_without_specs_is_an_error(tmp_path: Path):
    proc = run_cli("check", str(tmp_path))
    assert proc.returncode == 2 and "no spec files" in proc.stdout


@pytest.mark.parametrize("given, expected", [(None, "1"), ("4", "4")])
def test_the_cli_runs_torch_on_one_passive_thread_unless_told_otherwise(monkeypatch, given, expected):
    from eqdesign import cli

    for name in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(name, raising=False)
    if given is not None:
        monkeypatch.setenv("OMP_NUM_THREADS", given)
    cli._calm_threads()
    import os

    assert (os.environ["OMP_NUM_THREADS"], os.environ["OMP_WAIT_POLICY"]) == (expected, "PASSIVE")
