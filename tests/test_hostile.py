"""Hostile input: eqdesign runs unattended in CI on files anyone can edit.

Whatever a spec file (or a path, or the environment) holds, every command must end with exit 0, 1 or 2 and a
located message (FILE:LINE:COL for spec problems), never a traceback, never exit 3, never a hang; `check`
within a few seconds and a bounded memory; `--format json` always prints strict JSON.

The corpus is data-driven: tests/hostile/*.yaml with their expected answers in tests/hostile/expected.json,
plus cases generated here (too large, binary, or not files at all). Every case runs the real CLI in a fresh
process with a hard timeout, its time and peak memory measured (os.wait4). Known defects are strict xfails
named in expected.json["defects"]: they flip to failures once fixed, so the mark can go.

Bounds are on the CPU time the command itself spent (os.wait4), which a loaded machine does not stretch;
wall-clock timeouts only catch hangs, and are generous (HANG_S), since a busy neighbour can slow a healthy
command severalfold. EQDESIGN_HOSTILE_SLOWDOWN (default 1) scales every bound, for slow machines.
"""

from __future__ import annotations

import codecs
import json
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conftest import HAVE_ESCNN, ROOT
from eqdesign.extras import onnx_missing

HOSTILE = ROOT / "tests" / "hostile"
EXPECTED = json.loads((HOSTILE / "expected.json").read_text(encoding="utf-8"))
DEFECTS: dict[str, str] = EXPECTED["defects"]
SLOWDOWN = float(os.environ.get("EQDESIGN_HOSTILE_SLOWDOWN", "1") or 1)
#: a wall-clock timeout that only a hang reaches, however loaded the machine (a healthy check takes ~1 s)
HANG_S = 120 * SLOWDOWN
WORKERS = 2

pytestmark = pytest.mark.slow

needs_escnn = pytest.mark.skipif(not HAVE_ESCNN, reason="escnn/torch not installed")


# --- running the CLI, bounded ------------------------------------------------------------------------------


@dataclass
class Run:
    argv: list[str]
    rc: int | None
    out: str
    err: str
    elapsed: float
    rss_mb: float
    timed_out: bool
    cpu_s: float = float("nan")  # the command's own CPU time (user + system): what load does not stretch

    def __str__(self) -> str:
        return f"$ {' '.join(self.argv)}\nexit {self.rc} after {self.elapsed:.2f} s ({self.cpu_s:.2f} s CPU), {self.rss_mb:.0f} MB\n--- stdout\n{self.out[-3000:]}\n--- stderr\n{self.err[-3000:]}"


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without its EQDESIGN_* settings (the cache folder aside), plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EQDESIGN_") or k == "EQDESIGN_CACHE_DIR"}
    env.update(PYTHONPATH=str(ROOT), OMP_WAIT_POLICY="PASSIVE")
    env.update(extra or {})
    return env


def eqdesign(*args: str) -> list[str]:
    return [sys.executable, "-m", "eqdesign", *args]


# A small launcher between the test process and the command. Linux counts the memory of the process that
# forks into a command's peak RSS (exec records the old address space's high-water mark), so a command
# forked straight from pytest, which holds torch, would look 400 MB large. The launcher is small, applies the
# address-space limit to the command alone, reports the command's own peak RSS, and dies as the command did.
LAUNCHER = """
import os, resource, signal, sys
rss_file, limit, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
pid = os.fork()
if pid == 0:
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit << 20, limit << 20))
    os.execv(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
with open(rss_file, "w") as handle:
    handle.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
code = os.waitstatus_to_exitcode(status)
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


def run_bounded(
    argv: list[str], *, timeout: float = 20, cwd: Path = ROOT, env: dict[str, str] | None = None, memory_mb: int | None = None
) -> Run:
    """Run argv to its end or to the timeout (then SIGKILL), under an optional address-space limit (so that a
    runaway stops there); its time, and its peak RSS as the kernel counted it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        launch = [sys.executable, "-c", LAUNCHER, rss.name, str(memory_mb or 0), *argv]
        start = time.monotonic()
        proc = subprocess.Popen(
            launch, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, env=env or _env(), start_new_session=True
        )
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            timed_out = True
        elapsed = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        peak, _, cpu = rss.read().strip().partition(" ")
        return Run(
            argv,
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            elapsed,
            int(peak) / 1024 if peak else float("nan"),
            timed_out,
            float(cpu) if cpu else float("nan"),
        )


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def assert_no_crash(run: Run) -> None:
    assert not run.timed_out, f"no answer within the timeout\n{run}"
    assert "Traceback" not in run.out + run.err, str(run)
    assert "internal error" not in run.out + run.err, str(run)
    assert run.rc in (0, 1, 2), str(run)


