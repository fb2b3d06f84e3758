"""Faults outside the spec: a cache folder that cannot be used, and a signal that lands inside escnn.

The cache folder only saves time, so none of its faults may end a command as an internal error (exit 3):
`build` goes on without it and warns; `cache info|clear|warm` say what is wrong (exit 2). The faults are
real: a file where the folder should be, a path under /proc, and, where this process may mount file systems
(root with CAP_SYS_ADMIN, as in the project's containers), a read-only and a full tmpfs. A signal is sent
for real to a real `eqdesign` process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

# A spec whose build computes a Thomson grid, which escnn caches (most specs write nothing there), and passes.
THOMSON = """\
name: thomson-cached
group: so3
input: "1x1"
output: "1x1"
hidden:
  - {nonlinearity: quotient_fourier_elu, band_limit: 1, channels: 1, grid: {type: thomson, n: 6}}
tests: {samples: 4, tolerance: 1.0}
"""
WARNING = "eqdesign: warning: the cache folder"


def _env(cache: Path | str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EQDESIGN_")}
    return dict(env, EQDESIGN_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT))


def _eqdesign(*args: str, cache: Path | str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    launched = _start(*args, cache=cache, prefix=prefix)
    out, err = launched.communicate(timeout=600)
    return subprocess.CompletedProcess(launched.args, launched.returncode, out, err)


def _start(*args: str, cache: Path | str, prefix: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """The CLI in a fresh process under this cache folder (``prefix``: a command that runs it, unshare say)."""
    argv = [*prefix, sys.executable, "-m", "eqdesign", *args]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(cache), cwd=ROOT)


def _cached_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("output.pkl") if p.is_file()]


def _can_mount() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return probe.returncode == 0


def _in_mount(folder: Path, options: str, then: str = "") -> tuple[str, ...]:
    """A prefix that runs the command in a private mount namespace, with a tmpfs mounted on ``folder``."""
    script = f'mount -t tmpfs -o {options} tmpfs "$0" && {then or "true"} && exec "$@"'
    return ("unshare", "-m", "sh", "-c", script, str(folder))


# -- cache info / clear / warm ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["info", "clear"])
def test_cache_commands_refuse_a_file_for_a_folder(tmp_path: Path, command: str) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    for where in (afile, afile / "below"):
        proc = _eqdesign("cache", command, "--format", "json", cache=where)
        doc = json.loads(proc.stdout)
        assert proc.returncode == 2 and doc["exit_code"] == 2, proc.stderr
        assert doc["problems"] == [f"the cache folder {where} cannot be made: {afile} is not a folder; set EQDESIGN_CACHE_DIR to a folder"]
        assert afile.read_text() == "keep me"
    too_long = tmp_path / ("x" * 300) / "cache"  # a name longer than the file system allows (255 bytes)
    proc = _eqdesign("cache", command, "--format", "json", cache=too_long)
    assert proc.returncode == 2 and json.loads(proc.stdout)["problems"] == [
        f"the cache folder {too_long} cannot be made: file name too long; set EQDESIGN_CACHE_DIR to a folder"
    ], proc.stderr


@pytest.mark.skipif(not _can_mount(), reason="needs a private mount namespace (root with CAP_SYS_ADMIN)")
def test_cache_clear_says_what_it_could_not_delete(tmp_path: Path) -> None:
    """A read-only cache folder (a restored CI cache): clear must not report success while the files stay."""
    folder = tmp_path / "ro"
    folder.mkdir()
    fill = 'mkdir -p "$0/escnn/joblib" && echo x > "$0/escnn/joblib/output.pkl" && mount -o remount,ro "$0"'
    proc = _eqdesign("cache", "clear", "--format", "json", cache=folder, prefix=_in_mount(folder, "size=1m", fill))
    doc = json.loads(proc.stdout)
    assert proc.returncode == 2 and doc["files"] == 1, proc.stderr
    assert len(doc["problems"]) == 1 and "could not delete" in doc["problems"][0] and "read-only" in doc["problems"][0]


# -- build without its cache ----------------------------------------------------------------------------


def _faults(tmp_path: Path) -> dict[str, tuple[Path | str, tuple[str, ...]]]:
    """Cache folders that cannot be used, each with the command prefix that makes it so."""
    afile = tmp_path / "afile"
    afile.write_text("")
    cases: dict[str, tuple[Path | str, tuple[str, ...]]] = {
        "file": (afile, ()),
        "below-a-file": (afile / "cache", ()),
        "proc": ("/proc/self/eqdesign-cache", ()),
        "name-too-long": (tmp_path / ("x" * 300), ()),
    }
    if _can_mount():
        for name, options, then in (
            ("read-only", "ro", ""),
            ("read-only-with-folder", "size=1m", 'mkdir "$0/escnn" && mount -o remount,ro "$0"'),
            ("full", "size=64k", 'mkdir "$0/escnn" && (dd if=/dev/zero of="$0/fill" bs=4k 2>/dev/null || true)'),
        ):
            folder = tmp_path / name
            folder.mkdir()
            cases[name] = (folder, _in_mount(folder, options, then))
    return cases


@pytest.mark.escnn
@pytest.mark.slow
def test_build_goes_on_without_a_cache_it_cannot_use(tmp_path: Path, write_spec) -> None:
    spec = write_spec(THOMSON, "thomson.yaml")
    args = ("build", str(spec), "--dry-run", "--no-influence", "--format", "json")
    good = tmp_path / "good-cache"
    baseline = _eqdesign(*args, cache=good)
    assert baseline.returncode == 0, baseline.stdout + baseline.stderr
    assert _cached_files(good), "the spec must write the cache, or this test proves nothing"
    assert WARNING not in baseline.stderr
    faults = _faults(tmp_path)
    # the builds are independent: run them side by side (each spends most of its time in escnn alone)
    running = {name: _start(*args, cache=cache, prefix=prefix) for name, (cache, prefix) in faults.items()}
    for name, launched in running.items():
        cache = faults[name][0]
        out, err = launched.communicate(timeout=600)
        shown = f"{name}: exit {launched.returncode}\n{err[-2000:]}"
        assert launched.returncode == 0, shown
        doc = json.loads(out)
        assert doc["summary"] == {"specs": 1, "built": 1, "exit_code": 0}, shown
        assert f"{WARNING} {cache} cannot be used" in err, shown
        assert "internal error" not in err + out, shown


@pytest.mark.escnn
@pytest.mark.slow
def test_cache_warm_reports_a_cache_it_could_not_fill(tmp_path: Path, write_spec) -> None:
    spec = write_spec(THOMSON, "thomson.yaml")
    faults = _faults(tmp_path)
    cache, prefix = faults.get("full", faults["proc"])
    proc = _eqdesign("cache", "warm", str(spec), "--format", "json", cache=cache, prefix=prefix)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 2 and doc["warmed"] == [str(spec)], proc.stderr
    assert doc["problems"] and all(p.startswith(f"the cache folder {cache} cannot be used") for p in doc["problems"])


# -- signals --------------------------------------------------------------------------------------------

# Runs `eqdesign` in-process with one change: the first time escnn's _check_param (whose bare `except:`
# swallows every exception) converts an element, this process sends itself SIGTERM, so the handler's
# exception is raised inside that try block. The marker file says whether the signal was sent, and whether
# escnn then swallowed it and went on (it returns False, "not an element").
LANDING = """
import os, signal, sys
import eqdesign.escnn_backend.compat  # escnn, imported as eqdesign imports it
from escnn.group.groups import so3_utils

