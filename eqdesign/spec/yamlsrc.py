"""YAML to plain data, keeping where every key and value came from, and refusing duplicate keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple  # a path into the data: ("hidden", 0, "band_limit")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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

    def walk(self, node: yaml.Node, path: Path) -> Any:
        self.smap.values[path] = _pos(node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(child, path + (i,)) for i, child in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict:
        out: dict = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if key in out:
                first = self.smap.keys[path + (key,)]
                line, col = _pos(key_node)
                raise _Duplicate(
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


class _Duplicate(Exception):
    def __init__(self, problem: YamlProblem) -> None:
        self.problem = problem


def load_yaml(text: str) -> tuple[Any, SourceMap] | YamlProblem:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlProblem("yaml-syntax", "the file is empty", 1, 1, (), "start from a spec in specs/")
        walker = _Walker(loader)
        return walker.walk(node, ()), walker.smap
    except _Duplicate as dup:
        return dup.problem
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return YamlProblem("yaml-syntax", f"invalid YAML: {err.problem}", line, col, (), "check indentation, quotes and colons")
    except yaml.YAMLError as err:
        return YamlProblem("yaml-syntax", f"invalid YAML: {err}", 1, 1, (), "check the file's syntax")
    finally:
        loader.dispose()
