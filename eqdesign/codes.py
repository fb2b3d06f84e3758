"""The rule table: every rule eqdesign reports, in one explicit tuple ordered by id (as ruff's codes.rs is).

Each entry gives a rule's stable id (``EQ...``, never reused or renumbered), its name, default severity, the
step that reports it, whether configuration may silence it, and its user documentation: ``doc`` (printed by
``eqdesign rules``, written to docs/rules.md, the reporters' rule descriptions) and ``fix``. Everything that
needs a rule reads this table; importing a module never adds to it. The rules of ``Stage.CHECK`` are found by
a check function each, which ``analysis/rules.py`` maps to its rule name (a test keeps the two in step).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Stage(str, Enum):
    """The step of ``check`` or ``build`` that reports a rule."""

    READ = "read"  # reading the spec or its configuration: its text, keys, values, group and irrep names
    RESOLVE = "resolve"  # turning the spec into a design: layers that cannot be built, or too large to build
    CHECK = "check"  # a check function of analysis/rules.py, on the resolved design and its dataflow
    SUPPRESS = "suppress"  # applying the spec's own suppressions, after the checks
    BUILD = "build"  # the build's numerical verdicts
    ANY = "any"  # eqdesign's own failure, at any step


@dataclass(frozen=True)
class Rule:
    rule_id: str
    name: str
    severity: Severity
    stage: Stage
    ignorable: bool  # whether configuration (ignore, severity) or a spec's lint: {ignore: [...]} may silence it
    doc: str  # what the rule reports and why it holds; the table wraps it, the rule holds it as one line
    fix: str = ""  # how to make the finding go away, in one or two sentences

    def __post_init__(self) -> None:
        # the table writes doc and fix as indented paragraphs; reports and docs show each as one line
        object.__setattr__(self, "doc", " ".join(self.doc.split()))
        object.__setattr__(self, "fix", " ".join(self.fix.split()))

    @property
    def summary(self) -> str:
        """The doc's first sentence: a rule's one-line description (SARIF's shortDescription, say)."""
        head, _, _ = self.doc.partition(". ")
        return head.rstrip(".") + "."


#: every rule, by id
RULE_TABLE: tuple[Rule, ...] = (
    Rule(
        "EQ000",
        "internal-error",
        Severity.ERROR,
        Stage.ANY,
        ignorable=False,
        doc="""
        eqdesign itself failed on this spec (a defect, not a problem with the spec). The spec's other results
        are still reported and the command exits with code 3; rerun with EQDESIGN_DEBUG=1 to see the traceback,
        and please report it. No example spec can trigger it: any spec that does is a bug to fix.
        """,
        fix="""
        Nothing in the spec is at fault: rerun with EQDESIGN_DEBUG=1 and report the traceback with the spec.
        Until it is fixed, simplifying the layer named in the message may work around it.
        """,
    ),
    Rule(
        "EQ001",
        "yaml-syntax",
        Severity.ERROR,
        Stage.READ,
        ignorable=False,
        doc="""
        The file is not valid YAML, or is not a mapping at the top level. Besides syntax errors this covers what
        eqdesign refuses to read: an empty file, one that is not UTF-8 text or not a regular file, one far
        larger than any spec, recursive aliases, merge keys (``<<``) and absurdly deep nesting. Nothing else is
        checked until the file can be read.
        """,
        fix="""
        Correct the syntax at the reported line and column (indentation, quotes, colons, an unclosed bracket);
        write recursive aliases and merge keys (<<) out in full.
        """,
    ),
    Rule(
        "EQ002",
        "duplicate-key",
        Severity.ERROR,
        Stage.READ,
        ignorable=False,
        doc="""
        A mapping repeats a key. YAML loaders usually keep the last value silently; eqdesign refuses, since a
        spec whose ``output`` or ``band_limit`` is written twice says two different things about the design.
        """,
        fix="""
        Delete one of the two entries, keeping the value you mean; the message gives the line of the first.
        """,
    ),
    Rule(
        "EQ003",
        "schema",
        Severity.ERROR,
        Stage.READ,
        ignorable=False,
        doc="""
        A key is unknown or missing, or a value has the wrong type or range (spec language version 1). Unknown
        keys are refused rather than ignored, so that a misspelt ``band_limt`` cannot silently fall back to a
        default. It also covers values that only make sense together: a Fourier layer on a continuous group
        needs a ``band_limit``, since the regular representation of SO(2) or SO(3) contains every irrep and is
        infinite-dimensional until it is cut off at a frequency L; ``degree`` belongs to the polynomial
        (``_poly``) layers only; and ``lint.ignore`` must name rules that exist and can be ignored.
        """,
        fix="""
        Change the key or value the message quotes (the hint names the closest valid key or the valid range);
        `eqdesign schema` prints every key, type and range of the spec language.
        """,
    ),
    Rule(
        "EQ004",
        "unknown-group",
        Severity.ERROR,
        Stage.READ,
        ignorable=False,
        doc="""
        The ``group`` names no supported group (see ``eqdesign groups``). A cyclic or dihedral group without a
        valid order n is refused too. The group fixes everything else: its irreps, which irreps a linear layer
        may map into each other (Schur's lemma), its tensor products and its Fourier grids.
        """,
        fix="""
        Name a group that `eqdesign groups` lists, such as `group: so3`; give cyclic and dihedral groups their
        order, as `group: {name: cyclic, n: 8}` or `group: c8`.
        """,
    ),
    Rule(
        "EQ005",
        "unknown-irrep",
        Severity.ERROR,
        Stage.READ,
        ignorable=False,
        doc="""
        An irreps string names something that is not an irrep of the group, nor ``vector`` or ``scalar``. Field
        types are direct sums of irreducible representations, and each group names its own: SO(3) irreps by
        their degree l (0, 1, 2, ...), O(3) irreps by degree and parity (0e, 1o, ...), SO(2) irreps by their
        frequency, finite groups by escnn's names. ``vector`` is the group's standard representation and
        ``scalar`` its trivial one.
        """,
        fix="""
        Write the irreps as `eqdesign groups <group>` names them, as terms `<multiplicity>x<irrep>` joined by +:
        "2x0 + 1x1" on SO(3), "1x0e + 1x1o" on O(3), "1x vector" on any group with a standard representation.
        """,
    ),
    Rule(
        "EQ006",
        "config",
        Severity.ERROR,
        Stage.READ,
        ignorable=False,
        doc="""
        The project configuration (``[tool.eqdesign]`` in pyproject.toml, or eqdesign.toml) is invalid. It is
        not valid TOML, names an unknown key, rule or severity, or tries to ignore or soften a rule that can
        never be ignored. The specs it governs are not checked until it is fixed. It concerns the project's
        configuration file, not a spec, so no example spec triggers it.
        """,
        fix="""
        Correct the configuration file at the reported line: valid TOML, only the keys select, ignore, strict,
        severity and tests, rule ids or names that `eqdesign rules` lists, and severities error, warning or
        info.
        """,
    ),
    Rule(
        "EQ007",
        "unused-suppression",
        Severity.WARNING,
        Stage.SUPPRESS,
        ignorable=True,
        doc="""
        A spec's ``lint: {ignore: [...]}`` names a rule that reports nothing in this spec. A suppression that no
        longer suppresses anything hides the next real finding of that rule: remove it.
        """,
        fix="""
        Remove the rule from the spec's lint.ignore list (and the lint: key once the list is empty).
        """,
    ),
    Rule(
        "EQ101",
        "dropped-irrep",
        Severity.WARNING,
        Stage.CHECK,
        ignorable=True,
        doc="""
        A linear layer's input holds an irrep its output lacks. By Schur's lemma an equivariant linear map
        between irreducible representations is zero unless they are isomorphic, so no weight can carry that
        irrep across; escnn skips such blocks without a word, and whatever the irrep carried is lost at this
        layer. It is often deliberate in the last layer, where the higher irreps of a Fourier layer are
        projected away, and a mistake when the dropped irrep held input information an output needs.
        """,
        fix="""
        If the irrep should survive, add it to the field types of the layer after it (that hidden layer's
        fields, or the output); if dropping it is intended, add lint: {ignore: [dropped-irrep]} to the spec.
        """,
    ),
    Rule(
        "EQ102",
        "grid-too-small",
        Severity.ERROR,
        Stage.CHECK,
        ignorable=False,
        doc="""
        A Fourier layer samples fewer grid points than its band-limited representation has coefficients, so the
        layer cannot be built. The band-limit L regular representation holds each irrep of frequency at most L
        as often as its dimension (1 + 9 + 25 + ... coefficients per channel on SO(3); a quotient such as the
        sphere holds each once, 1 + 3 + 5 + ...). With fewer sample points than coefficients the sampling map
        has a kernel, so the Fourier transform cannot recover the signal from its samples. Finite groups sample
        every element, and a weighted rule exact to degree 2L inverts the transform exactly: both are exempt.
        """,
        fix="""
        Remove grid: so that grid: auto picks a weighted quadrature, or give the explicit grid at least the
        number of points the hint names (about twice the coefficients is well conditioned), or lower band_limit.
        """,
    ),
    Rule(
        "EQ103",
        "grid-ill-conditioned",
        Severity.WARNING,
        Stage.CHECK,
        ignorable=True,
        doc="""
        A Fourier grid has fewer than 1.5 points per Fourier coefficient. Its sampling matrix is then barely
        overdetermined and tends to be badly conditioned (escnn's thomson_cube N=4 at L=3: condition number
        about 4e7), which inflates outputs and equivariance errors. A weighted rule exact to degree 2L is
        exempt: by the orthogonality of the irreps' matrix coefficients (Peter-Weyl) its transform is the exact
        one, perfectly conditioned (the uniform circle of 2L + 1 points, say).
        """,
        fix="""
        Remove grid: (grid: auto picks a weighted quadrature, exactly conditioned), or use about twice as many
        points as coefficients.
        """,
    ),
    Rule(
        "EQ104",
        "invalid-nonlinearity",
        Severity.ERROR,
        Stage.RESOLVE,
        ignorable=False,
        doc="""
        A nonlinearity that cannot be built equivariantly for this group. A pointwise nonlinearity commutes with
        the group only on a representation that permutes sample points: a Fourier layer samples the band-limited
        regular representation on a grid of group elements, and a quotient layer samples functions on a
        homogeneous space G/H (the sphere SO(3)/SO(2), the circle O(2)/SO(2)). A quotient layer on a group
        without that quotient, or a Fourier layer on a group eqdesign cannot sample yet (the cylinder groups),
        has no such representation.
        """,
        fix="""
        Use a quotient the group has (the hint names it) or the plain Fourier layer (fourier_elu); on a group
        without Fourier sampling, use norm, gated or tensor_product layers instead.
        """,
    ),
    Rule(
        "EQ105",
        "empty-linear",
        Severity.ERROR,
        Stage.CHECK,
        ignorable=False,
        doc="""
        A linear layer whose input and output share no irrep has no equivariant weights at all. By Schur's lemma
        the equivariant linear maps decompose into one block per irrep present on both sides, and here there is
        none: the layer's output is identically zero, and escnn cannot even evaluate it.
        """,
        fix="""
        Make the layer's two sides share at least one irrep: add to the hidden fields or the output an irrep
        that the layer's input carries.
        """,
    ),
    Rule(
        "EQ106",
        "too-large",
        Severity.ERROR,
        Stage.RESOLVE,
        ignorable=False,
        doc="""
        The design is larger than ``build`` could finish within the documented limits. The limits bound an
        irrep's frequency or degree, the number of hidden layers, a layer's width, a Fourier grid, the parameter
        count, and the build's estimated peak memory. Sizes grow fast with frequency: the band-limited regular
        representation of SO(3) has sum over l <= L of (2l+1)^2, about 4L^3/3, coefficients per channel, its
        grid needs at least as many points, and a band-limit L Fourier layer on SO(2) needs at least 2L + 1
        points. The message gives the estimate and the limit; each limit can be raised with an environment
        variable ``EQDESIGN_LIMIT_<NAME>``. The analysis stops here, so that nothing large is ever computed.
        """,
        fix="""
        Lower the size the message names (an irrep frequency, band_limit, channels, the number of layers or the
        grid) below its limit, or raise that limit with `EQDESIGN_LIMIT_<NAME>` if the machine can afford it.
        """,
    ),
    Rule(
        "EQ107",
        "grid-too-coarse",
        Severity.WARNING,
        Stage.CHECK,
        ignorable=True,
        doc="""
        An explicit unweighted Fourier grid is too coarse for ``tests.tolerance``. escnn's named grids on the
        sphere or SO(3) (thomson, thomson_cube, fibonacci, ico, rand, ...) carry no quadrature weights, so the
        sampled transform is not the orthogonal projection onto the band-limited irreps and does not commute
        with the group: measured, the equivariance error falls only like 1 / (points per coefficient) and
        stalls, at about 0.25 / (points per coefficient) at best. When that estimate already exceeds
        ``tests.tolerance``, ``build`` will almost surely fail (not-equivariant). The default grid (``grid:
        auto``) is a weighted quadrature that build sizes to the tolerance.
        """,
        fix="""
        Remove grid: (grid: auto is a weighted quadrature that build sizes to the tolerance), use many more
        points, or loosen tests.tolerance if an error of the estimated size is acceptable.
        """,
    ),
    Rule(
        "EQ201",
        "unreachable-output",
        Severity.ERROR,
        Stage.CHECK,
        ignorable=True,
        doc="""
        An output irrep does not depend on the input at all: it is identically zero, or a constant bias. Either
        no equivariant network could produce it from this input: an equivariant f has f(x) = ρ(h) f(x) for every
        h in the stabilizer of x, so an irrep without a vector fixed by the input's generic stabilizer is zero
        (a pseudovector from one polar vector under O(3), say). Or only this architecture cannot: its linear
        layers map each irrep only to itself (Schur's lemma) and its norm or gated layers never turn the irreps
        it has into this one (only trivial irreps carry a bias). The message says which, and which input or
        layer would fix it.
        """,
        fix="""
        If no network could produce the irrep, add the input the hint names or remove the output; otherwise add
        a layer that mixes irreps (fourier_elu, a quotient layer or tensor_product) before the output, as the
        hint says.
        """,
    ),
    Rule(
        "EQ202",
        "unused-input",
        Severity.WARNING,
        Stage.CHECK,
        ignorable=True,
        doc="""
        An input irrep influences no output: the network ignores it. Its information is dropped by a linear
        layer whose output lacks it (Schur's lemma), or stays on a path that never reaches an output irrep: a
        norm layer only rescales each field by a function of its own norm, and a gated layer lets scalars
        rescale other fields but never turns a vector back into a scalar.
        """,
        fix="""
        Remove the irrep from input if the task does not need it; otherwise add a layer that mixes irreps
        (fourier_elu, a quotient layer or tensor_product) so that it can reach an output.
        """,
    ),
    Rule(
        "EQ203",
        "decoupled",
        Severity.WARNING,
        Stage.CHECK,
        ignorable=True,
        doc="""
        The network splits into independent paths, one per irrep: every output depends only on the same irrep of
        the input. Linear layers never let different irreps interact (Schur's lemma) and a norm layer only
        couples the irreps inside one field, so a network of such layers is a bundle of separate networks: the
        scalar output never sees the length of the input vector, say. Only layers that multiply irreps together
        (Fourier and quotient layers, gated layers, tensor products) couple them.
        """,
        fix="""
        Add a layer that couples irreps (fourier_elu, a quotient layer or tensor_product) so that the outputs
        can depend on more than their own irrep of the input.
        """,
    ),
    Rule(
        "EQ204",
        "band-limit",
        Severity.ERROR,
        Stage.CHECK,
        ignorable=True,
        doc="""
        An output irrep has a higher frequency than every hidden layer can carry, so it cannot be reached
        although some equivariant network could produce it. A Fourier layer of band-limit L holds only the
        irreps of frequency at most L, and linear layers map each irrep only to itself (Schur's lemma), so an
        output irrep above every hidden band-limit, in no hidden field type, receives nothing, although tensor
        powers of the input contain it (l = 3 occurs in the third tensor power of l = 1).
        """,
        fix="""
        Raise a hidden band_limit to at least the output irrep's frequency (the hint gives it); a frequency
        above the largest band-limit allowed cannot be carried, so remove it from the output.
        """,
    ),
    Rule(
        "EQ205",
        "parity-sector",
        Severity.WARNING,
        Stage.CHECK,
        ignorable=True,
        doc="""
        An SO(3) output can only have one parity, although the input allows both. Give every degree-l irrep the
        parity (-1)^l of the spherical harmonics: linear, gated and norm layers, sphere layers and tensor
        products whose every path l1 x l2 -> l3 has an even sum all commute with the inversion x -> -x, so a
        network made only of them is O(3)-equivariant in disguise and its outputs are natural-parity functions
        of natural-parity inputs: a polar vector, never an axial one such as a torque r x F. Only a regular
        Fourier layer or a tensor product with an odd path (two copies of a vector give the cross product)
        breaks that symmetry. The output is reported per SO(3) irrep whose field declares no parity; an output
        declared with one (pseudovector, 1_even) that cannot be reached is an EQ201 error instead.
        """,
        fix="""
        If the output is axial (a torque, an angular momentum) or otherwise of the parity the message says is
        out of reach, break the hidden inversion as the hint says (a fourier_elu layer, or two copies in a
        tensor_product field); if it has the parity the network does reach, declare it (polar_vector, or 2_even,
        say) to say so.
        """,
    ),
    Rule(
        "EQ301",
        "not-equivariant",
        Severity.ERROR,
        Stage.BUILD,
        ignorable=False,
        doc="""
        The built model, or one of its layers, is further from equivariant than ``tests.tolerance`` allows. It
        is measured on the test's group elements and input scales; the verdict is also given when no Fourier
        grid within the limits reached that tolerance. Only approximately equivariant (Fourier) layers can fail
        so; exact layers fail only through a defect. A Fourier layer applies its nonlinearity to samples of a
        band-limited signal and projects the result back onto the irreps of frequency at most L. That projection
        commutes with the group only when the grid is a quadrature rule exact for the activated signal times
        every band-L function: degree (p + 1)L for a polynomial activation of degree p (fourier_poly). ELU or
        ReLU of a band-limited signal is not band-limited, so its projection aliases higher frequencies on any
        grid, more so at large input scales, and an unweighted grid (no quadrature weights) is not exact even
        for band-limited signals. ``check`` warns about coarse grids in advance (grid-too-coarse), but only
        ``build`` measures the error.
        """,
        fix="""
        Remove the layer's explicit grid: (grid: auto picks a weighted quadrature sized to tests.tolerance); if
        that fails too, lower band_limit or use fourier_poly, whose quadrature can be exact. Loosen
        tests.tolerance only if the measured error is acceptable.
        """,
    ),
    Rule(
        "EQ302",
        "build-failed",
        Severity.ERROR,
        Stage.BUILD,
        ignorable=False,
        doc="""
        The design passed ``check`` but could not be built, compiled or exported. Either escnn refused it, the
        compiled module disagrees with escnn's, the measured influence disagrees with ``check``'s, or two specs
        of one command would write the same artifacts. Apart from the last, it is a disagreement between
        eqdesign's representation-theoretic analysis and escnn's construction, so no clean example spec triggers
        it.
        """,
        fix="""
        If two specs of one command would write the same artifacts, give them different names. Otherwise report
        the message with the spec (check and escnn disagree), and change the layer it names to work around it.
        """,
    ),
)

#: the table by rule name, read-only: no module can add a rule by importing it
RULES: Mapping[str, Rule] = MappingProxyType({r.name: r for r in RULE_TABLE})


def _named(stage: Stage) -> frozenset[str]:
    return frozenset(r.name for r in RULE_TABLE if r.stage is stage)


#: the rules only `build` reports (its numerical verdicts)
BUILD_RULES = _named(Stage.BUILD)

#: the rules that say a file could not be read as a spec: nothing else is checked on it
SPEC_RULES = _named(Stage.READ)

#: rules no configuration or suppression can silence or soften: the spec could not be read, or could not
#: be built, or the numbers say the model is wrong. A gate that let these pass would pass a broken spec.
MANDATORY = frozenset(r.name for r in RULE_TABLE if not r.ignorable)
