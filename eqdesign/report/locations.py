"""How reports name spec files, for the consumer each one has.

CI consumers (SARIF code scanning, GitLab code quality, GitHub annotations, JUnit viewers) resolve a path
against the repository root, not against the folder a job ran in (``working-directory:``): theirs are
relative to ``source_root()``. Editors and terminals resolve against the working folder: concise output is
relative to it. Artifacts must read the same on every machine: ``portable_name`` holds no machine path.
"""

from __future__ import annotations

import os
from pathlib import Path

#: an explicit repository root, for checkouts without a .git entry (a source archive, say)
ROOT_VARIABLE = "EQDESIGN_SOURCE_ROOT"


def source_root() -> Path:
    """``EQDESIGN_SOURCE_ROOT``, else the top of the git work tree holding the working folder (the nearest
    folder above it with a ``.git`` entry: a folder, or a file in worktrees and submodules), else the
    working folder."""
    explicit = os.environ.get(ROOT_VARIABLE)
    if explicit:
        return Path(os.path.abspath(os.path.expanduser(explicit)))
    here = Path(os.path.abspath(os.curdir))
    return next((folder for folder in (here, *here.parents) if os.path.lexists(folder / ".git")), here)


def _inside(file: str, root: Path) -> str | None:
    rel = os.path.relpath(os.path.abspath(file), root)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return None
    return rel.replace(os.sep, "/")


def repo_relative(file: str) -> str | None:
    """The file's path relative to the repository root, with forward slashes; None when it lies outside."""
    return _inside(file, source_root())


def cwd_relative(file: str) -> str:
    """The file as the working folder reaches it: relative where it lies inside, else as given."""
    if not os.path.isabs(file):
        return file
    return _inside(file, Path(os.path.abspath(os.curdir))) or file


def portable_name(file: str) -> str:
    """The file relative to the repository root, or its base name where it lies outside: no machine path."""
    return repo_relative(file) or os.path.basename(file)
