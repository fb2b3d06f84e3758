"""Reporters, by format name. Each takes an output stream; the CLI picks one and hands it a result."""

from __future__ import annotations

from typing import Callable, TextIO


def _human(out: TextIO):
    from .human import HumanReporter  # rich is imported only when a human report is asked for

    return HumanReporter(out)


def _json(out: TextIO):
    from .jsonfmt import JsonReporter

    return JsonReporter(out)


REPORTERS: dict[str, Callable[[TextIO], object]] = {"human": _human, "json": _json}


def reporter(name: str, out: TextIO):
    return REPORTERS[name](out)
