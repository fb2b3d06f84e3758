"""The CI recipes work as shipped: the pre-commit hooks run from their manifest, and the `run:` lines of
docs/ci.md's GitHub workflow and GitLab job run here, against the repository's own specs."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import jsonschema
import pytest
import yaml

from conftest import ROOT

BIN = Path(sys.executable).parent  # the environment's eqdesign script lives beside its python
HOOKS = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
GOOD = ROOT / "specs" / "so2-gated.yaml"
BAD = ROOT / "specs" / "flagged" / "o3-single-vector-pseudovector.yaml"
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "NO_COLOR"))}
    return {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", **extra}


def _hook(hook_id: str, files: list[Path], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(HOOKS[hook_id]["entry"]) + [str(f) for f in files]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=_env(), timeout=900)


def test_manifest_declares_the_python_hooks() -> None:
    check, build = HOOKS["eqdesign-check"], HOOKS["eqdesign-build"]
    assert check["types"] == build["types"] == ["yaml"] and check["language"] == build["language"] == "python"
    assert "stages" not in check and "--specs-only" in check["entry"]
    assert build["require_serial"] is True and set(build["stages"]) <= {"pre-push", "manual"}
    assert "--dry-run" in build["entry"] and "--specs-only" in build["entry"]
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["build"]
    # the hook installs what the build extra does, less the ONNX exporter: a --dry-run gate writes no NAME.onnx
    assert build["additional_dependencies"] == [d for d in extra if not d.startswith("onnx")]


def test_check_hook_passes_a_good_spec_and_skips_yaml_that_is_no_spec() -> None:
    proc = _hook("eqdesign-check", [GOOD, ROOT / ".pre-commit-hooks.yaml"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 spec(s)" in proc.stdout and "[EQ" not in proc.stdout


def test_check_hook_fails_a_bad_spec_with_located_findings() -> None:
    proc = _hook("eqdesign-check", [BAD, GOOD])
    assert proc.returncode == 1
    shown = BAD.relative_to(ROOT).as_posix()  # concise names a file as the working folder reaches it
    assert re.search(rf"^{re.escape(shown)}:\d+:\d+: error \[EQ201 unreachable-output\] ", proc.stdout, re.M), proc.stdout


def test_check_hook_never_imports_torch() -> None:
    code = (
        "import runpy, shlex, sys\n"
        f"sys.argv = shlex.split({HOOKS['eqdesign-check']['entry']!r}) + [{str(GOOD)!r}]\n"
        "try:\n    runpy.run_module('eqdesign', run_name='__main__')\n"
        "except SystemExit as done:\n    assert done.code == 0, done.code\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'escnn')]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_system_build_hook_is_the_build_hook_run_from_the_users_environment() -> None:
    """eqdesign-build-system installs nothing (language: system): the gate of eqdesign-build, with the
    eqdesign the user's environment provides (a CPU-only torch, say), found on PATH."""
    system, build = HOOKS["eqdesign-build-system"], HOOKS["eqdesign-build"]
    assert system["language"] == "system" and "additional_dependencies" not in system
    assert {k: system[k] for k in ("entry", "types", "require_serial", "stages")} == {
        k: build[k] for k in ("entry", "types", "require_serial", "stages")
    }
    command = shlex.split(system["entry"])[0]
    assert shutil.which(command, path=_env()["PATH"]) == str(BIN / command)  # the environment's own eqdesign


def test_the_docs_pre_commit_examples_name_hooks_that_exist() -> None:
    configs = [b for b in _yaml_blocks() if isinstance(b, dict) and "repos" in b]
    named = {h["id"] for config in configs for repo in config["repos"] for h in repo["hooks"]}
    assert named == set(HOOKS)  # every hook is shown, and no example names one that does not exist