def xfail(key: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"{key}: {DEFECTS[key]}")


# --- generated cases ---------------------------------------------------------------------------------------

VALID = """\
name: hostile
group: so3
input: "1x vector + 1x 0"
output: "1x vector + 1x 0"
hidden:
  - {nonlinearity: fourier_elu, band_limit: 1, channels: 2}
"""
LAYER = "  - {nonlinearity: fourier_elu, band_limit: 1, channels: 2}\n"


def _write(folder: Path, name: str, data: str | bytes) -> list[str]:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return [str(path)]


def _fifo(folder: Path) -> list[str]:
    os.mkfifo(folder / "pipe.yaml")
    return [str(folder / "pipe.yaml")]


def _link(folder: Path, name: str, target: str) -> list[str]:
    os.symlink(target, folder / name)
    return [str(folder / name)]


def _huge_file(folder: Path) -> list[str]:
    path = folder / "huge.yaml"
    with open(path, "wb") as handle:
        handle.write(VALID.encode())
        chunk = b"# " + b"x" * (1 << 20) + b"\n"
        for _ in range(50):
            handle.write(chunk)
    return [str(path)]


def _alias_amplifier() -> str:
    big = "a" * 900_000
    return f'name: t\ngroup: so3\ninput: "1"\noutput: "1"\nx: &b "{big}"\nhidden:\n' + "  - {nonlinearity: *b, channels: 1}\n" * 200


def _hint_search() -> str:
    outputs = " + ".join(f"1x{k}" for k in range(2, 65))
    layers = '  - {nonlinearity: tensor_product, channels: 1, field: "1"}\n' * 64
    return f'name: t\ngroup: so2\ninput: "1x 1"\noutput: "{outputs}"\nhidden:\n{layers}'


NINES = "9" * 5000
BOMS = {"utf8-bom": ("utf-8", codecs.BOM_UTF8), "utf16-le-bom": ("utf-16-le", codecs.BOM_UTF16_LE)}
BOMS.update({"utf16-be-bom": ("utf-16-be", codecs.BOM_UTF16_BE), "utf32-le-bom": ("utf-32-le", codecs.BOM_UTF32_LE)})

