"""YAML to plain data, keeping where every key and value came from, and refusing duplicate keys.

A spec is small, so the reader is bounded before anything can blow up: the text's size (MAX_BYTES), the
nodes visited with aliases expanded (MAX_NODES: an alias bomb stops here, within milliseconds), the nesting
depth (MAX_DEPTH), and recursive aliases. Keys must be strings; merge keys are refused rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import yaml

Path: TypeAlias = tuple[str | int, ...]  # a path into the data: ("hidden", 0, "band_limit")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 40
MAX_STRING = 10_000


@dataclass
class SourceMap:
    """1-based (line, column) of each value, and of each mapping key, by data path."""

    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def value(self, path: Path) -> tuple[int, int]:
        """Position of the value at path, or of the nearest enclosing value that exists."""
        path = tuple(path)
        while path and path not in self.values:
            path = path[:-1]
        return self.values.get(path, (1, 1))

    def key(self, path: Path) -> tuple[int, int]:
        return self.keys.get(tuple(path), self.value(path))


@dataclass(frozen=True)
class YamlProblem:
    rule: str  # "yaml-syntax" or "duplicate-key"
    message: str
    line: int
    column: int
    path: Path
    hint: str


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Walker:
    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.smap = SourceMap()
        self.nodes = 0
        self.open: set[int] = set()  # ids of the collection nodes being walked: an alias back to one is a loop

    def walk(self, node: yaml.Node, path: Path) -> Any:
        self._guard(node, path)
        self.smap.values[path] = _pos(node)
        if not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            return self._scalar(node, path)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.walk(child, path + (i,)) for i, child in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _guard(self, node: yaml.Node, path: Path) -> None:
        self.nodes += 1
        if id(node) in self.open:
            raise _Stop(
                _problem("yaml-syntax", "a recursive alias (it contains itself)", node, path, "write the value out instead of aliasing it")
            )
        if self.nodes > MAX_NODES:
            raise _Stop(
                _problem(
                    "yaml-syntax",
                    f"the spec expands to more than {MAX_NODES:,} values (aliases included)",
                    node,
                    path,
                    "specs are small: write the values out, without aliases that multiply",
                )
            )
        if len(path) > MAX_DEPTH:
            raise _Stop(_problem("yaml-syntax", f"the spec nests deeper than {MAX_DEPTH} levels", node, path, "flatten it"))

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        try:
            value = self.loader.construct_object(node, deep=True)
        except ValueError as err:  # e.g. an integer of more digits than Python converts
            raise _Stop(_problem("schema", f"cannot read the value: {err}", node, path, "use a number of ordinary size")) from None
        if isinstance(value, str) and len(value) > MAX_STRING:  # every later step would copy or compare it
            raise _Stop(
                _problem("schema", f"a value of {len(value):,} characters", node, path, f"values are at most {MAX_STRING:,} characters")
            )
        return value

    def _key(self, key_node: yaml.Node, path: Path) -> str:
        if key_node.tag == "tag:yaml.org,2002:merge":
            raise _Stop(_problem("yaml-syntax", "merge keys (<<) are not supported", key_node, path, "write the keys out"))
        if not isinstance(key_node, yaml.ScalarNode):
            raise _Stop(
                _problem("schema", "a key must be a plain name, not a list or a mapping", key_node, path, "use a name such as 'hidden'")
            )
        key = self._scalar(key_node, path)
        if not isinstance(key, str):
            raise _Stop(_problem("schema", f"the key {key!r} is not a name", key_node, path, f"quote it ('{key}') if it is meant as one"))
        return key

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key in out:
                first = self.smap.keys[path + (key,)]
                line, col = _pos(key_node)
                raise _Stop(
                    YamlProblem(
                        "duplicate-key",
                        f"duplicate key {key!r} (first defined at line {first[0]})",
                        line,
                        col,
                        path + (key,),
                        f"keep one {key!r}: YAML would silently use the last one",
                    )
                )
            self.smap.keys[path + (key,)] = _pos(key_node)
            out[key] = self.walk(value_node, path + (key,))
        return out


def _line_col(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def _problem(rule: str, message: str, node: yaml.Node, path: Path, hint: str) -> YamlProblem:
    line, col = _pos(node)
    return YamlProblem(rule, message, line, col, path, hint)


class _Stop(Exception):
    def __init__(self, problem: YamlProblem) -> None:
        self.problem = problem


def load_yaml(text: str) -> tuple[Any, SourceMap] | YamlProblem:
    if len(text) > MAX_BYTES:
        return YamlProblem(
            "yaml-syntax", f"the file is larger than {MAX_BYTES:,} characters", 1, 1, (), "specs are small: is this the right file?"
        )
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlProblem("yaml-syntax", "the file is empty", 1, 1, (), "start from a spec in specs/")
        walker = _Walker(loader)
        return walker.walk(node, ()), walker.smap
    except _Stop as stop:
        return stop.problem
    except yaml.reader.ReaderError as err:  # a character YAML does not allow (NUL, most control characters)
        line, col = _line_col(text, err.position)
        return YamlProblem("yaml-syntax", f"the file holds a character YAML does not allow ({err.character!r})", line, col, (), "remove it")
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return YamlProblem("yaml-syntax", f"invalid YAML: {err.problem}", line, col, (), "check indentation, quotes and colons")
    except yaml.YAMLError as err:
        return YamlProblem("yaml-syntax", f"invalid YAML: {err}", 1, 1, (), "check the file's syntax")
    finally:
        loader.dispose()
