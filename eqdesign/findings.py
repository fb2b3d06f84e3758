"""Findings are values: rules return them and never raise.

A finding names its rule, which codes.py's table declares (id, name, severity, documentation).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

# the rule table's names, re-exported: findings and their rules have always been imported from here
from .codes import BUILD_RULES as BUILD_RULES
from .codes import MANDATORY as MANDATORY
from .codes import RULES as RULES
from .codes import SPEC_RULES as SPEC_RULES
from .codes import Rule as Rule
from .codes import Severity as Severity


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    spec_path: str  # e.g. "hidden[0].band_limit"

    def __str__(self) -> str:
        return f"{printable(self.file)}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Finding:
    rule_id: str
    rule: str
    severity: Severity
    message: str
    location: Location
    hint: str = ""


def count(findings: Sequence[Finding], severity: Severity) -> int:
    return sum(f.severity == severity for f in findings)


class FindingTotals:
    """``errors`` and ``warnings`` of anything that holds ``findings`` (a spec's check, a report entry)."""

    findings: list[Finding]

    @property
    def errors(self) -> int:
        return count(self.findings, Severity.ERROR)

    @property
    def warnings(self) -> int:
        return count(self.findings, Severity.WARNING)


#: messages quote the user's input; a quoted value is cut here, so that a huge one cannot flood a report
MAX_MESSAGE = 500


def make(name: str, message: str, location: Location, hint: str = "") -> Finding:
    r = RULES[name]
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return Finding(r.rule_id, r.name, r.severity, message, location, hint)


def close_matches(word: str, options: Sequence[str], cutoff: float = 0.6, n: int = 1) -> list[str]:
    """The option closest to a misspelt word, for a "did you mean" hint; none for a word far longer than any
    option (comparing a huge value, pasted or expanded from an alias, would take seconds)."""
    if len(word) > 4 * max((len(o) for o in options), default=0) + 8:
        return []
    return difflib.get_close_matches(word, list(options), n=n, cutoff=cutoff)


def printable(text: str) -> str:
    """Text with control characters escaped: a file name holding a newline or an escape sequence must not
    start a line of its own in a report (a CI annotation, say) or drive the terminal."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