#: name -> folder -> (argv paths, extra environment)
GENERATORS: dict[str, Callable[[Path], tuple[list[str], dict[str, str]]]] = {
    "arabic-digit-multiplicity": lambda d: (_write(d, "s.yaml", VALID.replace('input: "1x vector + 1x 0"', 'input: "٣x vector"')), {}),
    "hidden-10000-layers": lambda d: (_write(d, "s.yaml", VALID + LAYER * 9999), {}),
    "file-50-MB": lambda d: (_huge_file(d), {}),
    "file-1000001-bytes": lambda d: (_write(d, "s.yaml", b"#" * 1_000_001), {}),
    "file-1000000-bytes-of-comment": lambda d: (_write(d, "s.yaml", b"#" * 1_000_000), {}),
    **{name: (lambda d, e=enc, b=bom: (_write(d, "s.yaml", b + VALID.encode(e)), {})) for name, (enc, bom) in BOMS.items()},
    "utf16-le-bom-duplicate-key": lambda d: (_write(d, "s.yaml", codecs.BOM_UTF16_LE + (VALID + "name: again\n").encode("utf-16-le")), {}),
    "utf16-without-bom": lambda d: (_write(d, "s.yaml", VALID.encode("utf-16-le")), {}),
    "utf16-odd-length": lambda d: (_write(d, "s.yaml", codecs.BOM_UTF16_LE + VALID.encode("utf-16-le") + b"\x00"), {}),
    "latin1": lambda d: (_write(d, "s.yaml", VALID.replace("hostile", "caf\xe9").encode("latin-1")), {}),
    "random-bytes": lambda d: (_write(d, "s.yaml", random.Random(0).randbytes(4096)), {}),
    "nul-byte": lambda d: (_write(d, "s.yaml", VALID + "\x00\n"), {}),
    "control-character": lambda d: (_write(d, "s.yaml", VALID + 'description: "bell \x07 here"\n'), {}),
    "deep-nesting-10000": lambda d: (_write(d, "s.yaml", VALID + "description: " + "[" * 10000 + "]" * 10000 + "\n"), {}),
    "name-100000-characters": lambda d: (_write(d, "s.yaml", VALID.replace("name: hostile", "name: " + "a" * 100_000)), {}),
    "integer-5000-digits-seed": lambda d: (_write(d, "s.yaml", VALID + f"tests: {{seed: {NINES}}}\n"), {}),
    "integer-5000-digits-channels": lambda d: (_write(d, "s.yaml", VALID.replace("channels: 2", f"channels: {NINES}")), {}),
    "integer-5000-digits-multiplicity": lambda d: (
        _write(d, "s.yaml", VALID.replace('output: "1x vector', f'output: "{NINES}x vector')),
        {},
    ),
    "integer-5000-digits-irrep": lambda d: (_write(d, "s.yaml", VALID.replace('output: "1x vector + 1x 0"', f'output: "1x {NINES}"')), {}),
    "integer-5000-digits-group-order": lambda d: (_write(d, "s.yaml", VALID.replace("group: so3", f"group: c{NINES}")), {}),
    "irreps-490000-terms": lambda d: (
        _write(d, "s.yaml", VALID.replace('output: "1x vector + 1x 0"', 'output: "' + "+".join(["1"] * 490_000) + '"')),
        {},
    ),
    "repeated-fields-4000": lambda d: (
        _write(d, "s.yaml", f'name: t\ngroup: so3\ninput: "{"+".join(["1"] * 4000)}"\noutput: "{"+".join(["0"] * 4000)}"\n'),
        {},
    ),
    "tensor-product-field-1e9-copies": lambda d: (
        _write(d, "s.yaml", VALID.replace("fourier_elu, band_limit: 1, channels: 2", 'tensor_product, channels: 1, field: "1000000000x2"')),
        {},
    ),
    "tensor-product-64-layers-of-100000-copies": lambda d: (
        _write(
            d,
            "s.yaml",
            VALID.split("hidden:")[0] + "hidden:\n" + '  - {nonlinearity: tensor_product, channels: 4, field: "100000x 1"}\n' * 64,
        ),
        {},
    ),
    "hint-search-64-layers": lambda d: (_write(d, "s.yaml", _hint_search()), {}),
    "aliases-of-a-long-string": lambda d: (_write(d, "s.yaml", _alias_amplifier()), {}),
    "limit-env-5000-digits": lambda d: (_write(d, "s.yaml", VALID), {"EQDESIGN_LIMIT_MAX_HIDDEN": NINES}),
    "fifo": lambda d: (_fifo(d), {}),
    "dev-zero": lambda d: (["/dev/zero"], {}),
    "dev-urandom": lambda d: (["/dev/urandom"], {}),
    "directory-named-x.yaml": lambda d: ((d / "x.yaml").mkdir() or [str(d / "x.yaml")], {}),
    "symlink-to-dev-zero": lambda d: (_link(d, "zero.yaml", "/dev/zero"), {}),
    "symlink-to-itself": lambda d: (_link(d, "self.yaml", "self.yaml"), {}),
    "dangling-symlink": lambda d: (_link(d, "dangling.yaml", "nowhere.yaml"), {}),
    "empty-argument": lambda d: ([""], {}),
}
assert set(GENERATORS) == set(EXPECTED["generated"]), "expected.json and GENERATORS disagree"
STATIC_FILES = {p.name for p in HOSTILE.glob("*.yaml")}
assert set(EXPECTED["check"]) == STATIC_FILES, f"tests/hostile and expected.json disagree: {STATIC_FILES ^ set(EXPECTED['check'])}"


@dataclass
class Case:
    name: str
    expect: dict[str, Any]
    paths: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path = ROOT

    @property
    def timeout(self) -> float:
        """A hang's bound (wall clock): never below HANG_S, whatever a case asks."""
        return max(float(self.expect.get("timeout_s", 20)) * SLOWDOWN, HANG_S)

    @property
    def bound(self) -> float:
        return float(self.expect.get("bound_s", 5)) * SLOWDOWN

    def argv(self, fmt: str) -> list[str]:
        return eqdesign("check", *self.paths, "--format", fmt)


def _cases() -> dict[str, dict[str, Any]]:
    return {**{f"hostile/{k}": v for k, v in EXPECTED["check"].items()}, **{f"generated/{k}": v for k, v in EXPECTED["generated"].items()}}


CASES = _cases()


def _params(human: bool = False) -> list[Any]:
    out = []
    for name, expect in CASES.items():
        if human and not expect.get("human"):
            continue
        marks = [xfail(expect["xfail"])] if expect.get("xfail") else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


