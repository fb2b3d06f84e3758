"""Training data, read and checked before any training starts: a ``.npz`` with arrays ``x`` (N x input_dim)
and ``y`` (N x output_dim), or a ``.csv`` whose header names the columns ``x0 .. x{input_dim-1}`` and
``y0 .. y{output_dim-1}`` (in any order), both in the layout's column order.

Every problem is refused with the file (and the rows or lines) it is in, before anything is trained or
written: a path that is no regular file (a folder, a FIFO: never opened, so never waited on), a file above
the memory limit, a wrong width, an empty set, ``x`` and ``y`` of different lengths, a cell that is no
number, NaN or infinity. Arrays are read whole, so the limit bounds the memory: ``EQDESIGN_TRAIN_MAX_BYTES``
raises it (default 1 GiB, of the file and, for a ``.npz``, of its arrays once uncompressed).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..findings import printable

#: the default limit on a data file's size (and a .npz's arrays uncompressed)
DEFAULT_MAX_BYTES = 1 << 30
LIMIT_VARIABLE = "EQDESIGN_TRAIN_MAX_BYTES"
#: how many offending rows a message lists
SHOWN_ROWS = 5


class DataProblem(ValueError):
    """Data that cannot be trained on; the message names the file and where in it."""


@dataclass(frozen=True)
class Dataset:
    """Inputs and targets as float32 arrays, where they came from, and the SHA-256 of the file's bytes."""

    x: NDArray[Any]
    y: NDArray[Any]
    file: str
    sha256: str

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def subset(self, rows: NDArray[Any], file: str) -> Dataset:
        return Dataset(self.x[rows], self.y[rows], file, self.sha256)


