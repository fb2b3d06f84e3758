"""Files appear whole or not at all: every writer stages into temporary files beside the target and
renames them into place (torch-free, so that `check` and the report writers can use it too)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .findings import printable

_TMP_PREFIX = ".eqdesign-tmp-"


def write_atomically(out_dir: Path, files: dict[str, bytes]) -> list[Path]:
    """Write every file to a temporary name in out_dir first; rename them into place only if all succeed.

    A failure (or SIGTERM, which the CLI turns into an exception) leaves the older artifacts exactly as they
    were and removes the temporary files; temporary files of processes that died are swept first."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sweep_stale(out_dir)
    staged: list[tuple[Path, Path]] = []
    try:
        for name, data in files.items():
            fd, tmp_name = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", suffix=f"-{name}", dir=out_dir)
            staged.append((Path(tmp_name), out_dir / name))
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            usual_mode(Path(tmp_name))
        for tmp, final in staged:  # renames are atomic one by one; an interrupt in between leaves no tmp file
            os.replace(tmp, final)
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    return [final for _, final in staged]


def sweep_stale(out_dir: Path) -> None:
    """Remove temporary files whose writing process no longer exists (killed before it could clean up)."""
    for path in out_dir.glob(f"{_TMP_PREFIX}*"):
        pid = path.name[len(_TMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def usual_mode(path: Path) -> None:
    """The permissions a plain open() would give (mkstemp makes files private to their owner)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


def temp_beside(target: Path) -> Path:
    """An empty temporary file in the target's folder (renamed over it once complete; swept if abandoned)."""
    fd, name = tempfile.mkstemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-", suffix=f"-{target.name}", dir=target.parent)
    os.close(fd)
    return Path(name)


def unwritable(target: Path) -> str | None:
    """Why a file cannot be written at target (its folder is missing, or it is a folder), or None."""
    if not target.parent.is_dir():
        return f"cannot write {printable(str(target))}: the folder {printable(str(target.parent))} does not exist"
    if target.is_dir():
        return f"cannot write {printable(str(target))}: it is a folder"
    return None


def write_file(target: Path, data: bytes) -> str | None:
    """One file written whole or not at all, into an existing folder; None, or why it could not be."""
    problem = unwritable(target)
    if problem is None:
        try:
            write_atomically(target.parent, {target.name: data})
        except OSError as err:
            problem = f"cannot write {printable(str(target))}: {err.strerror or err}"
    return problem