class Corpus:
    """Materialises the selected cases and runs them two at a time, each in its own bounded process (the
    human-format cases share one process: several files at once is a case of its own)."""

    def __init__(self, folder: Path, wanted: list[tuple[str, str]]) -> None:
        self.folder = folder
        self.pool = ThreadPoolExecutor(max_workers=WORKERS)
        self.runs: dict[tuple[str, str], Future[Run]] = {}
        human = [name for name, fmt in wanted if fmt == "human"]
        if human:
            assert all(name.startswith("hostile/") for name in human), "human cases are files of tests/hostile"
            names = [name.partition("/")[2] for name in human]
            batch = self.pool.submit(run_bounded, eqdesign("check", *names), timeout=HANG_S, cwd=HOSTILE, memory_mb=1000)
            self.runs.update({(name, "human"): batch for name in human})
        for name, fmt in wanted:
            if fmt == "json":
                self.submit(name)

    def case(self, name: str) -> Case:
        kind, _, short = name.partition("/")
        case = Case(name, CASES[name])
        if kind == "hostile":
            case.paths, case.cwd = [short], HOSTILE
        else:
            folder = self.folder / short
            if not folder.exists():
                folder.mkdir(parents=True)
                paths, env = GENERATORS[short](folder)
                (folder / ".argv.json").write_text(json.dumps([paths, env]))
            case.paths, case.env = json.loads((folder / ".argv.json").read_text())
            case.cwd = folder
        return case

    def submit(self, name: str) -> Future[Run]:
        if (name, "json") not in self.runs:
            case = self.case(name)
            self.runs[name, "json"] = self.pool.submit(
                run_bounded, case.argv("json"), timeout=case.timeout, cwd=case.cwd, env=_env(case.env)
            )
        return self.runs[name, "json"]

    def get(self, name: str, fmt: str = "json") -> tuple[Case, Run]:
        return self.case(name), (self.submit(name) if fmt == "json" else self.runs[name, fmt]).result()


@pytest.fixture(scope="module")
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The cases this session selected, started at once (so that -k runs only what it names)."""
    wanted = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and item.module is sys.modules[__name__] and "case" in callspec.params:
            fmt = "human" if item.originalname == "test_check_human_locates" else "json"
            wanted.append((callspec.params["case"], fmt))
    c = Corpus(tmp_path_factory.mktemp("hostile"), wanted)
    yield c
    c.pool.shutdown(wait=True, cancel_futures=True)


# --- the corpus --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params())
def test_check_answers_hostile_input(corpus: Corpus, case: str) -> None:
    spec, run = corpus.get(case, "json")
    expect = spec.expect
    assert_no_crash(run)
    allowed = expect["rc"] if isinstance(expect["rc"], list) else [expect["rc"]]
    assert run.rc in allowed, str(run)
    report = strict_json(run.out)
    findings = [f for s in report["specs"] for f in s["findings"]]
    for f in findings:
        assert f["line"] >= 1 and f["column"] >= 1 and f["message"].strip(), f
    if "usage" in expect:
        assert any(expect["usage"] in u for u in report["usage_errors"]), str(run)
    if expect.get("rule"):
        line, col = expect.get("at") or [None, None]
        match = [
            f
            for f in findings
            if f["rule_id"] == expect["rule"]
            and line in (None, f["line"])
            and col in (None, f["column"])
            and expect.get("contains", "") in f["message"]
        ]
        assert match, f"no {expect['rule']} at {line}:{col} with {expect.get('contains')!r}\n{run}"
    elif expect.get("at"):
        line, col = expect["at"]
        assert any(f["line"] == line and col in (None, f["column"]) for f in findings), str(run)
    assert run.cpu_s < spec.bound, f"took {run.cpu_s:.1f} s of CPU (bound {spec.bound:.0f} s)\n{run}"
    assert run.rss_mb < expect.get("rss_mb", 500), f"peak RSS {run.rss_mb:.0f} MB\n{run}"


VERDICTS = {0: "ok", 1: "fails the check", 2: "spec error"}


@pytest.mark.parametrize("case", _params(human=True))
def test_check_human_locates(corpus: Corpus, case: str) -> None:
    spec, run = corpus.get(case, "human")
    assert not run.timed_out and "Traceback" not in run.out + run.err and run.rc in (1, 2), str(run)
    path = spec.paths[0]
    line, col = spec.expect["at"]
    assert f"{path}:{line}:{col}: " in run.out and f"[{spec.expect['rule']} " in run.out, str(run)
    assert f"{path}: {VERDICTS[spec.expect['rc']]} (" in run.out, str(run)
    assert run.cpu_s < 2 * spec.bound, str(run)


def test_python_tags_execute_nothing(tmp_path: Path) -> None:
    for name in ("tag-python-apply.yaml", "tag-python-new.yaml", "tag-python-name.yaml"):
        (tmp_path / name).write_bytes((HOSTILE / name).read_bytes())
    run = run_bounded(eqdesign("check", "tag-python-apply.yaml", "tag-python-new.yaml", "tag-python-name.yaml"), cwd=tmp_path)
    assert_no_crash(run)
    assert run.rc == 2 and not (tmp_path / "hostile-pwned").exists(), str(run)


# --- paths: loops, special files, glob characters ----------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder with one good spec and every trap a walk can meet."""
    specs = tmp_path / "specs"
    (specs / "deeper").mkdir(parents=True)
    (specs / "a.yaml").write_text(VALID)
    os.symlink("..", specs / "up")  # a loop to the parent
    os.symlink("../specs", specs / "deeper" / "again")  # a loop through a sibling name
    os.symlink("loop.yaml", specs / "loop.yaml")  # a file link to itself
    os.symlink("nowhere.yaml", specs / "dangling.yaml")
    os.symlink("/dev/zero", specs / "zero.yaml")
    os.mkfifo(specs / "pipe.yaml")
    (specs / "dir.yaml").mkdir()
    return tmp_path


