"""Turn `eqdesign check` arguments (files, folders, glob patterns) into the spec files to check.

The plain glob/rglob expansion this replaces missed `.YAML`, ignored symlinked folders, walked into virtual
environments and version-control folders, could hang on symlink loops (and on a FIFO handed to the reader) and
said nothing about what it left out.  Here every folder is entered at most once per argument, only regular files
become specs, nothing is ever opened except folders, the work per argument is bounded, and everything left out
is returned as a `Skipped` entry or a problem message, so the caller can say so.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

SPEC_SUFFIXES = (".yaml", ".yml")
MAX_ENTRIES = 100_000
VENV_MARKER = "pyvenv.cfg"

# Hidden files are never taken from a folder either, only when named (the argument itself, or a pattern whose
# part starts with a dot, as in the shell).
# Folder names never walked into unless named explicitly (the argument itself, or a literal part of a pattern),
# with the reason shown to the user.  Any other hidden folder and any folder holding `pyvenv.cfg` (a virtual
# environment, whatever its name, e.g. `env`) is skipped as well, see `dir_skip_reason`.
SKIPPED_DIRS: Mapping[str, str] = MappingProxyType(
    {
        ".git": "version-control folder",
        ".hg": "version-control folder",
        ".svn": "version-control folder",
        ".venv": "virtual environment",
        "venv": "virtual environment",
        "node_modules": "vendored packages",
        "site-packages": "installed packages",
        "__pycache__": "cache folder",
        ".tox": "tox environments",
        ".nox": "nox environments",
        "build": "build output",
        "dist": "build output",
    }
)

_MAGIC = re.compile(r"[*?[]")
_SEPS = os.sep + (os.altsep or "")
_NO_SPECS = f"no spec files ({'/'.join(SPEC_SUFFIXES)}) found"

_DirId = tuple[int, int]
_Chain = tuple[_DirId, ...]


@dataclass(frozen=True)
class Skipped:
    """Something found while walking that was deliberately not taken, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Discovery:
    """Spec files in argument order (sorted within each argument, duplicates dropped), what was left out, and
    the arguments that could not be used (any problem should fail the run)."""

    files: tuple[str, ...]
    skipped: tuple[Skipped, ...]
    problems: tuple[str, ...]


def discover(patterns: Sequence[str], *, max_entries: int = MAX_ENTRIES) -> Discovery:
    """Expand each argument: a file is taken as is, a folder is walked, a pattern with `*?[` is globbed."""
    return _merge([_discover_one(pattern, max_entries) for pattern in patterns])


def is_spec_name(name: str) -> bool:
    """Spec suffixes match in any case: `.YAML` files written on case-insensitive systems are specs too."""
    return name.lower().endswith(SPEC_SUFFIXES)


def dir_skip_reason(path: str, *, hidden_ok: bool = False) -> str | None:
    """Why a folder met while walking is not entered, or None to enter it."""
    name = os.path.basename(os.path.normpath(path))
    if name in SKIPPED_DIRS:
        return SKIPPED_DIRS[name]
    if name.startswith(".") and not hidden_ok:
        return "hidden folder"
    if os.path.isfile(os.path.join(path, VENV_MARKER)):
        return f"virtual environment ({VENV_MARKER})"
    return None


class _TooMany(Exception):
    """Raised past the entry budget: a huge tree or a pattern that multiplies must end in a message, not a hang."""


@dataclass
class _Arg:
    """What one argument yields.  Budget and messages are per argument so a problem can name its argument."""

    name: str
    max_entries: int
    files: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    visited: int = 0

    def tick(self) -> None:
        self.visited += 1
        if self.visited > self.max_entries:
            raise _TooMany

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append(Skipped(path, reason))

    def problem(self, message: str) -> None:
        self.problems.append(f"{self.name or repr(self.name)}: {message}")


def _discover_one(pattern: str, max_entries: int) -> _Arg:
    arg = _Arg(pattern, max_entries)
    try:
        # An existing path wins over pattern syntax: a file really named `a[1].yaml` is meant literally.
        if os.path.lexists(pattern):
            _take_named(pattern, arg)
        elif _MAGIC.search(pattern):
            _take_glob(pattern, arg)
        else:
            arg.problem("no such file or directory")
    except _TooMany:
        arg.problem(f"stopped after {max_entries} entries; name a narrower folder or pattern")
    return arg


