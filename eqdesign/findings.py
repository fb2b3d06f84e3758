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


def count(findings: Sequence[Finding], severity: Severity) -> int:
    return sum(f.severity == severity for f in findings)


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


@rule(
    "EQ000",
    "internal-error",
    Severity.ERROR,
    fix="Nothing in the spec is at fault: rerun with EQDESIGN_DEBUG=1 and report the traceback with the spec. "
    "Until it is fixed, simplifying the layer named in the message may work around it.",
)
def _internal_error() -> None:
    """eqdesign itself failed on this spec (a defect, not a problem with the spec). The spec's other results
    are still reported and the command exits with code 3; rerun with EQDESIGN_DEBUG=1 to see the traceback,
    and please report it. No example spec can trigger it: any spec that does is a bug to fix."""


@rule(
    "EQ001",
    "yaml-syntax",
    Severity.ERROR,
    fix="Correct the syntax at the reported line and column (indentation, quotes, colons, an unclosed bracket); "
    "write recursive aliases and merge keys (<<) out in full.",
)
def _yaml_syntax() -> None:
    """The file is not valid YAML, or is not a mapping at the top level. Besides syntax errors this covers
    what eqdesign refuses to read: an empty file, one that is not UTF-8 text or not a regular file, one far
    larger than any spec, recursive aliases, merge keys (``<<``) and absurdly deep nesting. Nothing else is
    checked until the file can be read."""


@rule(
    "EQ002",
    "duplicate-key",
    Severity.ERROR,
    fix="Delete one of the two entries, keeping the value you mean; the message gives the line of the first.",
)
def _duplicate_key() -> None:
    """A mapping repeats a key. YAML loaders usually keep the last value silently; eqdesign refuses, since
    a spec whose ``output`` or ``band_limit`` is written twice says two different things about the
    design."""


@rule(
    "EQ003",
    "schema",
    Severity.ERROR,
    fix="Change the key or value the message quotes (the hint names the closest valid key or the valid range); "
    "`eqdesign schema` prints every key, type and range of the spec language.",
)
def _schema() -> None:
    """A key is unknown or missing, or a value has the wrong type or range (spec language version 1).
    Unknown keys are refused rather than ignored, so that a misspelt ``band_limt`` cannot silently fall
    back to a default. It also covers values that only make sense together: a Fourier layer on a continuous
    group needs a ``band_limit``, since the regular representation of SO(2) or SO(3) contains every irrep
    and is infinite-dimensional until it is cut off at a frequency L; ``degree`` belongs to the polynomial
    (``_poly``) layers only; and ``lint.ignore`` must name rules that exist and can be ignored."""


@rule(
    "EQ004",
    "unknown-group",
    Severity.ERROR,
    fix="Name a group that `eqdesign groups` lists, such as `group: so3`; give cyclic and dihedral groups "
    "their order, as `group: {name: cyclic, n: 8}` or `group: c8`.",
)
def _unknown_group() -> None:
    """The ``group`` names no supported group (see ``eqdesign groups``). A cyclic or dihedral group without
    a valid order n is refused too. The group fixes everything else: its irreps, which irreps a linear
    layer may map into each other (Schur's lemma), its tensor products and its Fourier grids."""


@rule(
    "EQ005",
    "unknown-irrep",
    Severity.ERROR,
    fix="Write the irreps as `eqdesign groups <group>` names them, as terms `<multiplicity>x<irrep>` joined "
    'by +: "2x0 + 1x1" on SO(3), "1x0e + 1x1o" on O(3), "1x vector" on any group with a standard '
    "representation.",
)
def _unknown_irrep() -> None:
    """An irreps string names something that is not an irrep of the group, nor ``vector`` or ``scalar``.
    Field types are direct sums of irreducible representations, and each group names its own: SO(3) irreps
    by their degree l (0, 1, 2, ...), O(3) irreps by degree and parity (0e, 1o, ...), SO(2) irreps by their
    frequency, finite groups by escnn's names. ``vector`` is the group's standard representation and
    ``scalar`` its trivial one."""


@rule(
    "EQ104",
    "invalid-nonlinearity",
    Severity.ERROR,
    fix="Use a quotient the group has (the hint names it) or the plain Fourier layer (fourier_elu); on a group "
    "without Fourier sampling, use norm, gated or tensor_product layers instead.",
)
def _invalid_nonlinearity() -> None:
    """A nonlinearity that cannot be built equivariantly for this group. A pointwise nonlinearity commutes
    with the group only on a representation that permutes sample points: a Fourier layer samples the
    band-limited regular representation on a grid of group elements, and a quotient layer samples functions
    on a homogeneous space G/H (the sphere SO(3)/SO(2), the circle O(2)/SO(2)). A quotient layer on a group
    without that quotient, or a Fourier layer on a group eqdesign cannot sample yet (the cylinder groups),
    has no such representation."""


