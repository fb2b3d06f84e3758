"""`eqdesign cache info|clear|warm`: the cache folder eqdesign and escnn write to."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exitcodes import ExitCode
from ..paths import cache_dir, cache_dir_problem, cache_faults, escnn_cache_dir


@dataclass
class CacheResult:
    action: str
    path: str
    files: int = 0
    bytes: int = 0
    warmed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.SPEC if self.problems else ExitCode.OK

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__, exit_code=int(self.exit_code))


def _measure(result: CacheResult) -> CacheResult:
    try:
        files = [p for p in Path(result.path).rglob("*") if p.is_file()] if Path(result.path).is_dir() else []
        result.files, result.bytes = len(files), sum(p.stat().st_size for p in files)
    except OSError as err:  # unreadable inside, or changing while it is measured
        result.problems.append(f"cannot measure the cache folder {result.path}: {_reason(err)}")
    return result


def _usable(result: CacheResult) -> bool:
    """False, with the problem noted, where the cache folder cannot be one: nothing can be cached there."""
    problem = cache_dir_problem()
    if problem is not None:
        result.problems.append(f"the cache folder {result.path} cannot be made: {problem}; set EQDESIGN_CACHE_DIR to a folder")
    return problem is None


def info() -> CacheResult:
    result = CacheResult("info", str(cache_dir()))
    return _measure(result) if _usable(result) else result


def clear() -> CacheResult:
    """Remove what eqdesign writes there (escnn's caches), never anything else in the folder: the folder may
    be one the user also keeps other things in. What cannot be removed (a read-only folder) is a problem."""
    result = CacheResult("clear", str(cache_dir()))
    if not _usable(result):
        return result
    _measure(result)
    failures: list[str] = []
    shutil.rmtree(escnn_cache_dir(), onerror=lambda _fn, path, info: failures.append(f"{path}: {_reason(info[1])}"))
    if failures and escnn_cache_dir().exists():
        result.problems.append(f"could not delete {failures[0]}" + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""))
    with contextlib.suppress(OSError):
        cache_dir().rmdir()  # only if nothing else is left in it
    return result


def _reason(err: BaseException) -> str:
    return (err.strerror or str(err)).lower() if isinstance(err, OSError) else str(err)


def warm(specs: Sequence[str]) -> CacheResult:
    """Build every spec's escnn model once (float64, as `build` does), which fills the caches. A cache folder
    that cannot take what was computed is a problem here: filling it is all this command is for."""
    from ..api.building import warm_escnn
    from .check import check_file

    result = CacheResult("warm", str(cache_dir()))
    if not _usable(result):
        return result
    for path in specs:
        checked = check_file(path)
        if checked.design is None or checked.exit_code() != ExitCode.OK:
            result.problems.append(f"{path}: does not pass check; nothing to warm")
            continue
        warm_escnn(checked.design)
        result.warmed.append(path)
    result.problems += cache_faults()
    return _measure(result)
