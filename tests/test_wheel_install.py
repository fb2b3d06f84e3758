"""The check-only install, as a user gets it. The wheel is built from a copy of the sources and installed, with
its dependencies from the package registry, into a fresh venv outside the repository on each Python from 3.11
to 3.13 this machine has. There numpy 2 comes in (the check-only install does not cap it), and every pure
command must say exactly what the repository's own environment (numpy 1, the build extra's cap) says. The
commands that need torch or escnn refuse (exit 2) with the commands that install the build extra, writing
nothing. The fast tests at the end hide torch and escnn from the repository's environment instead."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT
from eqdesign.exitcodes import ExitCode
from eqdesign.extras import TORCH_INDEX_URL

#: the oldest and the newest Python the check-only install supports (3.12 lies between: it adds minutes to
#: every CI run and no case of its own: numpy 2 comes in on both ends)
SUPPORTED = ("3.11", "3.13")
ASK = ["--input", "1x vector + 1x 0", "--output", "2x vector + 1x 0"]  # design's example in the README
FLAGSHIP = "specs/so3-vector-mlp.yaml"
#: the hint's command that installs the build extra into the environment eqdesign runs in
EXTRA_COMMAND = re.compile(r"(\S+) -m pip install 'eqdesign\[build\]'")


@dataclass(frozen=True)
class Venv:
    version: str
    python: Path
    eqdesign: Path
    work: Path  # a folder outside the repository with copies of the gallery and the corpus
    env: dict[str, str]


def _run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without PYTHONPATH (which would import the repository's eqdesign) and the
    variables that choose a CI report format."""
    keep = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("GITHUB_")}
    return {**keep, **extra}


