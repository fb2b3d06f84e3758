"""``load_spec``: a spec from a file, a YAML text or a dict, read and resolved as `eqdesign check` reads it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

import yaml

from ..analysis.checking import SpecResult, check_loaded
from ..analysis.config import DEFAULT, Config, ConfigError, config_for, load_config
from ..findings import SPEC_RULES, Location, make
from ..spec.load import LoadedSpec, load_text
from ..spec.load import load_spec as load_file
from ..spec.model import Spec as SpecModel
from .errors import SpecError

#: where a spec comes from: a path, a YAML text (it holds a newline or starts with "{"), or a mapping
Source: TypeAlias = "str | os.PathLike[str] | Mapping[str, Any]"
#: what names a spec for the API: a source, or a Spec already loaded
SpecSource: TypeAlias = "Source | Spec"

#: the file name a spec given as text or as a mapping has in its findings
TEXT_NAME = "<string>"


class Spec:
    """A spec that was read and resolved: its group, its input and output irreps and its hidden layers are
    valid. ``file`` names it in findings (``<string>`` for one given as text); ``text`` is its YAML.

    >>> spec = load_spec({"name": "demo", "group": "so2", "input": "1x vector", "output": "1x 0",
    ...                   "hidden": [{"nonlinearity": "norm_relu", "fields": "4x 1"}]})
    >>> spec.name, spec.group, spec.input, spec.output
    ('demo', 'so2', '1x vector', '1x 0')
    """

    def __init__(self, loaded: LoadedSpec, config: Config, checked: SpecResult) -> None:
        self._loaded, self._config, self._checked = loaded, config, checked

    @property
    def file(self) -> str:
        return self._loaded.file

    @property
    def text(self) -> str:
        return self._loaded.text

    @property
    def model(self) -> SpecModel:
        """The validated spec (a pydantic model): every key, with its default where the spec leaves it out."""
        return self._loaded.spec

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def group(self) -> str:
        g = self.model.group
        return g if isinstance(g, str) else f"{g.name}{g.n or ''}"

    @property
    def input(self) -> str:
        return self.model.input

    @property
    def output(self) -> str:
        return self.model.output

    def __repr__(self) -> str:
        return f"Spec(name={self.name!r}, group={self.group!r}, input={self.input!r}, output={self.output!r}, file={self.file!r})"


def load_spec(source: SpecSource, *, config: str | os.PathLike[str] | None = None, isolated: bool = False) -> Spec:
    """Read and resolve a spec, or raise :class:`SpecError` with the located findings `eqdesign check` gives.

    ``source``: a path to a YAML file, a YAML text, or a mapping (a dict as ``yaml.safe_load`` makes it).
    A file is judged under the configuration nearest to it (``eqdesign.toml`` or a ``pyproject.toml`` with
    a ``tool.eqdesign`` table), as the command line judges it; ``config`` names one explicitly, and
    ``isolated`` reads none. Findings that only `check` reports (an unreachable output, say) do not raise:
    :func:`check` returns them.

    >>> load_spec("name: demo\\ngroup: so3\\ninput: 1x vector\\noutput: 1x 7q\\nhidden: []\\n")
    Traceback (most recent call last):
    ...
    eqdesign.SpecError: <string>:4:12: error [EQ005 unknown-irrep] '7q' is not an irrep of SO(3) in '1x 7q' (hint: ...)
    """
    if isinstance(source, Spec):
        return source
    governing = _config(source, config, isolated)
    loaded = _read(source, governing.tests)
    checked = check_loaded(loaded, governing)
    refused = [f for f in checked.all_findings() if f.rule in SPEC_RULES or f.rule == "internal-error"]
    if refused:
        raise SpecError(refused)
    return Spec(loaded, governing, checked)


def _is_text(source: str) -> bool:
    return "\n" in source or source.lstrip().startswith("{")


def _config(source: Source, explicit: str | os.PathLike[str] | None, isolated: bool) -> Config:
    try:
        if explicit is not None and not isolated:
            return load_config(Path(explicit), explicit=True)
        if isolated or isinstance(source, Mapping) or (isinstance(source, str) and _is_text(source)):
            return DEFAULT
        return config_for(str(Path(os.fspath(source)).parent))
    except ConfigError as err:
        raise SpecError([err.finding]) from None


def _read(source: Source, defaults: dict[str, Any]) -> LoadedSpec:
    if isinstance(source, Mapping):
        loaded = load_text(_dumped(source), TEXT_NAME, defaults)
    elif isinstance(source, str) and _is_text(source):
        loaded = load_text(source, TEXT_NAME, defaults)
    else:
        loaded = load_file(os.fspath(source), defaults)
    if isinstance(loaded, list):
        raise SpecError(loaded)
    return loaded


def _dumped(data: Mapping[str, Any]) -> str:
    """A mapping as the YAML text the artifacts will carry (keys in the order given)."""
    try:
        return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True)
    except yaml.YAMLError as err:
        where = Location(TEXT_NAME, 1, 1, "")
        raise SpecError(
            [make("schema", f"the mapping cannot be written as YAML: {err}", where, "use str, int, float, list and dict values")]
        ) from None
