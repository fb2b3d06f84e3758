"""The irreps notation of specs: ``"2x0e + 1x1o"``, ``"1x vector + 1x 0"``, ``"1 + 1 + 2"``.

A term is ``[MULT x] NAME``; terms are joined by ``+``. NAME is an irrep's canonical name, ``vector`` (the
group's standard representation in natural coordinates) or ``scalar`` (the trivial irrep). Groups whose
networks have a hidden inversion (SO(3)) also take fields with a declared parity: ``1_even`` (an irrep with
its parity), ``pseudovector`` (an axial vector in xyz), ``polar_vector`` and ``pseudoscalar``. The model treats them as the plain
irrep; only the analysis reads the parity. SO(3) and O(3) also take Cartesian tensor fields (``sym_matrix``,
``cartesian(ijk=jik=ikj)``, see theory.cartesian): their irreps inside the network, all 3^k components outside.
Parsing never raises: it returns terms or a NotationError that says which column of the string is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..findings import close_matches
from .cartesian import Cartesian, is_cartesian_name, parse_cartesian
from .group import Group, NamedRep, ParityField
from .irreps import Irrep

_TERM = re.compile(r"^\s*(?:([0-9]+)\s*[xX*]\s*)?([A-Za-z0-9_'\-]+(?:\([^()]*\))?)\s*$")
#: an irreps string is short: more terms, longer numbers or larger multiplicities are refused while reading,
#: before anything is built from them (a digit run of thousands of digits cannot even become an int)
MAX_TERMS = 256
MAX_DIGITS = 12
MAX_MULTIPLICITY = 100_000
ALIASES = ("scalar", "vector")
CARTESIAN_HINT = (
    "Cartesian fields (SO(3) and O(3)): matrix, sym_matrix, traceless_sym_matrix, antisym_matrix, or cartesian(FORMULA) "
    "with index orderings joined by '=' (a '-' for antisymmetry), e.g. cartesian(ij=ji), cartesian(ijk=jik=ikj)"
)


@dataclass(frozen=True)
class Field:
    """One field of a field type: an irrep, or a named representation such as ``vector``."""

    name: str
    irreps: tuple[Irrep, ...]
    basis: str = ""
    #: declared inversion parity per irrep (+1 even, -1 odd); empty when none was declared
    parity: tuple[int, ...] = ()
    #: a Cartesian tensor field: its components are given and returned in Cartesian form (``width`` of them)
    cartesian: Cartesian | None = None
    #: an irrep field the user holds in e3nn's real basis (spec ``basis: e3nn``), converted at the model's edges
    e3nn: bool = False

    @property
    def dim(self) -> int:
        return sum(i.dim for i in self.irreps)

    @property
    def width(self) -> int:
        """The columns the field takes in the model's input or output: its dimension, or 3^rank components
        for a Cartesian tensor."""
        return self.cartesian.width if self.cartesian is not None else self.dim


@dataclass(frozen=True)
class Term:
    mult: int
    field: Field


@dataclass(frozen=True)
class NotationError:
    message: str
    offset: int  # column offset of the bad token inside the string
    hint: str


def _field_for(group: Group, name: str) -> Field | str | None:
    if is_cartesian_name(name):
        tensor = parse_cartesian(group, name)
        return tensor if isinstance(tensor, str) else Field(name, tensor.irreps, tensor.basis, tensor.parity, tensor)
    if name == "scalar":
        return Field(group.trivial.name, (group.trivial,))
    if name == "vector":
        rep: NamedRep | None = group.vector
        return Field("vector", rep.irreps, rep.basis) if rep else None
    irrep = group.irrep_by_name(name)
    if irrep is not None:
        return Field(irrep.name, (irrep,))
    declared: ParityField | None = group.parity_field(name)
    return Field(name, declared.irreps, declared.basis, declared.parity) if declared else None


def unknown_name_hint(group: Group, name: str) -> str:
    valid = group.example_names() + [a for a in ALIASES if a != "vector" or group.vector] + group.parity_examples()
    close = close_matches(name, valid, cutoff=0.5, n=3)
    guess = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    more = ", ..." if not group.finite else ""
    degree = name[:-1]
    if group.parity_examples() and degree.isdigit() and name[-1] in "eo":  # O(3)'s name for a parity sector
        spelled = f"{degree}_{'even' if name[-1] == 'e' else 'odd'}"
        guess = f"{name} is O(3)'s name; {group.label} writes {degree}, or {spelled} to declare its parity under x -> -x. "
    return f"{guess}valid irreps of {group.label}: {', '.join(valid)}{more}"


def parse(group: Group, text: str) -> list[Term] | NotationError:
    """Parse an irreps string against a group."""
    if not text.strip():
        return NotationError("empty irreps string", 0, "write terms like '2x0 + 1xvector'")
    terms: list[Term] = []
    offset = 0
    if text.count("+") >= MAX_TERMS:
        return NotationError(f"more than {MAX_TERMS} terms", 0, "merge repeated terms into one with a multiplicity, e.g. '8x1'")
    for chunk in text.split("+"):
        lead = len(chunk) - len(chunk.lstrip())
        if not chunk.strip():
            return NotationError("empty term between '+' signs", offset + lead, "remove the extra '+'")
        match = _TERM.match(chunk)
        if not match:
            return NotationError(
                f"cannot read {chunk.strip()!r} as MULTxIRREP", offset + lead, "write terms like '2x0 + 1xvector', joined by '+'"
            )
        too_long = _too_long(match, offset)
        if too_long is not None:
            return too_long
        mult, name = int(match.group(1) or 1), match.group(2)
        if mult > MAX_MULTIPLICITY:
            return NotationError(f"multiplicity {mult} is above {MAX_MULTIPLICITY:,}", offset + lead, "use fewer copies")
        field = _field_for(group, name)
        if isinstance(field, str):
            return NotationError(field, offset + match.start(2), CARTESIAN_HINT)
        if field is None:
            col = offset + match.start(2)
            return NotationError(f"{name!r} is not an irrep of {group.label}", col, unknown_name_hint(group, name))
        if mult == 0:
            return NotationError(f"multiplicity 0 in {chunk.strip()!r}", offset + lead, "drop the term or use a positive multiplicity")
        terms.append(Term(mult, field))
        offset += len(chunk) + 1
    return terms


def _too_long(match: re.Match[str], offset: int) -> NotationError | None:
    """A number in the term (multiplicity, or the digits of an irrep name) longer than MAX_DIGITS."""
    for group in (1, 2):
        run = max((len(d) for d in re.findall(r"[0-9]+", match.group(group) or "")), default=0)
        if run > MAX_DIGITS:
            return NotationError(f"a number of {run} digits", offset + match.start(group), f"numbers here have at most {MAX_DIGITS} digits")
    return None
