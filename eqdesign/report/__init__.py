"""Reporters, by format name: every byte a user reads comes from here.

A reporter takes an output stream and has one method per command result (``check``, ``build``,
``verify``), plus ``error`` for a command that could not start and ``data``/``table``/``text`` for
listings. The CLI picks one from REPORTERS and hands it the command's result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TextIO


class Reporter(Protocol):
    def check(self, result: Any) -> None: ...

    def build(self, batch: Any) -> None: ...

    def verify(self, batch: Any) -> None: ...

    def error(self, message: str, code: int) -> None: ...


def _lazy(module: str, cls: str) -> Callable[[TextIO], Any]:
    """A factory that imports its module only when that format is asked for."""

    def make(out: TextIO) -> Any:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{module}"), cls)(out)

    return make


REPORTERS: dict[str, Callable[[TextIO], Any]] = {
    "human": _lazy("human", "HumanReporter"),  # rich is imported only when a human report is asked for
    "json": _lazy("jsonfmt", "JsonReporter"),
    "concise": _lazy("concise", "ConciseReporter"),
    "github": _lazy("github", "GithubReporter"),
    "sarif": _lazy("sarif", "SarifReporter"),
    "junit": _lazy("junit", "JUnitReporter"),
    "gitlab": _lazy("gitlab", "GitlabReporter"),
}
#: the formats of findings, which `check` and `build` both speak; `verify` and the listings speak human and json
FINDING_FORMATS = tuple(REPORTERS)


def reporter(name: str, out: TextIO) -> Any:
    return REPORTERS[name](out)
