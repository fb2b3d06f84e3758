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


def _human(out: TextIO) -> Any:
    from .human import HumanReporter  # rich is imported only when a human report is asked for

    return HumanReporter(out)


def _json(out: TextIO) -> Any:
    from .jsonfmt import JsonReporter

    return JsonReporter(out)


REPORTERS: dict[str, Callable[[TextIO], Any]] = {"human": _human, "json": _json}


def reporter(name: str, out: TextIO) -> Any:
    return REPORTERS[name](out)