def max_bytes() -> int:
    """The memory limit: EQDESIGN_TRAIN_MAX_BYTES where it is a positive integer, else 1 GiB."""
    value = os.environ.get(LIMIT_VARIABLE, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_BYTES


def load_data(path: str, input_dim: int, output_dim: int, limit: int | None = None) -> Dataset:
    """The data in ``path``, checked against the layout's widths; raises :class:`DataProblem`."""
    limit = max_bytes() if limit is None else limit
    shown = printable(path)
    suffix = Path(path).suffix.lower()
    if suffix not in (".npz", ".csv") and not Path(path).is_dir():
        raise DataProblem(f"{shown}: not a data file eqdesign reads; give a .npz (arrays x and y) or a .csv (columns x0.., y0..)")
    data = _read_regular(path, shown, limit)
    lines: list[int] | None = None  # a CSV's line of each row, for messages
    if suffix == ".npz":
        x, y = _npz(data, shown, limit)
    else:
        x, y, lines = _csv(data, shown, input_dim, output_dim)
    _check_arrays(x, y, shown, (input_dim, output_dim), lines)
    return Dataset(x, y, path, hashlib.sha256(data).hexdigest())


def _raise_hint(size: int) -> str:
    return f"set {LIMIT_VARIABLE}={size} (or more) to read it whole, if the machine has the memory"


def _read_regular(path: str, shown: str, limit: int) -> bytes:
    """The bytes of a regular file within the limit. Opened without blocking and judged by what was opened
    (fstat), so that a FIFO, a device or a folder is refused without waiting, even one swapped in late."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise DataProblem(f"{shown}: no such file") from None
    except OSError as err:
        raise DataProblem(f"{shown}: cannot be read: {err.strerror or err}") from None
    try:
        _judge(os.fstat(fd), shown, limit)
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(limit + 1)  # never more than the limit, whatever the file grew to since
    except OSError as err:
        raise DataProblem(f"{shown}: cannot be read: {err.strerror or err}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise DataProblem(f"{shown}: grew above the memory limit of {limit:,} bytes while it was read; {_raise_hint(len(data))}")
    return data


def _judge(info: os.stat_result, shown: str, limit: int) -> None:
    """A folder, anything but a regular file, or a file above the limit, refused."""
    if stat.S_ISDIR(info.st_mode):
        raise DataProblem(f"{shown}: is a folder; name a .npz or .csv file in it")
    if not stat.S_ISREG(info.st_mode):
        raise DataProblem(f"{shown}: is not a regular file (a FIFO, a socket or a device); save the data to a .npz or .csv file")
    if info.st_size > limit:
        raise DataProblem(f"{shown}: {info.st_size:,} bytes, above the memory limit of {limit:,} bytes; {_raise_hint(info.st_size)}")


def _npz(data: bytes, shown: str, limit: int) -> tuple[NDArray[Any], NDArray[Any]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
        if unpacked > limit:  # a small archive can hold huge arrays: refused before they are unpacked
            raise DataProblem(
                f"{shown}: its arrays take {unpacked:,} bytes uncompressed, above the memory limit of {limit:,} bytes; {_raise_hint(unpacked)}"
            )
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            missing = [k for k in ("x", "y") if k not in arrays.files]
            if missing:
                raise DataProblem(
                    f"{shown}: has no array {' or '.join(missing)} (it holds {', '.join(arrays.files) or 'nothing'}); save it with np.savez(file, x=inputs, y=targets)"
                )
            return _numeric(arrays["x"], shown, "x"), _numeric(arrays["y"], shown, "y")
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as err:
        if isinstance(err, DataProblem):
            raise
        raise DataProblem(f"{shown}: not a readable .npz archive ({err}); save it with np.savez(file, x=inputs, y=targets)") from None


def _numeric(array: NDArray[Any], shown: str, name: str) -> NDArray[Any]:
    if array.dtype.kind not in "biuf":
        raise DataProblem(f"{shown}: array {name} holds {array.dtype} values, not real numbers; store floats")
    if array.ndim == 1:  # a single column saved as a vector
        array = array[:, None]
    if array.ndim != 2:
        raise DataProblem(f"{shown}: array {name} has shape {array.shape}; it must be (rows, columns)")
    with np.errstate(over="ignore"):  # a value beyond float32 becomes infinity, which the row check names
        return array.astype(np.float32)


def _csv(data: bytes, shown: str, input_dim: int, output_dim: int) -> tuple[NDArray[Any], NDArray[Any], list[int]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataProblem(f"{shown}: byte {err.start} is not UTF-8 text; save the file as UTF-8") from None
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None:
        raise DataProblem(f"{shown}: is empty; it needs a header (x0,...,y0,...) and at least one row")
    order = _columns(header, shown, input_dim, output_dim)
    values, lines = [], []
    for cells in rows:
        if any(c.strip() for c in cells):  # blank lines are skipped
            values.append(_row(cells, header, shown, rows.line_num))
            lines.append(rows.line_num)
    table = np.array(values, dtype=np.float64).reshape(len(values), len(header))[:, order]
    return table[:, :input_dim].astype(np.float32), table[:, input_dim:].astype(np.float32), lines


def _columns(header: list[str], shown: str, input_dim: int, output_dim: int) -> list[int]:
    """The header's column of each of x0.., y0.. in turn; the header must name exactly those."""
    names = [h.strip() for h in header]
    for prefix, dim, what in (("x", input_dim, "input_dim"), ("y", output_dim, "output_dim")):
        found = sum(1 for n in names if n.startswith(prefix) and n[1:].isdigit())
        if found != dim:
            raise DataProblem(
                f"{shown}:1: the header has {found} {prefix} columns, but the layout's {what} is {dim}: name them {prefix}0 .. {prefix}{dim - 1}"
            )
    wanted = [f"x{i}" for i in range(input_dim)] + [f"y{i}" for i in range(output_dim)]
    unknown = [n for n in names if n not in wanted]
    absent = [w for w in wanted if w not in names]
    if unknown or absent or len(set(names)) != len(names):
        problem = f"unknown columns {unknown}" if unknown else f"missing columns {absent}" if absent else "repeated columns"
        raise DataProblem(f"{shown}:1: {problem}; the header names x0 .. x{input_dim - 1} and y0 .. y{output_dim - 1}, each once")
    return [names.index(w) for w in wanted]


def _row(cells: list[str], header: list[str], shown: str, line: int) -> list[float]:
    if len(cells) != len(header):
        raise DataProblem(f"{shown}:{line}: {len(cells)} cells, but the header names {len(header)} columns")
    try:
        return [float(c) for c in cells]
    except ValueError:
        column = next(i for i, c in enumerate(cells) if not _is_number(c))
        raise DataProblem(f"{shown}:{line}: column {header[column].strip()} holds {printable(cells[column])!r}, not a number") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_arrays(x: NDArray[Any], y: NDArray[Any], shown: str, dims: tuple[int, int], lines: list[int] | None) -> None:
    input_dim, output_dim = dims
    if x.shape[0] == 0 or y.shape[0] == 0:
        raise DataProblem(f"{shown}: holds no rows; training needs data")
    if x.shape[0] != y.shape[0]:
        raise DataProblem(f"{shown}: x has {x.shape[0]} rows but y has {y.shape[0]}; each input needs its target")
    for name, array, dim, what in (("x", x, input_dim, "input_dim"), ("y", y, output_dim, "output_dim")):
        if array.shape[1] != dim:
            raise DataProblem(f"{shown}: {name} has {array.shape[1]} columns, but the layout's {what} is {dim} (see the spec's layout)")
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
        if bad.size:
            raise DataProblem(f"{shown}: {name} holds NaN or infinity (as float32) {_rows(bad, lines)}; remove or fix them")


def _rows(bad: NDArray[Any], lines: list[int] | None) -> str:
    """Where the bad rows are: a CSV's line numbers, or an array's row indices."""
    more = f" and {bad.size - SHOWN_ROWS} more" if bad.size > SHOWN_ROWS else ""
    if lines is not None:
        return "on line " + ", ".join(str(lines[r]) for r in bad[:SHOWN_ROWS]) + more
    return "in row " + ", ".join(str(r) for r in bad[:SHOWN_ROWS]) + more + " (counting from 0)"