@pytest.mark.parametrize("pattern", ["specs", "specs/", "specs/**", "specs/**/*.yaml", "**/*.yaml", "specs/*", "*/*.yaml"])
def test_walks_and_globs_end_through_loops_and_special_files(tree: Path, pattern: str) -> None:
    run = run_bounded(eqdesign("check", pattern, "--format", "json"), cwd=tree, timeout=HANG_S)
    assert_no_crash(run)
    report = strict_json(run.out)
    assert run.rc == 0, str(run)
    assert [Path(s["file"]).name for s in report["specs"]] == ["a.yaml"], str(run)
    assert run.cpu_s < 5 * SLOWDOWN, str(run)


def test_glob_characters_in_real_file_names(tmp_path: Path) -> None:
    (tmp_path / "a[1].yaml").write_text(VALID)
    (tmp_path / "a1.yaml").write_text("not: [a spec\n")
    (tmp_path / "*.yaml").write_text(VALID)
    (tmp_path / "b?.yaml").write_text(VALID)
    for literal in ("a[1].yaml", "*.yaml", "b?.yaml"):
        run = run_bounded(eqdesign("check", literal, "--format", "json"), cwd=tmp_path)
        assert_no_crash(run)
        assert run.rc == 0 and [s["file"] for s in strict_json(run.out)["specs"]] == [literal], str(run)
    run = run_bounded(eqdesign("check", "a[1-9].yaml", "--format", "json"), cwd=tmp_path)  # a real pattern: a1.yaml
    assert run.rc == 2 and [s["file"] for s in strict_json(run.out)["specs"]] == ["a1.yaml"], str(run)


def test_file_names_cannot_inject_lines_or_escapes(tmp_path: Path) -> None:
    (tmp_path / "a\n::error file=x::injected\n.yaml").write_text(VALID)
    (tmp_path / "b\x1b[2J\x1b[31m.yaml").write_text("name: t\n")
    run = run_bounded(eqdesign("check", str(tmp_path)), cwd=tmp_path)
    assert_no_crash(run)
    assert run.rc == 2, str(run)
    assert not [line for line in run.out.splitlines() if line.startswith("::")], run.out
    assert "\x1b" not in run.out, repr(run.out)


# --- other commands ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, rc",
    [
        (["groups", "c8", "--format", "json"], 0),
        (["groups", "cyclic", "--n", "8", "--format", "json"], 0),
        (["groups", "nosuch", "--format", "json"], 2),
        (["groups", "c99999999999999", "--format", "json"], 2),
        (["groups", "so2", "--max-freq", "1000000000", "--format", "json"], 2),
        (["rules", "--format", "json"], 0),
    ],
    ids=["c8", "cyclic-n-8", "unknown", "c-huge-order", "so2-max-freq-1e9", "rules"],
)
def test_groups_and_rules_answer_in_json(args: list[str], rc: int, request: pytest.FixtureRequest) -> None:
    marks: dict[str, str] = {}  # no known defects left here
    case = request.node.callspec.id
    if case in marks:
        request.applymarker(pytest.mark.xfail(strict=True, reason=marks[case]))
    run = run_bounded(eqdesign(*args), timeout=HANG_S, memory_mb=400)
    assert_no_crash(run)
    assert run.rc == rc, str(run)
    doc = strict_json(run.out)
    if rc == 2:
        assert doc["exit_code"] == 2 and doc["error"], str(run)