marker, args = sys.argv[1], sys.argv[2:]
to_scipy, check = so3_utils._to_scipy_rot, so3_utils._check_param

def landing(*a, **k):
    if sys._getframe(1).f_code.co_name == "_check_param" and not os.path.exists(marker):
        open(marker, "w").write("sent")
        os.kill(os.getpid(), signal.SIGTERM)
    return to_scipy(*a, **k)

def watched(*a, **k):
    ok = check(*a, **k)
    if not ok and os.path.exists(marker) and open(marker).read() == "sent":
        open(marker, "w").write("swallowed")
    return ok

so3_utils._to_scipy_rot = landing
for module in list(sys.modules.values()):
    if getattr(module, "_check_param", None) is check:
        module._check_param = watched
sys.argv = ["eqdesign", *args]
from eqdesign.cli import main
main()
"""


@pytest.mark.escnn
def test_sigterm_swallowed_by_escnn_ends_as_interrupted(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    spec = ROOT / "specs" / "so3-vector-mlp.yaml"
    args = ["build", str(spec), "--dry-run", "--no-influence", "--format", "json"]
    proc = subprocess.run(
        [sys.executable, "-c", LANDING, str(marker), *args], capture_output=True, text=True, env=_env(tmp_path / "cache"), timeout=600
    )
    assert marker.read_text() == "swallowed", "the signal must land inside escnn's bare except, or this test proves nothing"
    assert proc.returncode == 128 + signal.SIGTERM, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "eqdesign: interrupted (SIGTERM)" in proc.stderr
    assert "internal error" not in proc.stdout + proc.stderr


@pytest.mark.escnn
def test_sigterm_during_the_equivariance_tests_ends_as_interrupted(tmp_path: Path) -> None:
    """From outside, as CI cancels a job: sent once the tests on group elements (escnn's code) have begun."""
    spec = ROOT / "specs" / "so3-vector-mlp.yaml"
    argv = [sys.executable, "-m", "eqdesign", "build", str(spec), "-o", str(tmp_path / "out"), "--format", "json"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path / "cache"), cwd=ROOT)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # the progress lines: a step's timing is printed when the next step starts
        seen.append(line)
        if line.strip().startswith("compiling to plain torch:"):
            proc.send_signal(signal.SIGTERM)
            break
    out, err = proc.communicate(timeout=600)
    err = "".join(seen) + err
    assert proc.returncode == 128 + signal.SIGTERM, out[-2000:] + err[-2000:]
    assert "internal error" not in out + err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())  # nothing half-written