def _take_named(path: str, arg: _Arg) -> None:
    """An explicit argument: any regular file is taken whatever its suffix (the user chose it), a folder is walked
    even if its own name would be skipped, anything else is refused without being opened."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        arg.problem(_missing_or(err))
        return
    if stat.S_ISDIR(mode):
        _take_named_dir(path, arg)
    elif stat.S_ISREG(mode):
        arg.files.append(path)
    else:
        arg.problem("not a regular file")


def _take_named_dir(path: str, arg: _Arg) -> None:
    try:
        found = _collect(path, arg, {}, strict_root=True)
    except OSError as err:
        arg.problem(f"cannot read folder: {_strerror(err)}")
        return
    if not found:
        # An empty folder is a mistake (wrong path, specs not written yet), never a silent pass.
        arg.problem(_NO_SPECS)


def _collect(root: str, arg: _Arg, seen: dict[_DirId, str], *, strict_root: bool = False) -> int:
    """Spec files in root and below, added to arg.  Returns how many were found, counting ones named before,
    so an argument whose specs all came from an earlier argument is not called empty."""
    found = 0
    for folder, entries in _walk(root, arg, seen, strict_root=strict_root):
        found += sum(_take_entry(folder, entry, arg) for entry in entries)
    return found


def _take_entry(folder: str, entry: os.DirEntry[str], arg: _Arg) -> bool:
    """Non-spec names are ignored silently; a spec-looking name that is no regular file is reported, unopened.
    A hidden file (``.pre-commit-config.yaml``, ``.gitlab-ci.yml``: tools' configurations) is skipped as hidden
    folders are, and said to be; named explicitly, it is read."""
    if not is_spec_name(entry.name) or _is_dir(entry):
        return False
    path = os.path.join(folder, entry.name)
    if entry.name.startswith("."):
        arg.skip(path, "hidden file")
        return False
    if _is_file(entry):
        arg.files.append(path)
        return True
    arg.skip(path, _not_regular_reason(path))
    return False


@dataclass
class _Tree:
    """What one walk remembers: each folder entered, by identity, with the name it was entered under (a second
    way into it is a diamond or a loop), and the real folders above the root (a link up to one of those would
    walk the root again under a longer name, so it is a loop too, even though the walk never entered them)."""

    arg: _Arg
    seen: dict[_DirId, str]
    above: dict[_DirId, str]

    def name_of(self, ident: _DirId) -> str:
        return self.seen.get(ident) or self.above[ident]


def _walk(
    root: str,
    arg: _Arg,
    seen: dict[_DirId, str],
    *,
    strict_root: bool = False,
) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
    """Root and the folders below it, pre-order and sorted, each with its entries.

    Symlinked folders are followed, but a folder identity (st_dev, st_ino) is entered at most once per `seen`,
    and never when it contains the current folder, so a symlink loop is met once, reported, and ends the
    branch.  An explicit stack, not recursion, because trees can be deeper than Python's recursion limit.
    """
    root_id = _dir_id(root)
    if root_id in seen:  # a glob matched a folder already walked as part of an earlier match
        return
    seen[root_id] = root or os.curdir  # shown in loop messages, so never ""
    tree = _Tree(arg, seen, _real_ancestors(root))
    stack: list[tuple[str, _Chain]] = [(root, (*tree.above, root_id))]
    while stack:
        folder, chain = stack.pop()
        entries = _list_dir(folder, arg, strict=strict_root and chain[-1] == root_id)
        if entries is None:
            continue
        yield folder, entries
        below = [sub for sub in (_enter(tree, folder, e, chain) for e in entries) if sub]
        stack.extend(reversed(below))


def _real_ancestors(root: str) -> dict[_DirId, str]:
    """Identity -> real path of every folder that really contains root (the realpath-based half of loops)."""
    found: dict[_DirId, str] = {}
    path = os.path.realpath(_os_path(root))
    while (parent := os.path.dirname(path)) != path:
        path = parent
        try:
            st = os.stat(path)
        except OSError:  # an ancestor we cannot stat is not one a link below could lead us into
            continue
        found[(st.st_dev, st.st_ino)] = path
    return found


def _enter(tree: _Tree, folder: str, entry: os.DirEntry[str], chain: _Chain) -> tuple[str, _Chain] | None:
    """The sub-folder to walk next with its ancestor chain, or None (reported unless it is no folder at all)."""
    if not _is_dir(entry):
        return None
    path = os.path.join(folder, entry.name)
    reason = dir_skip_reason(path)
    if reason is None:
        reason, ident = _revisit_reason(tree, entry, chain)
        if reason is None:
            tree.seen[ident] = path
            return path, (*chain, ident)
    tree.arg.skip(path, reason)
    return None


def _revisit_reason(tree: _Tree, entry: os.DirEntry[str], chain: _Chain) -> tuple[str | None, _DirId]:
    try:
        st = entry.stat()  # follows the symlink: the identity of the folder it leads to
    except OSError as err:
        return f"cannot read: {_strerror(err)}", (0, 0)
    ident = (st.st_dev, st.st_ino)
    if ident in chain:
        return f"symbolic link loop (leads back to {tree.name_of(ident)})", ident
    if ident in tree.seen:
        return f"same folder as {tree.seen[ident]}", ident
    return None, ident


def _list_dir(folder: str, arg: _Arg, *, strict: bool = False) -> list[os.DirEntry[str]] | None:
    """Sorted entries (deterministic output).  An unreadable folder is a skip, or raises at an explicit root."""
    entries: list[os.DirEntry[str]] = []
    try:
        with os.scandir(_os_path(folder)) as it:
            for entry in it:
                arg.tick()  # counted while reading, so even one enormous folder stops at the budget
                entries.append(entry)
    except OSError as err:
        if strict:
            raise
        arg.skip(folder, f"cannot read: {_strerror(err)}")
        return None
    return sorted(entries, key=lambda e: e.name)


# --- glob patterns -------------------------------------------------------------------------------------------
# Not glob.glob: its `**` follows symlinked folders without loop detection, so a link to a parent makes it run
# until the path length limit, multiplying matches.  Here `**` uses the same loop-safe walker as folders do.


def _take_glob(pattern: str, arg: _Arg) -> None:
    matches = _glob(pattern, arg)
    seen: dict[_DirId, str] = {}
    if not matches:
        arg.problem("no file matches")
    elif not sum(_take_match(path, arg, seen) for path in matches):
        arg.problem(_NO_SPECS)


def _take_match(path: str, arg: _Arg, seen: dict[_DirId, str]) -> int:
    """A matched folder is walked like a named one; a matched file counts only with a spec suffix, because
    patterns such as `specs/*` or `**` are written to pick specs out of other files."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        if is_spec_name(path):
            arg.skip(path, _not_regular_reason(path))
        return 0
    if stat.S_ISDIR(mode):
        return _collect(path, arg, seen)
    if not is_spec_name(path):
        return 0
    if stat.S_ISREG(mode):
        arg.files.append(path)
        return 1
    arg.skip(path, _not_regular_reason(path))
    return 0


def _glob(pattern: str, arg: _Arg) -> list[str]:
    """Paths matching pattern, spelled the way the pattern spells them, sorted."""
    base, parts, dirs_only = _split_pattern(pattern)
    paths = [base]
    for i, part in enumerate(parts):
        files_too = i == len(parts) - 1 and not dirs_only
        paths = list(dict.fromkeys(p for path in paths for p in _glob_step(path, part, files_too, arg)))
    if dirs_only:
        paths = [p for p in paths if os.path.isdir(p)]
    return sorted(paths, key=_sort_key)


def _split_pattern(pattern: str) -> tuple[str, list[str], bool]:
    """Start folder ("" is the working folder, kept out of the results' spelling), parts, trailing separator."""
    drive, rest = os.path.splitdrive(pattern)
    base = drive + os.sep if rest[:1] and rest[0] in _SEPS else drive
    parts = [p for p in re.split(f"[{re.escape(_SEPS)}]", rest) if p]
    return base, parts, bool(rest) and rest[-1] in _SEPS


def _glob_step(path: str, part: str, files_too: bool, arg: _Arg) -> Iterator[str]:
    if part == "**":
        yield from _glob_recursive(path, files_too, arg)
    elif _MAGIC.search(part):
        yield from _glob_names(path, part, files_too, arg)
    else:
        candidate = os.path.join(path, part)  # a literal part names its folder, so no skip rule applies
        if os.path.lexists(candidate) if files_too else os.path.isdir(candidate):
            yield candidate


def _glob_recursive(path: str, files_too: bool, arg: _Arg) -> Iterator[str]:
    """`**`: path itself and every folder below (loop-safe, skip rules applied), and the files too when last."""
    if not os.path.isdir(_os_path(path)):
        return
    for folder, entries in _walk(path, arg, {}):
        if folder or not files_too:  # "" (the working folder) is a start, not a match to report
            yield folder
        if files_too:
            yield from (os.path.join(folder, e.name) for e in entries if _visible_file(e))


def _glob_names(path: str, part: str, files_too: bool, arg: _Arg) -> Iterator[str]:
    """One wildcard part.  As in the shell, a wildcard matches hidden names only if it starts with a dot, and a
    folder it matches is not thereby named: the skip rules still apply (bar the hidden rule for `.*`)."""
    hidden_ok = part.startswith(".")
    for entry in _list_dir(path, arg) or []:
        if (entry.name.startswith(".") and not hidden_ok) or not fnmatch.fnmatch(entry.name, part):
            continue
        candidate = os.path.join(path, entry.name)
        if not _is_dir(entry):
            if files_too:
                yield candidate
            continue
        reason = dir_skip_reason(candidate, hidden_ok=hidden_ok)
        if reason is None:
            yield candidate
        else:
            arg.skip(candidate, reason)


def _visible_file(entry: os.DirEntry[str]) -> bool:
    return not entry.name.startswith(".") and not _is_dir(entry)


# --- small helpers -------------------------------------------------------------------------------------------


def _merge(args: Iterable[_Arg]) -> Discovery:
    """Argument order is kept (the user's order, as before), sorted within each argument; a file named twice
    (same real path) keeps its first spelling, a folder skipped twice its first reason."""
    files: list[str] = []
    real_seen: set[str] = set()
    skipped: dict[str, Skipped] = {}
    problems: list[str] = []
    for arg in args:
        for path in sorted(arg.files, key=_sort_key):
            real = os.path.realpath(path)
            if real not in real_seen:
                real_seen.add(real)
                files.append(path)
        for skip in sorted(arg.skipped, key=lambda s: _sort_key(s.path)):
            skipped.setdefault(skip.path, skip)
        problems.extend(arg.problems)
    return Discovery(tuple(files), tuple(skipped.values()), tuple(problems))


def _sort_key(path: str) -> tuple[str, ...]:
    # By path parts, so `a/b.yaml` and `a/c/d.yaml` order as a tree would (a plain string sort puts `a-x` first).
    return tuple(re.split(f"[{re.escape(_SEPS)}]", path))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    # DirEntry.is_dir only swallows "not found": a link to itself (ELOOP) or an unreadable target would raise,
    # and one odd entry must not end the whole walk.
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    """Follows symlinks; true for regular files only (never FIFOs or devices)."""
    try:
        return entry.is_file()
    except OSError:
        return False


def _dir_id(path: str) -> _DirId:
    st = os.stat(_os_path(path))
    return st.st_dev, st.st_ino


def _os_path(path: str) -> str:
    # Glob results relative to the working folder start from "", which the OS calls need spelled ".".
    return path or os.curdir


def _not_regular_reason(path: str) -> str:
    """Named from stat alone: opening a FIFO blocks and /dev/zero never ends, so these are never opened."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        return _missing_or(err)
    return f"not a regular file ({_file_kind(mode)})"


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "named pipe"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))
    return next((name for test, name in kinds if test(mode)), "special file")


def _missing_or(err: OSError) -> str:
    # Callers saw the path exist (lexists or a folder listing), so "not found" now means a dangling link.
    if isinstance(err, FileNotFoundError):
        return "no such file or directory (broken symbolic link)"
    return _strerror(err)


def _strerror(err: OSError) -> str:
    return (err.strerror or str(err)).lower()


_DECLARES_GROUP = re.compile(rb"^[\"']?group[\"']?[ \t]*:", re.MULTILINE)


def only_specs(found: Discovery, limit: int = 1_000_000) -> Discovery:
    """Keep the files that declare a top-level ``group:`` (a pre-commit hook is handed every YAML file of a
    repository: workflows and configs are skipped, and said to be). Unreadable files stay, to be reported."""
    kept, skipped = [], list(found.skipped)
    for path in found.files:
        if _declares_group(path, limit):
            kept.append(path)
        else:
            skipped.append(Skipped(path, "declares no group (--specs-only)"))
    return Discovery(tuple(kept), tuple(skipped), found.problems)


def _declares_group(path: str, limit: int) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(limit)
    except OSError:
        return True
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        return True  # UTF-16/32: the reader decodes these, this byte scan cannot
    return _DECLARES_GROUP.search(head) is not None