def test_cache_info_answers_in_json_for_odd_cache_folders(tmp_path: Path) -> None:
    odd = tmp_path / "odd"
    (odd / "sub").mkdir(parents=True)
    os.symlink("..", odd / "sub" / "up")
    os.symlink("nowhere", odd / "dangling")
    os.mkfifo(odd / "pipe")
    (odd / "file").write_text("x")
    for where, rc in ((odd, 0), (odd / "file", 2)):  # a file is no cache folder: exit 2, said so
        run = run_bounded(eqdesign("cache", "info", "--format", "json"), env=_env({"EQDESIGN_CACHE_DIR": str(where)}), timeout=HANG_S)
        assert_no_crash(run)
        doc = strict_json(run.out)
        assert run.rc == rc and doc["path"] == str(where) and bool(doc["problems"]) == bool(rc), str(run)
    run = run_bounded(
        eqdesign("cache", "warm", str(HOSTILE / "empty.yaml"), "--format", "json"), env=_env({"EQDESIGN_CACHE_DIR": str(odd)})
    )
    assert_no_crash(run)
    assert run.rc == 2 and strict_json(run.out)["problems"], str(run)


def test_check_and_build_usage_errors_answer_in_json(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    os.mkfifo(tmp_path / "pipe.yaml")
    for args in (
        ["check", "missing.yaml", "pipe.yaml", ""],
        ["build", "missing.yaml", str(HOSTILE / "duplicate-key.yaml"), str(HOSTILE / "band-limit-12-so3.yaml")],
        ["build", str(ROOT / "specs" / "so3-vector-mlp.yaml"), "-o", "afile"],
    ):
        run = run_bounded(eqdesign(*args, "--format", "json"), cwd=tmp_path)
        assert_no_crash(run)
        doc = strict_json(run.out)
        assert run.rc == 2 and doc["summary"]["exit_code"] == 2, str(run)
        assert doc["usage_errors"], str(run)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "pipe.yaml"]


@pytest.mark.parametrize(
    "args", [["check"], ["verify"], ["groups", "so3", "--max-freq", "x"], ["rules", "--bogus"], ["cache", "info", "--bogus"]]
)
def test_command_line_errors_answer_in_json(args: list[str]) -> None:
    run = run_bounded(eqdesign(*args, "--format", "json"))
    assert_no_crash(run)
    assert run.rc == 2 and strict_json(run.out)["exit_code"] == 2, str(run)


# --- output streams ----------------------------------------------------------------------------------------


def _closed_stdout(*args: str) -> list[str]:
    boot = "import os, sys; os.close(1); os.execv(sys.executable, [sys.executable, '-m', 'eqdesign', *sys.argv[1:]])"
    return [sys.executable, "-c", boot, *args]


@pytest.mark.parametrize("args", [["schema"], ["--version"]])
def test_closed_stdout_simple_commands(args: list[str]) -> None:
    run = run_bounded(_closed_stdout(*args))
    assert_no_crash(run)


@pytest.mark.parametrize(
    "args", [["check", "specs/so3-vector-mlp.yaml"], ["check", "specs/so3-vector-mlp.yaml", "--format", "json"], ["rules"]]
)
def test_closed_stdout_keeps_the_exit_code(args: list[str]) -> None:
    run = run_bounded(_closed_stdout(*args))
    assert_no_crash(run)
    assert run.rc == 0, str(run)


ASCII = {"PYTHONIOENCODING": "ascii", "LC_ALL": "C", "LANG": "C"}


@pytest.mark.parametrize(
    "args, rc",
    [
        (["check", "specs/so3-vector-mlp.yaml", "--format", "json"], 0),
        (["check", "tests/hostile/irrep-superscript.yaml", "--format", "json"], 2),
        (["groups", "o3"], 0),
        (["rules"], 0),
        (["check", "tests/hostile/irrep-superscript.yaml"], 2),
        (["check", "specs/so3-vector-mlp.yaml"], 0),
    ],
    ids=["check-json", "check-json-non-ascii-input", "groups", "rules", "check-non-ascii-input", "check-human"],
)
def test_ascii_only_stdout(args: list[str], rc: int, request: pytest.FixtureRequest) -> None:
    run = run_bounded(eqdesign(*args), env=_env(ASCII))
    assert_no_crash(run)
    assert run.rc == rc and run.out.isascii(), str(run)


