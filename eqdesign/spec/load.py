"""Read a spec file into a validated Spec with its source map, or into located findings."""

from __future__ import annotations

import codecs
import math
import os
import re
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ..findings import Finding, Location, close_matches, make
from .model import GROUP_NAMES, NONLINEARITIES, ORDERED_GROUPS, Spec, all_keys, float_literal
from .yamlsrc import MAX_BYTES, SourceMap, YamlProblem, load_yaml
from .yamlsrc import Path as DataPath


@dataclass(frozen=True)
class LoadedSpec:
    file: str
    spec: Spec
    smap: SourceMap
    text: str

    def at(self, path: DataPath, *, key: bool = False, offset: int | None = None) -> Location:
        """Location of a value (or of its key); ``offset`` points at a character inside a one-line string."""
        line, col = self.smap.key(path) if key else self.smap.value(path)
        if offset is not None:
            col += offset + _quote_shift(self.text, line, col)
        return Location(self.file, line, col, spec_path(path))


def _quote_shift(text: str, line: int, col: int) -> int:
    # Offsets inside a string count from its first character, after any opening quote.
    lines = text.splitlines()
    row = lines[line - 1] if 0 < line <= len(lines) else ""
    return 1 if row[col - 1 : col] in ("'", '"') else 0


def spec_path(path: DataPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_text(path: Path) -> str | Finding:
    """The file's text: a regular file only (a FIFO or a device would hang the reader), of bounded size,
    UTF-8 or, where a byte-order mark says so, UTF-16/32."""
    where = Location(str(path), 1, 1, "")
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return make("yaml-syntax", "not a regular file", where, "name a .yaml spec file")
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        return make("yaml-syntax", f"cannot read the file: {err.strerror or err}", where, "check the path and its permissions")
    if len(data) > MAX_BYTES:
        return make("yaml-syntax", f"the file is larger than {MAX_BYTES:,} bytes", where, "specs are small: is this the right file?")
    return _decode(data, where)


def _decode(data: bytes, where: Location) -> str | Finding:
    boms = (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
        (codecs.BOM_UTF8, "utf-8-sig"),
    )
    encoding = next((enc for bom, enc in boms if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        return make("yaml-syntax", f"the file is not valid {encoding.upper()} text (byte {err.start})", where, "save it as UTF-8")


def load_spec(file: str | Path, test_defaults: dict[str, Any] | None = None) -> LoadedSpec | list[Finding]:
    """``test_defaults`` (from the configuration) fill the keys of ``tests:`` that the spec leaves out."""
    name = str(file)
    text = read_text(Path(file))
    if isinstance(text, Finding):
        return [replace(text, location=Location(name, 1, 1, ""))]
    return load_text(text, name, test_defaults)


def load_text(text: str, name: str, test_defaults: dict[str, Any] | None = None) -> LoadedSpec | list[Finding]:
    """A spec given as text; ``name`` stands for the file in every location (``<string>``, say)."""
    parsed = load_yaml(text)
    if isinstance(parsed, YamlProblem):
        return [make(parsed.rule, parsed.message, Location(name, parsed.line, parsed.column, spec_path(parsed.path)), parsed.hint)]
    data, smap = parsed
    if not isinstance(data, dict):
        line, col = smap.value(())
        return [
            make("yaml-syntax", "a spec must be a mapping of keys to values", Location(name, line, col, ""), "start from a spec in specs/")
        ]
    try:
        spec = Spec.model_validate(_with_test_defaults(data, test_defaults or {}))
    except ValidationError as err:
        return _schema_findings(err, data, smap, name, text)
    return LoadedSpec(name, spec, smap, text)


def _with_test_defaults(data: dict[Any, Any], defaults: dict[str, Any]) -> dict[Any, Any]:
    tests = data.get("tests", {})
    if not defaults or not isinstance(tests, dict):
        return data  # a malformed tests: is reported as the spec wrote it
    return {**data, "tests": {**defaults, **tests}}


def _data_path(loc: tuple[int | str, ...], data: Any) -> DataPath:
    """Drop the parts of a pydantic location that are not in the data (discriminator tags, union arms)."""
    out: list[int | str] = []
    node = data
    for part in loc:
        child = _child(node, part)
        if child is not _ABSENT:
            out.append(part)
            node = child
        elif isinstance(node, dict) and not isinstance(part, int) and part not in NONLINEARITIES and not _is_arm(part):
            out.append(part)  # a missing or unknown key: keep it, positions fall back to the parent
            break
    return tuple(out)


_ABSENT = object()


def _child(node: Any, part: int | str) -> Any:
    """``node[part]`` where the data has that key or index, else _ABSENT."""
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and part < len(node):
        return node[part]
    return _ABSENT


def _is_arm(part: Any) -> bool:
    return isinstance(part, str) and (part in ("str", "GroupSpec", "Grid") or part.endswith("]") or "[" in part)


#: the unions of a scalar and a mapping: key -> (the scalar arm, the mapping arm) as pydantic names them
_SCALAR_OR_MAPPING = {"group": ("str", "GroupSpec"), "grid": ("literal['auto']", "Grid")}


def _schema_findings(err: ValidationError, data: Any, smap: SourceMap, file: str, text: str) -> list[Finding]:
    seen: set[tuple[int, int, str]] = set()
    out: list[Finding] = []
    for e in err.errors():
        if _wrong_arm(e, data):
            continue
        path = _data_path(e["loc"], data)
        rule, message, hint, at_key = _describe(e, path, data)
        line, col = smap.key(path) if at_key else smap.value(path)
        if (line, col, message) in seen:
            continue
        seen.add((line, col, message))
        out.append(make(rule, message, Location(file, line, col, spec_path(path)), hint))
    return sorted(_drop_union_noise(out), key=lambda f: (f.location.line, f.location.column))


def _wrong_arm(e: ErrorDetails, data: Any) -> bool:
    """For ``group: str | {name, n}`` and ``grid: auto | {type, ...}``, report only against the arm that
    matches the value's shape. The shape is read from the data, not from the error's input: inside the
    mapping arm the input is the leaf (``'su3'``)."""
    loc, node = e["loc"], data
    for i, part in enumerate(loc[:-1]):
        arms = _SCALAR_OR_MAPPING.get(part) if isinstance(part, str) else None
        child = _child(node, part)
        if arms is not None and loc[i + 1] in arms and child is not _ABSENT:
            return loc[i + 1] != arms[1 if isinstance(child, dict) else 0]
        if child is _ABSENT:
            continue
        node = child
    return False


def _drop_union_noise(findings: list[Finding]) -> list[Finding]:
    # A value that fits no arm of a union yields one error per arm; keep the first per position.
    by_pos: dict[tuple[int, int], Finding] = {}
    for f in findings:
        by_pos.setdefault((f.location.line, f.location.column), f)
    return list(by_pos.values())


def group_hint(got: Any, with_n: bool) -> str:
    """Valid groups, led by the closest name to ``got`` written so that the suggestion itself is valid:
    with ``n`` only where the group takes one."""
    names = list(get_args(GROUP_NAMES))
    close = close_matches(got.strip().lower(), names, cutoff=0.5) if isinstance(got, str) else []
    valid = f"valid: {', '.join(names)} ({' and '.join(ORDERED_GROUPS)} take n: {{name: cyclic, n: 8}} or 'c8')"
    if not close:
        return valid
    name = close[0]
    if name in ORDERED_GROUPS:
        guess = f"did you mean name: {name}?" if with_n else f"did you mean {{name: {name}, n: 8}}?"
    else:
        guess = f"did you mean 'group: {name}' (it takes no n)?" if with_n else f"did you mean {name!r}?"
    return f"{guess} {valid}"


def _describe(e: ErrorDetails, path: DataPath, data: Any) -> tuple[str, str, str, bool]:
    """(rule, message, hint, located at the key rather than the value) for one pydantic error."""
    kind, last = e["type"], (path[-1] if path else "")
    value = _original(data, path, e.get("input"))
    if kind == "extra_forbidden":
        close = close_matches(str(last), sorted(all_keys()), cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else "remove it; see the spec language in the README"
        return "schema", f"unknown key {last!r}", hint, True
    if path == ("group", "name"):
        return _group_name(kind, value, data)
    if kind == "invalid_key":
        # e.g. {tolerance: 1, 5}: in a flow mapping a comma starts a new key, here the number 5
        return "schema", f"key {_shown(last)} is not a name", "keys are words such as 'tolerance'; quote a value that holds a comma", True
    if kind == "missing":
        return "schema", f"missing required key {last!r}", f"add '{last}: ...'", False
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        got = value.get("nonlinearity") if isinstance(value, dict) else None
        close = close_matches(str(got), NONLINEARITIES, cutoff=0.5)
        guess = f"did you mean {close[0]!r}? " if close else ""
        shown = "no 'nonlinearity' key" if got is None else f"unknown nonlinearity {got!r}"
        return "schema", shown, f"{guess}valid: {', '.join(NONLINEARITIES)}", False
    if path == ("group",):
        message = f"group must be a name such as so3 or a mapping such as {{name: cyclic, n: 8}} (got {_shown(value)})"
        return "schema", message, group_hint(value, False), False
    quoted = f" (got {_shown(value)})" if not isinstance(value, (dict, list)) else ""
    return "schema", f"{spec_path(path) or 'spec'}: {e['msg']}{quoted}", _hint_for(kind, e, path, data), False


def _shown(value: Any) -> str:
    """A scalar as the YAML file spells it: true, null, '8'."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return repr(value)


def _original(data: Any, path: DataPath, fallback: Any) -> Any:
    """The value as the YAML file has it (validators may have rewritten pydantic's input, '1e3' -> 1000.0)."""
    node = data
    for part in path:
        node = _child(node, part)
        if node is _ABSENT:
            return fallback
    return node


def _group_name(kind: str, value: Any, data: dict[str, Any]) -> tuple[str, str, str, bool]:
    with_n = "n" in data["group"]
    if kind == "missing":
        return "schema", "missing required key 'name' in group", "add 'name: ...'; " + group_hint("", with_n), False
    return "unknown-group", f"unknown group {value!r}", group_hint(value, with_n), False


def _hint_for(kind: str, e: ErrorDetails, path: DataPath, data: Any) -> str:
    ctx = e.get("ctx") or {}
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        allowed = re.findall(r"'([^']*)'", expected) or [expected]
        close = close_matches(str(e.get("input")), allowed, cutoff=0.5)
        guess = f"did you mean {close[0]!r}? " if close else ""
        return f"{guess}expected one of: {', '.join(allowed)}"
    if kind in _NUMBER_ERRORS:
        return _number_hint(e.get("input"), path, data)
    if kind == "too_short":
        return _too_short_hint(path, int(ctx.get("min_length", 1)))
    if kind == "string_pattern_mismatch":
        return "use letters, digits, '_', '.' and '-', starting with a letter or digit"
    if "string" in kind:
        return "use a quoted string"
    return "see the spec language in the README"


_NUMBER_ERRORS = frozenset(
    {
        "int_type",
        "int_from_float",
        "int_parsing",
        "float_type",
        "float_parsing",
        "bool_type",
        "finite_number",
        "greater_than_equal",
        "less_than_equal",
        "greater_than",
        "less_than",
    }
)


def _number_hint(value: Any, path: DataPath, data: Any) -> str:
    """A hint for a number of the wrong type or range. A concrete rewrite is proposed only after checking
    that the spec accepts it there; otherwise the allowed range, read from the model itself."""
    last = path[-1] if path else "value"
    whole = _is_whole_field(data, path)
    fix = _rewrite(value, whole)
    if fix is not None and not _errors_at(data, path, fix):
        return f"write {last}: {fix} ({_how(value)})"
    return f"use {'a whole number' if whole else 'a finite number'} {_bounds(data, path, whole)}".rstrip()


def _how(value: Any) -> str:
    if not isinstance(value, str):
        return "a whole number"
    # Plain digits only arrive as a string when quoted; 1e3 arrives as one because YAML 1.1 wants a dot.
    return "without quotes" if value.strip().lstrip("+-").isdigit() else "in plain digits"


def _rewrite(value: Any, whole: bool) -> int | float | None:
    """The number a mistyped value most likely means: ``'8'`` -> 8, ``1e3`` -> 1000, ``2.0`` -> 2 (whole)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    if isinstance(value, str):
        if not float_literal(value):
            return None
        value = float(value)
    if not math.isfinite(value):
        return None
    if whole:
        return int(value) if float(value).is_integer() else None
    return float(value)


def _bounds(data: Any, path: DataPath, whole: bool) -> str:
    """The allowed range of a numeric field, e.g. "from 1 to 512" or "> 0 and <= 10", found by validating
    extreme values in its place (so it never drifts from the model)."""
    huge = 10**30 if whole else 1e300
    low = {k: v for e in _errors_at(data, path, -huge) for k, v in (e.get("ctx") or {}).items() if k in ("ge", "gt")}
    high = {k: v for e in _errors_at(data, path, huge) for k, v in (e.get("ctx") or {}).items() if k in ("le", "lt")}
    show = {k: _plain(v) for k, v in {**low, **high}.items()}
    if "ge" in show and "le" in show:
        return f"from {show['ge']} to {show['le']}"
    symbols = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
    return " and ".join(f"{symbols[k]} {v}" for k, v in show.items())


def _plain(number: Any) -> str:
    return str(int(number)) if isinstance(number, float) and number.is_integer() else str(number)


def _is_whole_field(data: Any, path: DataPath) -> bool:
    return any(e["type"].startswith("int") for e in _errors_at(data, path, 0.5))


def _too_short_hint(path: DataPath, at_least: int) -> str:
    example = _FIELD_EXAMPLES.get(path)
    return f"give at least {at_least} value{'s' if at_least > 1 else ''}" + (f", e.g. {example}" if example else "")


_FIELD_EXAMPLES: dict[DataPath, str] = {("tests", "scales"): "scales: [0.1, 1.0, 10.0]"}


def _errors_at(data: Any, path: DataPath, value: Any) -> list[ErrorDetails]:
    """The schema errors at ``path`` once its value is replaced by ``value``: how hints test a rewrite."""
    changed = _replaced(data, path, value)
    try:
        Spec.model_validate(changed)
    except ValidationError as err:
        return [e for e in err.errors() if not _wrong_arm(e, changed) and _data_path(e["loc"], changed) == path]
    return []


def _replaced(node: Any, path: DataPath, value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        return {**node, head: _replaced(node.get(head), rest, value)}
    if isinstance(node, list) and isinstance(head, int) and head < len(node):
        return [_replaced(x, rest, value) if i == head else x for i, x in enumerate(node)]
    return node
