"""Findings are values: rules return them and never raise.

Every rule has a stable id (``EQ...``) and name; its docstring is its user documentation, printed by
``eqdesign rules``. Ids are never reused or renumbered.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    spec_path: str  # e.g. "hidden[0].band_limit"

    def __str__(self) -> str:
        return f"{printable(self.file)}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Rule:
    rule_id: str
    name: str
    severity: Severity
    doc: str
    fix: str = ""  # how to make the finding go away, in one or two sentences

    @property
    def summary(self) -> str:
        """The doc's first sentence: a rule's one-line description (SARIF's shortDescription, say)."""
        head, _, _ = self.doc.partition(". ")
        return head.rstrip(".") + "."


@dataclass(frozen=True)
class Finding:
    rule_id: str
    rule: str
    severity: Severity
    message: str
    location: Location
    hint: str = ""


RULES: dict[str, Rule] = {}

RuleFn = TypeVar("RuleFn", bound=Callable[..., object])


def rule(rule_id: str, name: str, severity: Severity, fix: str = "") -> Callable[[RuleFn], RuleFn]:
    """Register a rule; the decorated function's docstring documents it, ``fix`` says how to resolve it."""

    def register(fn: RuleFn) -> RuleFn:
        RULES[name] = Rule(rule_id, name, severity, " ".join(inspect.cleandoc(fn.__doc__ or "").split()), fix)
        return fn

    return register


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


# -- rules emitted while reading and resolving a spec: declared here, since no checker function of
# analysis/rules.py stands for them; the checker-backed rules declare themselves with @rule beside their code.


@rule("EQ000", "internal-error", Severity.ERROR)
def _internal_error() -> None:
    """eqdesign itself failed on this spec (a defect, not a problem with the spec). The spec's other results
    are still reported; rerun with EQDESIGN_DEBUG=1 to see the traceback, and please report it."""


@rule("EQ001", "yaml-syntax", Severity.ERROR)
def _yaml_syntax() -> None:
    """The file is not valid YAML, or is not a mapping at the top level."""


@rule("EQ002", "duplicate-key", Severity.ERROR)
def _duplicate_key() -> None:
    """A mapping repeats a key. YAML loaders usually keep the last value silently; eqdesign refuses."""


@rule("EQ003", "schema", Severity.ERROR)
def _schema() -> None:
    """A key is unknown or missing, or a value has the wrong type or range (spec language version 1)."""


@rule("EQ004", "unknown-group", Severity.ERROR)
def _unknown_group() -> None:
    """The ``group`` names no supported group (see ``eqdesign groups``)."""


@rule("EQ005", "unknown-irrep", Severity.ERROR)
def _unknown_irrep() -> None:
    """An irreps string names something that is not an irrep of the group, nor ``vector`` or ``scalar``."""


@rule("EQ104", "invalid-nonlinearity", Severity.ERROR)
def _invalid_nonlinearity() -> None:
    """A nonlinearity that is not equivariant or cannot be built for this group and field type, for
    example a quotient layer on a group without that quotient, or a Fourier layer on a group eqdesign
    cannot sample yet."""


@rule("EQ106", "too-large", Severity.ERROR)
def _too_large() -> None:
    """The design is larger than `build` could finish within the documented limits: an irrep frequency or
    degree, the number of hidden layers, a layer's width, a Fourier grid, the parameter count, or the
    build's estimated peak memory. The message gives the estimate and the limit; each limit can be raised
    with an environment variable EQDESIGN_LIMIT_<NAME>. The analysis stops here, so that nothing large is
    ever computed."""


@rule("EQ006", "config", Severity.ERROR)
def _config() -> None:
    """The configuration (``[tool.eqdesign]`` in pyproject.toml, or eqdesign.toml) is not valid TOML, or
    names an unknown key, rule or severity. The specs it governs are not checked until it is fixed."""


@rule("EQ007", "unused-suppression", Severity.WARNING)
def _unused_suppression() -> None:
    """A spec's ``lint: {ignore: [...]}`` names a rule that reports nothing in this spec. A suppression
    that no longer suppresses anything hides the next real finding of that rule: remove it."""


# -- verdicts of `build`: the numbers, not the spec's text, decide these


@rule("EQ301", "not-equivariant", Severity.ERROR)
def _not_equivariant() -> None:
    """The built model, or one of its layers, is further from equivariant than ``tests.tolerance`` allows
    on the test's group elements and input scales, or no Fourier grid within the limits reached that
    tolerance. Only approximately equivariant (Fourier) layers can fail so; exact layers fail only through
    a defect."""


@rule("EQ302", "build-failed", Severity.ERROR)
def _build_failed() -> None:
    """The design passed ``check`` but could not be built, compiled or exported: escnn refused it, the
    compiled module disagrees with escnn's, the measured influence disagrees with ``check``'s, or two specs
    of one command would write the same artifacts."""


SPEC_RULES = frozenset({"yaml-syntax", "duplicate-key", "schema", "unknown-group", "unknown-irrep", "config"})

#: rules no configuration or suppression can silence or soften: the spec could not be read, or could not
#: be built, or the numbers say the model is wrong. A gate that let these pass would pass a broken spec.
MANDATORY = SPEC_RULES | {
    *("internal-error", "invalid-nonlinearity", "grid-too-small", "empty-linear", "too-large"),
    *("not-equivariant", "build-failed"),
}
