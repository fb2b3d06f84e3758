"""Read a spec file into a validated Spec with its source map, or into located findings."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..findings import Finding, Location, make
from .model import NONLINEARITIES, Spec, all_keys
from .yamlsrc import SourceMap, YamlProblem, load_yaml


@dataclass(frozen=True)
class LoadedSpec:
    file: str
    spec: Spec
    smap: SourceMap
    text: str

    def at(self, path: tuple, *, key: bool = False, offset: int | None = None) -> Location:
        """Location of a value (or of its key); ``offset`` points at a character inside a one-line string."""
        line, col = self.smap.key(path) if key else self.smap.value(path)
        if offset is not None:
            col += offset + _quote_shift(self.text, line, col)
        return Location(self.file, line, col, spec_path(path))


def _quote_shift(text: str, line: int, col: int) -> int:
    # Offsets inside a string count from its first character, after any opening quote.
    lines = text.splitlines()
    row = lines[line - 1] if 0 < line <= len(lines) else ""
    return 1 if row[col - 1: col] in ("'", '"') else 0


def spec_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_spec(file: str | Path) -> LoadedSpec | list[Finding]:
    name = str(file)
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return [make("yaml-syntax", f"cannot read the file: {err}", Location(name, 1, 1, ""), "check the path")]
    parsed = load_yaml(text)
    if isinstance(parsed, YamlProblem):
        return [make(parsed.rule, parsed.message, Location(name, parsed.line, parsed.column, spec_path(parsed.path)), parsed.hint)]
    data, smap = parsed
    if not isinstance(data, dict):
        line, col = smap.value(())
        return [make("yaml-syntax", "a spec must be a mapping of keys to values", Location(name, line, col, ""), "start from a spec in specs/")]
    try:
        spec = Spec.model_validate(data)
    except ValidationError as err:
        return _schema_findings(err, data, smap, name, text)
    return LoadedSpec(name, spec, smap, text)


def _data_path(loc: tuple, data: Any) -> tuple:
    """Drop the parts of a pydantic location that are not in the data (discriminator tags, union arms)."""
    out: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and not isinstance(part, int) and part not in NONLINEARITIES and not _is_arm(part):
            out.append(part)  # a missing or unknown key: keep it, positions fall back to the parent
            break
    return tuple(out)


def _is_arm(part: Any) -> bool:
    return isinstance(part, str) and (part in ("str", "GroupSpec") or part.endswith("]") or "[" in part)


def _schema_findings(err: ValidationError, data: Any, smap: SourceMap, file: str, text: str) -> list[Finding]:
    seen: set = set()
    out: list[Finding] = []
    for e in err.errors():
        if _wrong_arm(e):
            continue
        path = _data_path(e["loc"], data)
        message, hint, at_key = _describe(e, path)
        line, col = smap.key(path) if at_key else smap.value(path)
        if (line, col, message) in seen:
            continue
        seen.add((line, col, message))
        out.append(make("schema", message, Location(file, line, col, spec_path(path)), hint))
    return _drop_union_noise(out)


def _wrong_arm(e: dict) -> bool:
    """For ``group: str | {name, n}``, report only against the arm that matches the value's shape."""
    loc, value = e["loc"], e.get("input")
    return ("str" in loc and isinstance(value, dict)) or ("GroupSpec" in loc and isinstance(value, str))


def _drop_union_noise(findings: list[Finding]) -> list[Finding]:
    # A value that fits no arm of a union yields one error per arm; keep the first per position.
    by_pos: dict = {}
    for f in findings:
        by_pos.setdefault((f.location.line, f.location.column), f)
    return list(by_pos.values())


def _describe(e: dict, path: tuple) -> tuple[str, str, bool]:
    kind, last = e["type"], (path[-1] if path else "")
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(last), sorted(all_keys()), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "remove it; see the spec language in the README"
        return f"unknown key {last!r}", hint, True
    if kind == "missing":
        return f"missing required key {last!r}", f"add '{last}: ...'", False
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        got = e.get("input", {}).get("nonlinearity") if isinstance(e.get("input"), dict) else None
        close = difflib.get_close_matches(str(got), NONLINEARITIES, n=1, cutoff=0.5)
        guess = f"did you mean {close[0]!r}? " if close else ""
        shown = "no 'nonlinearity' key" if got is None else f"unknown nonlinearity {got!r}"
        return shown, f"{guess}valid: {', '.join(NONLINEARITIES)}", False
    value = e.get("input")
    quoted = f" (got {value!r})" if not isinstance(value, (dict, list)) else ""
    return f"{spec_path(path) or 'spec'}: {e['msg']}{quoted}", _hint_for(kind, e), False


def _hint_for(kind: str, e: dict) -> str:
    ctx = e.get("ctx") or {}
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        allowed = re.findall(r"'([^']*)'", expected) or [expected]
        close = difflib.get_close_matches(str(e.get("input")), allowed, n=1, cutoff=0.5)
        guess = f"did you mean {close[0]!r}? " if close else ""
        return f"{guess}expected one of: {', '.join(allowed)}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return "use a value in the allowed range"
    if "int" in kind:
        return "use a whole number"
    if kind == "string_pattern_mismatch":
        return "use letters, digits, '_', '.' and '-', starting with a letter or digit"
    if "string" in kind:
        return "use a quoted string"
    if kind in ("bool_type", "float_type"):
        return "use a number"
    return "see the spec language in the README"
