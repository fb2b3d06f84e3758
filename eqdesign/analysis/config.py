"""Project configuration: ``[tool.eqdesign]`` in pyproject.toml, or a table-less ``eqdesign.toml``.

The nearest configuration above a spec governs it (eqdesign.toml before pyproject.toml in one folder; a
pyproject.toml without ``[tool.eqdesign]`` is passed over), as ruff finds its own. Keys::

    select = ["ALL"]            # rules to report, by id, name or id prefix ("EQ2"); default all
    ignore = ["unused-input"]   # rules never reported
    strict = true               # warnings fail the check (as --strict)
    [tool.eqdesign.severity]    # per-rule severity: error, warning or info
    decoupled = "error"
    [tool.eqdesign.tests]       # defaults for every spec's tests: section (a spec's own values win)
    tolerance = 0.02

Rules that stand for an unreadable, unbuildable or numerically wrong spec (findings.MANDATORY) can be
neither ignored nor softened: a gate configured to pass them would pass a broken spec.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..findings import MANDATORY, RULES, Finding, Location, Severity, close_matches, make
from ..spec.model import Tests

KEYS = ("select", "ignore", "strict", "severity", "tests")
MAX_CONFIG_BYTES = 1_000_000
#: the header of pyproject.toml's table (or of one below it): [tool.eqdesign], [tool.eqdesign.severity], ...
_TABLE = re.compile(r"^\s*\[\s*tool\s*\.\s*eqdesign(?![\w-])", re.MULTILINE)


@dataclass(frozen=True)
class Config:
    path: str | None = None
    select: frozenset[str] | None = None  # rule names; None: every rule
    ignore: frozenset[str] = frozenset()
    strict: bool = False
    severity: dict[str, Severity] = field(default_factory=dict)
    tests: dict[str, Any] = field(default_factory=dict)  # validated defaults of the spec's tests section

    def enabled(self, name: str) -> bool:
        if name in MANDATORY:
            return True
        return (self.select is None or name in self.select) and name not in self.ignore

    @property
    def disabled(self) -> frozenset[str]:
        return frozenset(name for name in RULES if not self.enabled(name))


DEFAULT = Config()


def rule_names(query: str) -> list[str]:
    """The rules a word names: an id (any case), a name, an id prefix such as ``EQ2``, or ``ALL``."""
    q = query.strip()
    if q.upper() == "ALL":
        return sorted(RULES)
    if q in RULES:
        return [q]
    return sorted(name for name, r in RULES.items() if r.rule_id.startswith(q.upper()) and re.fullmatch(r"EQ\d*", q.upper()))


def unknown_rule_hint(query: str) -> str:
    names = list(RULES) + [r.rule_id for r in RULES.values()]
    near = close_matches(query, names)
    return f"did you mean {near[0]!r}? (eqdesign rules lists them)" if near else "eqdesign rules lists every rule by id and name"


class ConfigError(Exception):
    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


def find_config(folder: Path) -> Path | None:
    """The nearest eqdesign.toml, or pyproject.toml with a [tool.eqdesign] table, in folder or above."""
    for here in (folder, *folder.parents):
        for name in ("eqdesign.toml", "pyproject.toml"):
            candidate = here / name
            if candidate.is_file() and (name == "eqdesign.toml" or _has_table(candidate)):
                return candidate
    return None


def _has_table(pyproject: Path) -> bool:
    try:
        text = pyproject.read_text(encoding="utf-8", errors="replace")[:MAX_CONFIG_BYTES]
    except OSError:
        return False
    return _TABLE.search(text) is not None


@lru_cache(maxsize=64)
def config_for(folder: str, explicit: str | None = None, isolated: bool = False) -> Config:
    """The configuration governing specs in ``folder``; raises ConfigError with a located finding."""
    if isolated:
        return DEFAULT
    path = Path(explicit) if explicit else find_config(Path(folder).resolve())
    return DEFAULT if path is None else load_config(path, explicit=explicit is not None)


def load_config(path: Path, explicit: bool = False) -> Config:
    text = _read(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _toml_error(path, text, err) from None
    table = data if path.name != "pyproject.toml" else data.get("tool", {}).get("eqdesign")
    if table is None:
        raise _error(path, text, "", "this pyproject.toml has no [tool.eqdesign] table", "add one, or pass an eqdesign.toml")
    if not isinstance(table, dict):
        raise _error(path, text, "eqdesign", "tool.eqdesign must be a table", "write [tool.eqdesign] with keys below it")
    return _parse(path, text, table)


def _read(path: Path) -> str:
    try:
        if not path.is_file():
            raise _error(path, "", "", "no such configuration file", "name an eqdesign.toml or a pyproject.toml")
        return path.read_bytes()[:MAX_CONFIG_BYTES].decode("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise _error(path, "", "", f"cannot read the configuration: {err}", "it must be a UTF-8 TOML file") from None


def _parse(path: Path, text: str, table: dict[str, Any]) -> Config:
    for key in table:
        if key not in KEYS:
            near = close_matches(key, KEYS)
            hint = f"did you mean {near[0]!r}?" if near else f"known keys: {', '.join(KEYS)}"
            raise _error(path, text, key, f"unknown configuration key {key!r}", hint)
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise _error(path, text, "strict", "strict must be true or false", "write strict = true")
    select = _rule_list(path, text, table, "select") if "select" in table else None
    ignore = _rule_list(path, text, table, "ignore")
    _refuse_mandatory(path, text, ignore, "ignore")
    return Config(
        str(path), select, ignore, strict, _severities(path, text, table.get("severity", {})), _tests(path, text, table.get("tests", {}))
    )


def _rule_list(path: Path, text: str, table: dict[str, Any], key: str) -> frozenset[str]:
    items = table.get(key, [])
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        raise _error(path, text, key, f"{key} must be a list of rule ids or names", f'write {key} = ["EQ202", "decoupled"]')
    names: set[str] = set()
    for item in items:
        found = rule_names(item)
        if not found:
            raise _error(path, text, item, f"{key} names no rule: {item!r}", unknown_rule_hint(item))
        names.update(found)
    return frozenset(names)


def _refuse_mandatory(path: Path, text: str, names: frozenset[str], key: str) -> None:
    # A prefix or ALL may sweep in mandatory rules: only naming one alone is refused.
    for name in sorted(names & MANDATORY):
        for word in (name, RULES[name].rule_id):
            if re.search(rf"[\"']{re.escape(word)}[\"']", text, re.IGNORECASE):
                raise _error(path, text, word, f"{name} ({RULES[name].rule_id}) cannot be in {key}", MANDATORY_HINT)


MANDATORY_HINT = "it stands for a spec that cannot be read, built or trusted; fix the spec instead"


def _severities(path: Path, text: str, table: Any) -> dict[str, Severity]:
    if not isinstance(table, dict):
        raise _error(
            path, text, "severity", "severity must be a table of rule = level", '[tool.eqdesign.severity] then decoupled = "error"'
        )
    out: dict[str, Severity] = {}
    for key, level in table.items():
        names = rule_names(key)
        if not names:
            raise _error(path, text, key, f"severity names no rule: {key!r}", unknown_rule_hint(key))
        if level not in ("error", "warning", "info"):
            raise _error(path, text, key, f"the severity of {key} must be error, warning or info, not {level!r}", 'write "error"')
        for name in names:
            if name in MANDATORY and level != "error":
                raise _error(path, text, key, f"the severity of {name} cannot be lowered", MANDATORY_HINT)
            out[name] = Severity(level)
    return out


def _tests(path: Path, text: str, table: Any) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise _error(path, text, "tests", "tests must be a table", "[tool.eqdesign.tests] then tolerance = 0.02")
    try:
        Tests.model_validate(table)
    except ValidationError as err:
        first = err.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else "tests"
        raise _error(
            path, text, where, f"tests.{where}: {first['msg']}", "the keys and ranges are those of a spec's tests: section"
        ) from None
    return dict(table)


def _toml_error(path: Path, text: str, err: tomllib.TOMLDecodeError) -> ConfigError:
    found = re.search(r"\(at line (\d+), column (\d+)\)", str(err))
    line, col = (int(found[1]), int(found[2])) if found else (1, 1)
    message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(err))
    return ConfigError(make("config", f"not valid TOML: {message}", Location(str(path), line, col, ""), "see toml.io for the syntax"))


def _error(path: Path, text: str, word: str, message: str, hint: str) -> ConfigError:
    """A finding at the first place the configuration's text shows ``word`` (a key or a quoted value)."""
    return ConfigError(make("config", message, _locate(path, text, word), hint))


def _locate(path: Path, text: str, word: str) -> Location:
    start = _section_start(text) if path.name == "pyproject.toml" else 0
    if word:
        found = re.compile(rf"(?<![\w-])[\"']?{re.escape(word)}[\"']?(?![\w-])", re.IGNORECASE).search(text, start)
        start = found.start() if found else start
    line = text.count("\n", 0, start) + 1
    return Location(str(path), line, start - (text.rfind("\n", 0, start) + 1) + 1, "")


def _section_start(text: str) -> int:
    found = _TABLE.search(text)
    return found.start() if found else 0