def _interpreter(version: str) -> str | None:
    """A working python<version> that can make venvs: on PATH, in pyenv's versions, or the one running."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(f"python{version}"), *sorted(map(str, pyenv.glob(f"versions/{version}.*/bin/python{version}")))]
    candidates.append(getattr(sys, "_base_executable", sys.executable))
    probe = "import sys, ensurepip, venv; print('%d.%d' % sys.version_info[:2])"
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-c", probe], capture_output=True, text=True, timeout=60)
        if done.returncode == 0 and done.stdout.strip() == version:  # a pyenv shim of an unselected version fails
            return candidate
    return None


def _registry_reachable(python: Path, scratch: Path) -> bool:
    """Whether pip of ``python`` gets a numpy wheel for its Python from the configured index."""
    args = [python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--timeout", "20", "--retries", "0"]
    return _run([*args, "-d", scratch, "numpy"], cwd=scratch).returncode == 0


def _pip_or_skip(done: subprocess.CompletedProcess[str], python: Path, scratch: Path, what: str) -> None:
    """A failed pip run fails the test, unless the package registry cannot be reached from here at all."""
    if done.returncode == 0:
        return
    if not _registry_reachable(python, scratch):
        pytest.skip(f"{what}: the package registry is unreachable from this machine (pip download numpy failed)")
    pytest.fail(f"{what} failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the sources: a stale build/ folder in the checkout cannot leak into it."""
    home = tmp_path_factory.mktemp("wheel")
    source = home / "source"
    shutil.copytree(ROOT / "eqdesign", source / "eqdesign", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    done = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", home / "dist", source], cwd=home)
    _pip_or_skip(done, Path(sys.executable), home, "pip wheel")
    (built,) = (home / "dist").glob("eqdesign-*.whl")
    return built


@pytest.fixture(scope="module", params=SUPPORTED)
def venv(request: pytest.FixtureRequest, wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A fresh venv with the wheel and nothing else than what pip resolves for it."""
    version: str = request.param
    base = _interpreter(version)
    if base is None:
        pytest.skip(f"no Python {version} on this machine (looked on PATH and in pyenv's versions)")
    home = tmp_path_factory.mktemp(f"py{version}")
    assert _run([base, "-m", "venv", home / "venv"], cwd=home).returncode == 0
    python, script = home / "venv" / "bin" / "python", home / "venv" / "bin" / "eqdesign"
    _pip_or_skip(_run([python, "-m", "pip", "install", "-q", wheel], cwd=home), python, home, f"pip install the wheel on Python {version}")
    work = home / "work"
    shutil.copytree(ROOT / "specs", work / "specs")
    shutil.copytree(ROOT / "tests" / "corpus", work / "corpus")
    return Venv(version, python, script, work, _clean_env(EQDESIGN_CACHE_DIR=str(home / "cache")))


def _fresh(venv: Venv, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The fresh venv's own `eqdesign` entry point."""
    return _run([venv.eqdesign, *args], cwd=cwd or venv.work, env=venv.env)


def _repository(venv: Venv, *args: str) -> subprocess.CompletedProcess[str]:
    """The same command from this checkout, in the repository's environment, on the same files."""
    return _run([sys.executable, "-m", "eqdesign", *args], cwd=venv.work, env={**venv.env, "PYTHONPATH": str(ROOT)})


def _same(venv: Venv, *args: str) -> subprocess.CompletedProcess[str]:
    """Run in both environments; they must agree byte for byte and in the exit code."""
    mine, theirs = _fresh(venv, *args), _repository(venv, *args)
    assert (mine.returncode, mine.stdout) == (theirs.returncode, theirs.stdout), f"{args}: {mine.stderr}\n{theirs.stderr}"
    return mine


@pytest.mark.slow
def test_the_fresh_venv_runs_the_installed_wheel_on_numpy_2_without_torch(venv: Venv) -> None:
    probe = "import eqdesign, numpy, importlib.util as u; print(eqdesign.__file__, numpy.__version__, u.find_spec('torch'), u.find_spec('escnn'))"
    done = _run([venv.python, "-c", probe], cwd=venv.work, env=venv.env)
    where, numpy_version, torch, escnn = done.stdout.split()
    assert Path(where).is_relative_to(venv.python.parents[1]), where
    assert int(numpy_version.split(".")[0]) >= 2 and (torch, escnn) == ("None", "None")


@pytest.mark.slow
def test_check_gives_the_repositorys_verdicts(venv: Venv) -> None:
    done = _same(venv, "check", "--format", "json", "specs", "corpus")
    assert done.returncode == ExitCode.SPEC  # the invalid corpus
    verdicts = {s["file"]: s["exit_code"] for s in json.loads(done.stdout)["specs"]}
    gallery = [f for f in verdicts if f.count("/") == 1 and f.startswith("specs/")]
    invalid = [f for f in verdicts if f.startswith("corpus/invalid/")]
    assert len(gallery) >= 20 and len(invalid) >= 70
    assert {verdicts[f] for f in gallery} == {ExitCode.OK} and {verdicts[f] for f in invalid} == {ExitCode.SPEC}
    assert verdicts["specs/flagged/so3-gated-vector-to-scalar.yaml"] == ExitCode.FINDINGS
    assert _fresh(venv, "check", FLAGSHIP).returncode == ExitCode.OK


@pytest.mark.slow
def test_schema_and_rules_read_the_packaged_data(venv: Venv) -> None:
    assert {"group", "input", "output", "hidden"} <= set(json.loads(_same(venv, "schema").stdout)["properties"])
    assert len(json.loads(_same(venv, "rules", "--format", "json").stdout)) >= 20
    explained = json.loads(_same(venv, "rules", "EQ202", "--format", "json").stdout)
    assert "EQ202" in explained["example"]  # a spec shipped as package data


@pytest.mark.slow
def test_init_and_design_write_specs_that_pass_check(venv: Venv) -> None:
    for command, args in (("init", ["--group", "o3"]), ("design", ASK)):
        expected = _repository(venv, command, *args).stdout
        written = venv.work / f"{command}.yaml"
        done = _fresh(venv, command, *args, "-o", written.name)
        assert done.returncode == ExitCode.OK, done.stderr
        assert written.read_text() == expected
        assert _fresh(venv, "check", written.name).returncode == ExitCode.OK


def _hint_python(stderr: str, venv: Venv) -> None:
    """The hint installs into the environment eqdesign runs in: its python is the venv's own."""
    pythons = {Path(shlex.split(m)[0]) for m in re.findall(r"(\S+) -m pip install", stderr)}
    assert pythons and all(p.parent == venv.python.parent for p in pythons), stderr


#: (the command as the message names it, its arguments) of every command that needs the build extra
BUILD_EXTRA = [
    ("build", ["build", "spec.yaml", "-o", "out"]),
    ("cache warm", ["cache", "warm", "spec.yaml"]),
    ("design --measure", ["design", *ASK, "--measure"]),
]


def _refusal(done: subprocess.CompletedProcess[str], command: str, needs: str) -> None:
    """Exit 2 with a message that names the command and what it needs: never a traceback or an internal error."""
    assert done.returncode == ExitCode.SPEC, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert f"`eqdesign {command}` needs {needs}, which the check-only install leaves out" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(("command", "args"), BUILD_EXTRA)
def test_the_build_extras_commands_refuse_with_the_install_hint_and_write_nothing(
    venv: Venv, command: str, args: list[str], tmp_path: Path
) -> None:
    shutil.copy(venv.work / FLAGSHIP, tmp_path / "spec.yaml")
    done = _run([venv.eqdesign, *args], cwd=tmp_path, env={**venv.env, "EQDESIGN_CACHE_DIR": str(tmp_path / "cache")})
    _refusal(done, command, "torch and escnn")
    if venv.version == "3.13":  # escnn's numpy<2 has no wheel there: the hint says which Python to use instead
        assert "Python 3.11 or 3.12" in done.stderr and not EXTRA_COMMAND.search(done.stderr)
    else:
        assert f"-m pip install torch --index-url {TORCH_INDEX_URL} && " in done.stderr and EXTRA_COMMAND.search(done.stderr)
        _hint_python(done.stderr, venv)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"]  # no out/, no cache folder


@pytest.mark.slow
def test_verify_refuses_with_the_command_that_installs_torch(venv: Venv, tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"")
    done = _run([venv.eqdesign, "verify", "model.pt"], cwd=tmp_path, env=venv.env)
    _refusal(done, "verify", "torch")  # torch has wheels for every supported Python: the hint is pip's line
    assert f"-m pip install torch --index-url {TORCH_INDEX_URL}" in done.stderr and not EXTRA_COMMAND.search(done.stderr)
    _hint_python(done.stderr, venv)


@pytest.mark.slow
def test_the_hints_build_extra_command_resolves_for_the_installed_wheel(venv: Venv, tmp_path: Path) -> None:
    """No index has eqdesign itself: pip must take the installed one and resolve its build extra (escnn with
    numpy<2, replacing the numpy 2 of the check-only install)."""
    found = EXTRA_COMMAND.search(_fresh(venv, "build", FLAGSHIP).stderr)
    if found is None:
        _no_numpy_1_wheel(venv, tmp_path)
        return
    report = tmp_path / "report.json"
    resolved = _run([*shlex.split(found.group(0)), "--dry-run", "-q", "--report", report], cwd=tmp_path, env=venv.env)
    _pip_or_skip(resolved, venv.python, tmp_path, "pip install --dry-run of the hint's build extra")
    versions = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in json.loads(report.read_text())["install"]}
    assert versions["escnn"] == "1.0.11" and int(versions["numpy"].split(".")[0]) == 1, versions


def _no_numpy_1_wheel(venv: Venv, scratch: Path) -> None:
    """What the hint says where it gives no command holds: the registry has numpy wheels for this Python,
    none below 2, which escnn's lie_learn needs."""
    assert venv.version == "3.13"
    capped = [venv.python, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", scratch, "numpy<2"]
    assert _run(capped, cwd=scratch).returncode != 0
    if not _registry_reachable(venv.python, scratch):
        pytest.skip("the package registry is unreachable from this machine (pip download numpy failed)")


HIDE = "import sys\nfor name in sys.argv.pop(1).split(','):\n    sys.modules[name] = None  # as if not installed\nfrom eqdesign.cli import main\nmain()"


def _without(modules: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI of this checkout in a process where ``modules`` cannot be imported (find_spec answers None)."""
    return _run(
        [sys.executable, "-c", HIDE, modules, *args], cwd=cwd, env=_clean_env(PYTHONPATH=str(ROOT), EQDESIGN_CACHE_DIR=str(cwd / "c"))
    )


@pytest.mark.parametrize(("command", "args"), [*BUILD_EXTRA, ("verify", ["verify", "model.pt"])])
def test_without_torch_a_command_that_needs_it_exits_2_with_the_commands_that_install_it(
    command: str, args: list[str], tmp_path: Path
) -> None:
    shutil.copy(ROOT / FLAGSHIP, tmp_path / "spec.yaml")
    (tmp_path / "model.pt").write_bytes(b"")
    done = _without("torch,escnn", *args, cwd=tmp_path)
    _refusal(done, command, "torch" if command == "verify" else "torch and escnn")
    assert f"{shlex.quote(sys.executable)} -m pip install torch --index-url {TORCH_INDEX_URL}" in done.stderr
    extra = EXTRA_COMMAND.search(done.stderr)
    assert (extra is None) == (command == "verify") and (extra is None or extra.group(1) == shlex.quote(sys.executable))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt", "spec.yaml"]  # no out/, no cache folder


def test_with_torch_but_without_escnn_the_hint_installs_only_the_build_extra(tmp_path: Path) -> None:
    shutil.copy(ROOT / FLAGSHIP, tmp_path / "spec.yaml")
    done = _without("escnn", "build", "spec.yaml", cwd=tmp_path)
    _refusal(done, "build", "torch and escnn")
    assert "(not installed: escnn)" in done.stderr and "pip install torch" not in done.stderr and EXTRA_COMMAND.search(done.stderr)


def test_the_refusal_is_a_json_document_under_format_json(tmp_path: Path) -> None:
    shutil.copy(ROOT / FLAGSHIP, tmp_path / "spec.yaml")
    done = _without("torch,escnn", "build", "--format", "json", "spec.yaml", cwd=tmp_path)
    document = json.loads(done.stdout)
    assert done.returncode == document["exit_code"] == ExitCode.SPEC
    assert EXTRA_COMMAND.search(document["error"]) and "`eqdesign build` needs torch and escnn" in document["error"]