@rule(
    "EQ106",
    "too-large",
    Severity.ERROR,
    fix="Lower the size the message names (an irrep frequency, band_limit, channels, the number of layers or "
    "the grid) below its limit, or raise that limit with `EQDESIGN_LIMIT_<NAME>` if the machine can afford it.",
)
def _too_large() -> None:
    """The design is larger than ``build`` could finish within the documented limits. The limits bound an
    irrep's frequency or degree, the number of hidden layers, a layer's width, a Fourier grid, the
    parameter count, and the build's estimated peak memory. Sizes grow fast with frequency: the band-limited regular representation
    of SO(3) has sum over l <= L of (2l+1)^2, about 4L^3/3, coefficients per channel, its grid needs at
    least as many points, and a band-limit L Fourier layer on SO(2) needs at least 2L + 1 points. The
    message gives the estimate and the limit; each limit can be raised with an environment variable
    ``EQDESIGN_LIMIT_<NAME>``. The analysis stops here, so that nothing large is ever computed."""


@rule(
    "EQ006",
    "config",
    Severity.ERROR,
    fix="Correct the configuration file at the reported line: valid TOML, only the keys select, ignore, strict, "
    "severity and tests, rule ids or names that `eqdesign rules` lists, and severities error, warning or info.",
)
def _config() -> None:
    """The project configuration (``[tool.eqdesign]`` in pyproject.toml, or eqdesign.toml) is invalid. It
    is not valid TOML, names an unknown key, rule or severity, or tries to ignore or soften a rule that
    can never be ignored. The specs it governs are not checked until it is fixed. It concerns the
    project's configuration file, not a spec, so no example spec triggers it."""


@rule(
    "EQ007",
    "unused-suppression",
    Severity.WARNING,
    fix="Remove the rule from the spec's lint.ignore list (and the lint: key once the list is empty).",
)
def _unused_suppression() -> None:
    """A spec's ``lint: {ignore: [...]}`` names a rule that reports nothing in this spec. A suppression
    that no longer suppresses anything hides the next real finding of that rule: remove it."""


# -- verdicts of `build`: the numbers, not the spec's text, decide these


@rule(
    "EQ301",
    "not-equivariant",
    Severity.ERROR,
    fix="Remove the layer's explicit grid: (grid: auto picks a weighted quadrature sized to tests.tolerance); "
    "if that fails too, lower band_limit or use fourier_poly, whose quadrature can be exact. Loosen "
    "tests.tolerance only if the measured error is acceptable.",
)
def _not_equivariant() -> None:
    """The built model, or one of its layers, is further from equivariant than ``tests.tolerance`` allows. It
    is measured on the test's group elements and input scales; the verdict is also given when no Fourier
    grid within the limits reached that tolerance. Only approximately equivariant (Fourier) layers can fail
    so; exact layers fail only through a defect. A Fourier layer applies its nonlinearity to samples of a
    band-limited signal and projects the result back onto the irreps of frequency at most L. That projection
    commutes with the group only when the grid is a quadrature rule exact for the activated signal times
    every band-L function: degree (p + 1)L for a polynomial activation of degree p (fourier_poly). ELU or
    ReLU of a band-limited signal is not band-limited, so its projection aliases higher frequencies on any
    grid, more so at large input scales, and an unweighted grid (no quadrature weights) is not exact even
    for band-limited signals. ``check`` warns about coarse grids in advance (grid-too-coarse), but only
    ``build`` measures the error."""


@rule(
    "EQ302",
    "build-failed",
    Severity.ERROR,
    fix="If two specs of one command would write the same artifacts, give them different names. Otherwise "
    "report the message with the spec (check and escnn disagree), and change the layer it names to work around it.",
)
def _build_failed() -> None:
    """The design passed ``check`` but could not be built, compiled or exported. Either escnn refused it, the
    compiled module disagrees with escnn's, the measured influence disagrees with ``check``'s, or two specs
    of one command would write the same artifacts. Apart from the last, it is a disagreement between
    eqdesign's representation-theoretic analysis and escnn's construction, so no clean example spec
    triggers it."""


#: the rules only `build` reports (its numerical verdicts)
BUILD_RULES = frozenset({"not-equivariant", "build-failed"})

SPEC_RULES = frozenset({"yaml-syntax", "duplicate-key", "schema", "unknown-group", "unknown-irrep", "config"})

#: rules no configuration or suppression can silence or soften: the spec could not be read, or could not
#: be built, or the numbers say the model is wrong. A gate that let these pass would pass a broken spec.
MANDATORY = SPEC_RULES | {
    *("internal-error", "invalid-nonlinearity", "grid-too-small", "empty-linear", "too-large"),
    *BUILD_RULES,
}