@pytest.mark.escnn
@pytest.mark.parametrize("hook_id", ["eqdesign-build", "eqdesign-build-system"])
def test_build_hook_passes_a_good_spec_fails_bad_ones_and_writes_nothing(tmp_path: Path, hook_id: str) -> None:
    shutil.copy(GOOD, tmp_path / "good.yaml")
    shutil.copy(BAD, tmp_path / "bad.yaml")
    shutil.copy(ROOT / "eqdesign" / "analysis" / "examples" / "EQ301-not-equivariant.yaml", tmp_path / "coarse.yaml")
    before = sorted(p.name for p in tmp_path.iterdir())
    ok = _hook(hook_id, [tmp_path / "good.yaml"], cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    failed = _hook(hook_id, [tmp_path / "bad.yaml", tmp_path / "coarse.yaml"], cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "[EQ201 unreachable-output]" in failed.stdout and "[EQ301 not-equivariant]" in failed.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # a dry run writes no artifact


# -- docs/ci.md -------------------------------------------------------------------------------------------


def _yaml_blocks() -> list[Any]:
    text = (ROOT / "docs" / "ci.md").read_text()
    return [yaml.safe_load(body) for body in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def _steps(job: str) -> list[tuple[str, str]]:
    """(name, script) of the workflow job's run: steps, leaving out the install steps (done here already)."""
    workflow = next(b for b in _yaml_blocks() if isinstance(b, dict) and "jobs" in b)
    steps = workflow["jobs"][job]["steps"]
    return [(s["name"], s["run"]) for s in steps if "run" in s and not s["name"].startswith("Install")]


def _repo(tmp_path: Path) -> Path:
    """A git repository holding the gallery's specs on main, and a branch that changes one of them."""
    repo = tmp_path / "repo"
    (repo / "specs").mkdir(parents=True)
    for spec in (ROOT / "specs").glob("*.yaml"):
        shutil.copy(spec, repo / "specs" / spec.name)
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(git + ["init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run(git + ["add", "."], cwd=repo, check=True)
    subprocess.run(git + ["commit", "-qm", "specs"], cwd=repo, check=True)
    subprocess.run(["git", "update-ref", "refs/remotes/origin/main", "HEAD"], cwd=repo, check=True)
    with (repo / "specs" / GOOD.name).open("a") as spec:
        spec.write("# changed on the branch\n")
    subprocess.run(git + ["commit", "-qam", "change one spec"], cwd=repo, check=True)
    return repo


def _run(script: str, repo: Path, summary: Path) -> subprocess.CompletedProcess[str]:
    env = _env(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary), GITHUB_BASE_REF="main")
    return subprocess.run(["bash", "-eo", "pipefail", "-c", script], capture_output=True, text=True, cwd=repo, env=env, timeout=900)


def test_the_workflow_check_job_runs_here(tmp_path: Path) -> None:
    repo, summary = _repo(tmp_path), tmp_path / "summary.md"
    outputs = {}
    for name, script in _steps("check"):
        proc = _run(script, repo, summary)
        assert proc.returncode == 0, (name, proc.stdout, proc.stderr)
        outputs[name] = proc.stdout
    annotations = outputs["Check specs (annotations and step summary)"]
    assert re.search(r"^::warning file=specs/[\w.-]+\.yaml,line=\d+,col=\d+,title=EQ\d+", annotations, re.M), annotations
    assert "::error" not in annotations
    assert "specs/" in summary.read_text()
    jsonschema.Draft7Validator(SARIF_SCHEMA).validate(json.loads((repo / "eqdesign.sarif").read_text()))


@pytest.mark.escnn
def test_the_workflow_build_job_builds_only_the_changed_spec(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    [(name, script)] = _steps("build")
    proc = _run(script, repo, tmp_path / "summary.md")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (repo / "changed-specs.txt").read_text().split() == [f"specs/{GOOD.name}"]
    assert GOOD.name in proc.stdout + proc.stderr
    built = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout.split()
    assert built == ["??", "changed-specs.txt"]  # --dry-run: no artifact beside the spec


def test_the_gitlab_job_runs_here(tmp_path: Path) -> None:
    job = next(b for b in _yaml_blocks() if isinstance(b, dict) and "eqdesign" in b)["eqdesign"]
    repo = _repo(tmp_path)
    for line in job["script"]:
        if not line.startswith("pip "):
            proc = _run(line, repo, tmp_path / "summary.md")
            assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
    quality = json.loads((repo / "gl-code-quality.json").read_text())
    assert quality and all({"description", "check_name", "fingerprint", "severity", "location"} <= set(q) for q in quality)
    suites = ElementTree.parse(repo / "eqdesign-junit.xml").getroot()
    assert int(suites.get("failures", "-1")) == 0 and len(suites.findall("testsuite")) == len(list((repo / "specs").glob("*.yaml")))
