"""Where a command's report goes: the chosen format to stdout, or to ``-o FILE`` (written whole or not at
all) with a concise summary left on the terminal; ``--statistics`` replaces the report by counts per rule."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..atomic import write_file
from . import reporter
from .statistics import StatisticsReporter


@dataclass(frozen=True)
class Delivery:
    format: str | None = None  # None: github annotations under GitHub Actions, else human
    output_file: str | None = None
    statistics: bool = False


def chosen_format(name: str | None) -> str:
    if name:
        return name
    return "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "human"


def deliver(command: str, result: Any, how: Delivery) -> str | None:
    """Report ``result`` of ``command`` (check or build); a message where the report file cannot be written."""
    name = chosen_format(how.format)
    if how.output_file is None:
        _render(command, result, name, how.statistics, sys.stdout)
        return None
    text = io.StringIO()
    _render(command, result, name, how.statistics, text)
    problem = write_text(how.output_file, text.getvalue())
    getattr(reporter("concise", sys.stdout), command)(result)
    if problem is None:
        print(f"wrote the {'statistics' if how.statistics else name} report to {how.output_file}")
    return problem


def _render(command: str, result: Any, name: str, statistics: bool, out: TextIO) -> None:
    chosen = StatisticsReporter(out, as_json=name == "json") if statistics else reporter(name, out)
    getattr(chosen, command)(result)


def write_text(file: str, text: str) -> str | None:
    """Write a report whole or not at all; a message (for exit 2) when it cannot be."""
    return write_file(Path(file), text.encode())
