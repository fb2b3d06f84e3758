"""`eqdesign train`'s data: every file it cannot use is refused before anything is built or written, exit 2,
with the file and the rows, lines or columns at fault. These tests need neither torch nor escnn: the data is
checked first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, invoke_cli
from eqdesign.training.data import LIMIT_VARIABLE, DataProblem, load_data

SPEC = str(ROOT / "examples" / "dipole" / "dipole.yaml")  # input_dim 16, output_dim 3
IN, OUT = 16, 3


def _npz(folder: Path, name: str = "data.npz", rows: int = 20, **arrays: np.ndarray) -> Path:
    rng = np.random.default_rng(0)
    content = {"x": rng.normal(size=(rows, IN)), "y": rng.normal(size=(rows, OUT))}
    content.update(arrays)
    path = folder / name
    np.savez(path, **content)
    return path


def _csv(folder: Path, text: str) -> Path:
    path = folder / "data.csv"
    path.write_text(text)
    return path


HEADER = ",".join([f"x{i}" for i in range(IN)] + [f"y{i}" for i in range(OUT)])
ROW = ",".join(["0.5"] * (IN + OUT))


def test_a_good_npz_and_csv_read_as_the_same_numbers(tmp_path: Path):
    x = np.arange(2 * IN, dtype=np.float32).reshape(2, IN)
    y = -np.arange(2 * OUT, dtype=np.float32).reshape(2, OUT)
    npz = _npz(tmp_path, rows=2, x=x, y=y)
    header = [f"y{i}" for i in range(OUT)] + [f"x{i}" for i in range(IN)]  # any column order
    lines = [",".join(header)] + [",".join(str(v) for v in [*y[r], *x[r]]) for r in range(2)]
    table = _csv(tmp_path, "\n".join(lines) + "\n\n")  # a trailing blank line is no row
    a, b = load_data(str(npz), IN, OUT), load_data(str(table), IN, OUT)
    assert np.array_equal(a.x, x) and np.array_equal(a.y, y)
    assert np.array_equal(b.x, x) and np.array_equal(b.y, y)
    assert len(a.sha256) == 64 and a.sha256 != b.sha256


def _nan_rows(folder: Path) -> Path:
    x = np.zeros((12, IN))
    x[[3, 7], 2] = np.nan
    x[9, 0] = np.inf
    return _npz(folder, rows=12, x=x)


def _too_big_when_unpacked(folder: Path) -> Path:
    return _npz(folder, rows=4000)  # 4000 x 19 float64: about 600 kB uncompressed (np.savez_compressed below)


CASES = {
    "x too narrow": (lambda d: _npz(d, x=np.zeros((20, IN - 1))), f"x has {IN - 1} columns, but the layout's input_dim is {IN}"),
    "y too wide": (lambda d: _npz(d, y=np.zeros((20, OUT + 2))), f"y has {OUT + 2} columns, but the layout's output_dim is {OUT}"),
    "nan and inf rows": (_nan_rows, "x holds NaN or infinity (as float32) in row 3, 7, 9 (counting from 0)"),
    "float32 overflow": (
        lambda d: _npz(d, y=np.full((20, OUT), 1e300)),
        "y holds NaN or infinity (as float32) in row 0, 1, 2, 3, 4 and 15 more",
    ),
    "empty": (lambda d: _npz(d, rows=0), "holds no rows"),
    "lengths differ": (lambda d: _npz(d, y=np.zeros((19, OUT))), "x has 20 rows but y has 19"),
    "no y": (
        lambda d: np.savez(d / "data.npz", x=np.zeros((3, IN)), target=np.zeros(3)) or d / "data.npz",
        "has no array y (it holds x, target)",
    ),
    "strings": (lambda d: _npz(d, x=np.array([["a"] * IN] * 20)), "array x holds <U1 values, not real numbers"),
    "3-d array": (lambda d: _npz(d, x=np.zeros((20, IN, 2))), "array x has shape (20, 16, 2)"),
    "not an archive": (lambda d: (d / "data.npz").write_text("hello") and d / "data.npz", "not a readable .npz archive"),
    "csv non-numeric": (
        lambda d: _csv(d, f"{HEADER}\n{ROW}\n{ROW.replace('0.5', 'abc', 3)}\n"),
        "data.csv:3: column x0 holds 'abc', not a number",
    ),
    "csv nan": (
        lambda d: _csv(d, f"{HEADER}\n{ROW}\n\n{ROW.replace('0.5', 'nan', 1)}\n"),
        "x holds NaN or infinity (as float32) on line 4",
    ),
    "csv narrow header": (
        lambda d: _csv(d, HEADER.replace(",x15", "") + "\n"),
        f"data.csv:1: the header has {IN - 1} x columns, but the layout's input_dim is {IN}",
    ),
    "csv unknown column": (lambda d: _csv(d, HEADER.replace("x15", "x16") + "\n"), "data.csv:1: unknown columns ['x16']"),
    "csv short row": (lambda d: _csv(d, f"{HEADER}\n1,2\n"), "data.csv:2: 2 cells, but the header names 19 columns"),
    "csv empty": (lambda d: _csv(d, ""), "is empty; it needs a header"),
    "csv header only": (lambda d: _csv(d, HEADER + "\n"), "holds no rows"),
    "csv not utf-8": (lambda d: (d / "data.csv").write_bytes(b"x0\xff\n") and d / "data.csv", "is not UTF-8 text"),
    "other suffix": (lambda d: (d / "data.txt").write_text("1") and d / "data.txt", "give a .npz (arrays x and y) or a .csv"),
    "a folder": (lambda d: d, "is a folder; name a .npz or .csv file in it"),
    "missing": (lambda d: d / "nothing.npz", "no such file"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unusable_data_is_refused_with_where(case: str, tmp_path: Path):
    make, expected = CASES[case]
    path = make(tmp_path)
    with pytest.raises(DataProblem) as err:
        load_data(str(path), IN, OUT)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_the_memory_limit_is_named_and_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = _npz(tmp_path, rows=100)
    size = path.stat().st_size
    monkeypatch.setenv(LIMIT_VARIABLE, str(size - 1))
    with pytest.raises(DataProblem, match=f"{size:,} bytes, above the memory limit of {size - 1:,} bytes; set {LIMIT_VARIABLE}={size}"):
        load_data(str(path), IN, OUT)
    monkeypatch.setenv(LIMIT_VARIABLE, str(size))
    assert len(load_data(str(path), IN, OUT)) == 100


def test_a_small_archive_of_huge_arrays_is_refused_before_unpacking(tmp_path: Path):
    path = tmp_path / "zeros.npz"
    np.savez_compressed(path, x=np.zeros((100_000, IN)), y=np.zeros((100_000, OUT)))  # ~15 MB of zeros, a few kB packed
    limit = 1_000_000
    assert path.stat().st_size < limit
    with pytest.raises(DataProblem, match="uncompressed, above the memory limit of 1,000,000 bytes"):
        load_data(str(path), IN, OUT, limit=limit)


@pytest.mark.parametrize("case", ["x too narrow", "nan and inf rows", "empty", "csv non-numeric", "a folder"])
def test_the_command_exits_2_and_writes_nothing(case: str, tmp_path: Path):
    make, expected = CASES[case]
    data = make(tmp_path)
    out = tmp_path / "run"
    for fmt in ("human", "json"):
        done = invoke_cli("train", SPEC, "--data", str(data), "-o", str(out), "--format", fmt)
        assert done.returncode == 2, done
        assert expected in (done.stderr if fmt == "human" else done.stdout)
        assert not out.exists()


def test_bad_test_and_validation_files_are_refused_too(tmp_path: Path):
    good, bad = _npz(tmp_path, "good.npz"), _npz(tmp_path, "bad.npz", y=np.zeros((20, 1)))
    for option in ("--test", "--val-data"):
        done = invoke_cli("train", SPEC, "--data", str(good), option, str(bad), "-o", str(tmp_path / "run"))
        assert done.returncode == 2 and f"{bad}: y has 1 columns" in done.stderr, done
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--val", "0"], "--val 0 of 20 rows leaves no validation or no training row"),
        (["--val", "1.5"], "--val 1.5 of 20 rows"),
        (["--steps", "5", "--epochs", "1"], "--steps and --epochs: give one of them"),
        (["--val", "0.2", "--val-data", "x.npz"], "--val and --val-data: give one of them"),
        (["--sizes", "10,x"], "--sizes 10,x: give numbers of training rows separated by commas"),
        (["--sizes", "5,100"], "--sizes: 100 not between 1 and the 18 training rows"),
        (["--sizes", "5,5"], "--sizes: a size given twice"),
    ],
)
def test_contradictory_options_exit_2(args: list[str], expected: str, tmp_path: Path):
    data = _npz(tmp_path)
    done = invoke_cli("train", SPEC, "--data", str(data), "-o", str(tmp_path / "run"), *args)
    assert done.returncode == 2 and expected in done.stderr, done
    assert not (tmp_path / "run").exists()


def test_an_output_folder_that_cannot_be_made_is_refused_first(tmp_path: Path):
    (tmp_path / "file").write_text("")
    done = invoke_cli("train", SPEC, "--data", str(tmp_path / "missing.npz"), "-o", str(tmp_path / "file" / "run"))
    assert done.returncode == 2 and "the output folder cannot be made" in done.stderr, done


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_is_refused_without_waiting_on_it(tmp_path: Path):
    """Opening a FIFO nobody writes to would block forever: the command looks before it opens."""
    fifo = tmp_path / "data.npz"
    os.mkfifo(fifo)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "eqdesign", "train", SPEC, "--data", str(fifo), "-o", str(tmp_path / "run")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and "is not a regular file (a FIFO" in done.stderr, done.stderr
    assert not (tmp_path / "run").exists()


def test_design_refuses_unusable_data_before_training(tmp_path: Path):
    bad = _npz(tmp_path, x=np.zeros((20, 5)))  # the ask's input is 4 vectors and 4 scalars: 16 columns
    ask = ["design", "--group", "o3", "--input", "4x1o + 4x0e", "--output", "1x1o", "--params", "600", "--data", str(bad)]
    done = invoke_cli(*ask, "-o", str(tmp_path / "designed.yaml"))
    assert done.returncode == 2 and f"{bad}: x has 5 columns, but the layout's input_dim is 16" in done.stdout + done.stderr, done
    assert not (tmp_path / "designed.yaml").exists()
    both = invoke_cli(*ask, "--measure")
    assert both.returncode == 2 and "--measure and --data: choose one ranking" in both.stderr
