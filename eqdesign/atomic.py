"""Files appear whole or not at all: every writer stages into temporary files beside the target and
renames them into place (torch-free, so that `check` and the report writers can use it too)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
            os.chmod(tmp_name, 0o666 & ~_umask())
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


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
