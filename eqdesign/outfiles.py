"""Where a command will write: checked when the command line is read, before any long work (a design
search that builds candidates, a build), so that a path that can never be written costs nothing.

Each problem has its own message: an empty name, a folder where a file is expected, a file where a folder
is expected, a missing folder, and (for commands that never overwrite) a file that already exists. The
writers check again when they write: the file system may change in between.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .atomic import temp_beside, usual_mode
from .findings import printable


def file_problem(path: str, option: str, *, overwrite: bool, command: str, example: str) -> str | None:
    """Why ``path`` (given as ``option``) cannot become a file, or None. ``overwrite``: whether the command
    replaces an existing file (a report) or refuses to (a spec it writes); ``example``: a file name to
    suggest."""
    shown = printable(path)
    if not path.strip():
        return f"{option}: the file name is empty; name a file, such as {option} {example}"
    target = Path(path)
    if target.is_dir():
        inside = printable(str(target / example))
        return f"{option} {shown}: is a folder, and {command} writes a file; name a file, such as {option} {inside}"
    if not target.parent.is_dir():
        parent = printable(str(target.parent))
        what = "is not a folder" if target.parent.exists() else "does not exist"
        return f"{option} {shown}: the folder {parent} {what} (create it first)"
    if not overwrite and (target.exists() or target.is_symlink()):
        return f"{option} {shown}: already exists; {command} never overwrites a file (choose another path, or remove it first)"
    return None


def folder_problem(path: str, option: str, *, example: str) -> str | None:
    """Why ``path`` (given as ``option``) cannot be or become a folder, or None (it may be made)."""
    shown = printable(path)
    if not path.strip():
        return f"{option}: the folder name is empty; name a folder, such as {option} {example}"
    for folder in (Path(path), *Path(path).parents):
        if folder.exists() or folder.is_symlink():
            if folder.is_dir():
                return None
            return f"{option} {shown}: the output folder cannot be made: {printable(str(folder))} is a file; name a folder"
    return None


def _link_new(tmp: Path, target: Path, text: str) -> None:
    """Put the finished temporary file at ``target`` unless something is there: a hard link fails rather than
    replace. Where the file system has no hard links, an exclusive create does the same (written in place)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV, errno.ENOSYS):
            raise
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
        except BaseException:
            target.unlink(missing_ok=True)
            raise


def write_new(path: str, text: str, command: str = "init") -> str | None:
    """Write ``text`` to a new file at ``path``, whole or not at all, never over an existing one. None when
    written; otherwise why not (``command``: who refuses to overwrite, in the message)."""
    target = Path(path)
    shown = printable(path)
    exists = f"{shown} already exists; {command} never overwrites a file (choose another path, or remove it first)"
    if target.exists() or target.is_symlink():
        return exists
    if not target.parent.is_dir():
        return f"cannot write {shown}: the folder {printable(str(target.parent))} does not exist (create it first)"
    tmp: Path | None = None
    try:
        tmp = temp_beside(target)
        tmp.write_text(text, encoding="utf-8")
        usual_mode(tmp)
        _link_new(tmp, target, text)
    except FileExistsError:  # made by someone else between the check above and the link
        return exists
    except OSError as err:
        return f"cannot write {shown}: {err.strerror or err}"
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return None