# --- signals -----------------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _as_foreground() -> None:
    """SIGINT as a terminal's foreground process gets it: a shell that starts the test-suite in the
    background (``cmd &``) leaves SIGINT ignored, and that disposition would pass on to eqdesign."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_sigint_during_check_exits_130_quietly(tmp_path: Path) -> None:
    for i in range(2000):
        (tmp_path / f"s{i:04d}.yaml").write_text(VALID)
    # stdout goes to a file: a pipe nobody reads until the end fills up and blocks the child in write(),
    # where its CPU clock stops and the interrupt lands at a random point of the output
    with (tmp_path / "stdout.txt").open("w+") as stdout:
        proc = subprocess.Popen(
            eqdesign("check", str(tmp_path)),
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=_env(),
            cwd=ROOT,
            text=True,
            preexec_fn=_as_foreground,
        )
        start = time.monotonic()
        while _cpu_seconds(proc.pid) < 1.0 and time.monotonic() - start < HANG_S and proc.poll() is None:
            time.sleep(0.02)  # past the imports: into the checks (startup itself is not eqdesign's to guard)
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=HANG_S)
        finally:
            proc.kill()
        stdout.seek(0)
        out = stdout.read()
    assert proc.returncode == 130, (proc.returncode, err[-2000:])
    assert "Traceback" not in out + err


TINY = 'name: tiny\ngroup: c2\ninput: "1x1"\noutput: "1x0 + 1x1"\nhidden:\n  - {nonlinearity: elu, channels: 1}\n'
ARTIFACTS = {"tiny.pt", "tiny.pt2", "tiny.report.json", "tiny.md"} | ({"tiny.onnx"} if not onnx_missing() else set())


def _interrupt_build(tmp_path: Path, sig: int) -> tuple[int | None, str, set[str]]:
    """Start a build, wait for its export step, send sig; exit code, stderr and what the -o folder holds."""
    (tmp_path / "tiny.yaml").write_text(TINY)
    out_dir = tmp_path / "out"
    argv = eqdesign("build", "tiny.yaml", "-o", str(out_dir), "--no-influence")
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(), cwd=tmp_path, text=True, preexec_fn=_as_foreground
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stderr or ()], daemon=True)
    reader.start()
    seen: list[str] = []
    deadline = time.monotonic() + 120 * SLOWDOWN
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            seen.append(lines.get(timeout=0.5))
        except queue.Empty:
            continue
        if "testing equivariance" in seen[-1]:  # printed as the export step begins
            break
    time.sleep(0.3)
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    finally:
        proc.kill()
    reader.join(timeout=5)
    err = "".join(seen + list(lines.queue))
    left = {p.name for p in out_dir.iterdir()} if out_dir.exists() else set()
    return proc.returncode, err, left


@needs_escnn
@pytest.mark.parametrize("sig, rc", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_signal_during_build_leaves_nothing_half_written(tmp_path: Path, sig: int, rc: int) -> None:
    code, err, left = _interrupt_build(tmp_path, sig)
    assert "Traceback" not in err, err
    assert not {n for n in left if n.startswith(".eqdesign-tmp-")}, left
    if left == ARTIFACTS:  # the build got there first: it may even have exited before the signal
        assert code in (0, rc), (code, err[-2000:])
    else:
        assert left == set() and code == rc, (code, left, err[-2000:])


@needs_escnn
def test_interrupt_between_renames_leaves_no_temporary_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eqdesign import atomic

    real, calls = os.replace, []

    def flaky(src: Any, dst: Any) -> None:
        calls.append(src)
        if len(calls) == 2:
            raise KeyboardInterrupt  # what SIGINT raises wherever Python happens to be
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", flaky)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomically(tmp_path, {"m.pt": b"1", "m.pt2": b"2", "m.md": b"3"})
    left = sorted(p.name for p in tmp_path.iterdir())
    assert not [n for n in left if n.startswith(".eqdesign-tmp-")], left


# --- build and verify: a real artifact, then tampered copies ------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("built")
    (folder / "tiny.yaml").write_text(TINY)
    out = folder / "out"
    out.mkdir()
    stale = out / ".eqdesign-tmp-4194303-abc-tiny.pt"  # a dead writer's leftover (pid above the usual pid_max)
    stale.write_text("")
    run = run_bounded(eqdesign("build", "tiny.yaml", "-o", "out", "--no-influence", "--format", "json"), cwd=folder, timeout=300)
    assert_no_crash(run)
    assert run.rc == 0 and {p.name for p in out.iterdir()} == ARTIFACTS, str(run)
    strict_json(run.out)
    return out


def _retouched(src: Path, dst: Path, edit: Callable[[dict[str, str]], None], rehash: bool, module: Any = None) -> str:
    import torch

    from eqdesign.export.artifacts import HASHED_EXTRAS, load_artifact, with_hashes

    loaded, raw = load_artifact(src)
    extras = {k: v.decode() if isinstance(v, bytes) else v for k, v in raw.items()}
    edit(extras)
    if rehash:
        provenance = json.loads(extras["provenance.json"])
        provenance.pop("extras_sha256", None)
        extras = with_hashes({k: extras[k] for k in HASHED_EXTRAS}, provenance)
    torch.jit.save(module(loaded) if module else loaded, str(dst), _extra_files=extras)
    return dst.name


def _zeroed(module: Any) -> Any:
    """Every parameter zeroed (the zero map commutes with every group element), the extras kept byte for byte."""
    import torch

    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
    return module


@needs_escnn
def test_verify_answers_tampered_artifacts_in_strict_json(built: Path, tmp_path: Path) -> None:
    import torch

    def reps(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, str]], None]:
        def edit(extras: dict[str, str]) -> None:
            r = json.loads(extras["representations.json"])
            change(r)
            extras["representations.json"] = json.dumps(r)  # NaN and Infinity as Python's json writes them

        return edit

    class NaNOut(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x) * float("nan")

    src = built / "tiny.pt"
    expected = {
        "tiny.pt": (True, True),
        "tiny.pt2": (True, True),
        _retouched(src, tmp_path / "nan-matrix.pt", reps(lambda r: r["input"][0][0].__setitem__(0, float("nan"))), True): (False, True),
        _retouched(src, tmp_path / "inf-tolerance.pt", reps(lambda r: r.__setitem__("tolerance", float("inf"))), True): (False, True),
        _retouched(src, tmp_path / "edited-spec.pt", lambda e: e.__setitem__("spec.yaml", e["spec.yaml"] + "# edited\n"), False): (
            False,
            True,
        ),
        _retouched(src, tmp_path / "nan-output.pt", lambda e: None, False, lambda m: torch.jit.script(NaNOut(m))): (False, True),
        _retouched(src, tmp_path / "zeroed.pt", lambda e: None, False, _zeroed): (False, True),
        _retouched(src, tmp_path / "bad-provenance.pt", lambda e: e.__setitem__("provenance.json", "{not json"), False): (False, False),
    }
    for name in ("tiny.pt", "tiny.pt2"):
        (tmp_path / name).write_bytes((built / name).read_bytes())
    (tmp_path / "junk.pt").write_text("not a model")
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "folder.pt").mkdir()
    expected.update({"junk.pt": (False, False), "empty.pt": (False, False), "folder.pt": (False, False), "missing.pt": (False, False)})
    run = run_bounded(eqdesign("verify", *expected, "--format", "json"), cwd=tmp_path, timeout=120)
    assert_no_crash(run)
    doc = strict_json(run.out)
    assert run.rc == 2 and doc["summary"]["exit_code"] == 2, str(run)
    got = {Path(m["path"]).name: (m["ok"], m["readable"]) for m in doc["models"]}
    assert got == expected, str(run)
    messages = {Path(m["path"]).name: m["message"] for m in doc["models"]}
    assert "NaN" in messages["nan-matrix.pt"], messages
    # a wrapped or zeroed model is not the one built: its weights (names or values) and code do not match the build's
    assert "not the one built" in messages["nan-output.pt"] and "weights" in messages["zeroed.pt"], messages
    assert "code" not in messages["zeroed.pt"].split("not the one built")[1], messages
    assert all(m["max_rel"] is None or m["max_rel"] >= 0 for m in doc["models"])
    assert not (built / ".eqdesign-tmp-4194303-abc-tiny.pt").exists(), "the stale temporary file was not swept"


@needs_escnn
def test_verify_pt2_junk_prints_no_traceback(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from eqdesign.commands.verify import verify_one  # in process: the same code as `verify`, without a torch start-up

    (tmp_path / "junk.pt2").write_text("not a model")
    result = verify_one(str(tmp_path / "junk.pt2"))
    out, err = capfd.readouterr()
    assert result.exit_code == 2 and not result.readable
    assert "Traceback" not in out + err, err


@needs_escnn
def test_verify_refuses_a_fifo(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.pt")
    run = run_bounded(eqdesign("verify", "pipe.pt", "--format", "json"), cwd=tmp_path, timeout=HANG_S)
    assert_no_crash(run)
    assert run.rc == 2 and strict_json(run.out)["models"][0]["readable"] is False


@needs_escnn
def test_build_out_folder_below_a_file_is_a_usage_error(tmp_path: Path) -> None:
    from eqdesign.commands.build import BuildOptions, build_specs  # in process: the same code as `build`, without a torch start-up

    (tmp_path / "tiny.yaml").write_text(TINY)
    (tmp_path / "afile").write_text("")
    batch = build_specs(
        [str(tmp_path / "tiny.yaml")],
        str(tmp_path / "afile" / "sub"),
        lambda label: nullcontext(lambda step: None),
        BuildOptions(influence=False),
    )
    assert batch.exit_code == 2, [b.failures for b in batch.builds] + batch.usage_errors
    assert all(not b.artifacts for b in batch.builds)
