"""The editor schema (eqdesign/schema/spec-v1.json) is as strict as JSON Schema allows, never stricter than
`check`: every spec of the repository that `check` accepts validates, and the refusals JSON Schema can
express (group names and orders, grid types and their keys, band limits on continuous groups, infinite
floats, layers a group cannot build) are refused by the schema too."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import ROOT
from eqdesign.commands.check import check_file
from eqdesign.exitcodes import ExitCode
from eqdesign.spec.editor_schema import at_most, editor_schema, group_pattern
from eqdesign.spec.load import read_text
from eqdesign.spec.model import MAX_ORDER
from eqdesign.spec.yamlsrc import YamlProblem, load_yaml
from eqdesign.theory.registry import KINDS, parse_group_string

SHIPPED = ROOT / "eqdesign" / "schema" / "spec-v1.json"
SPEC_FILES = sorted(p for folder in ("specs", "tests") for p in (ROOT / folder).rglob("*") if p.suffix in (".yaml", ".yml"))

#: specs `check` refuses for reasons JSON Schema can state, each refused by the schema as well
EXPRESSIBLE = {
    "tests/corpus/invalid/cyclic-string-without-n.yaml": "a cyclic group without its order",
    "tests/corpus/invalid/cyclic-without-n.yaml": "a cyclic group without its order",
    "tests/corpus/invalid/dihedral-mapping-without-n.yaml": "a dihedral group without its order",
    "tests/corpus/invalid/group-string-order-too-large.yaml": "c1000: an order above 512",
    "tests/corpus/invalid/unknown-group.yaml": "an unknown group",
    "tests/hostile/group-c-superscript.yaml": "c² is no group",
    "tests/corpus/invalid/group-order-on-so3.yaml": "an order on a group that takes none",
    "tests/hostile/group-order-on-so3.yaml": "an order on a group that takes none",
    "tests/corpus/invalid/fourier-without-band-limit.yaml": "a Fourier layer on SO(3) without band_limit",
    "tests/corpus/invalid/unknown-grid-type.yaml": "a grid-type typo",
    "tests/corpus/invalid/grid-circle-thomson.yaml": "a sphere grid type on the circle of O(2)",
    "tests/corpus/invalid/grid-sphere-rand.yaml": "a grid type SO(3) has but its sphere has not",
    "tests/corpus/invalid/grid-n-on-fixed-grid.yaml": "n on a grid of fixed size",
    "tests/corpus/invalid/grid-so2-regular-without-n.yaml": "a grid without n",
    "tests/corpus/invalid/grid-thomson-cube-without-n.yaml": "a grid without n",
    "tests/corpus/invalid/grid-sphere-fibonacci-one-point.yaml": "a fibonacci grid of one point",
    "tests/corpus/invalid/tests-scale-inf.yaml": "an infinite scale",
    "tests/hostile/scales-inf.yaml": "an infinite scale",
    "tests/corpus/invalid/tests-tolerance-negative-exponent.yaml": "a negative tolerance written with an exponent",
    "tests/corpus/valid/cylinder-fourier-unsupported.yaml": "a Fourier layer on a group without grids",
    "tests/corpus/valid/so2-quotient-unavailable.yaml": "a quotient layer on a group without quotients",
    "tests/corpus/valid/so3-circle-quotient-unavailable.yaml": "a quotient SO(3) does not have",
}


@cache
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SHIPPED.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _data(path: Path) -> Any:
    """The spec as `check` reads it (YAML 1.1: ``1e-3`` is a string there), or None if it is no YAML."""
    text = read_text(path)
    loaded = load_yaml(text) if isinstance(text, str) else None
    return None if loaded is None or isinstance(loaded, YamlProblem) else loaded[0]


def _valid(path: Path) -> bool:
    return not list(validator().iter_errors(_data(path)))


def test_the_shipped_schema_is_the_generated_one() -> None:
    assert json.loads(SHIPPED.read_text(encoding="utf-8")) == editor_schema()


def test_what_check_accepts_the_schema_accepts() -> None:
    """Every spec that passes `check`, and every one whose only errors are about its analysis (what a
    network can reach, not what the file says), validates: of all the YAML files under specs/ and tests/."""
    accepted, rejected = [], []
    for path in SPEC_FILES:
        result = check_file(str(path))
        errors = {f.rule for f in result.all_findings() if f.severity.value == "error"}
        if result.exit_code() == ExitCode.OK or (result.design is not None and "invalid-nonlinearity" not in errors):
            accepted.append(path)
            if _data(path) is None or not _valid(path):
                rejected.append(str(path.relative_to(ROOT)))
    assert not rejected
    assert len(accepted) >= 120  # the specs, the valid corpus, the acceptance cases and the designs, at least


def test_the_schema_refuses_what_check_refuses_for_reasons_it_can_express() -> None:
    refused_by_both = []
    for name in EXPRESSIBLE:
        path = ROOT / name
        assert check_file(str(path)).exit_code() != ExitCode.OK, name
        if not _valid(path):
            refused_by_both.append(name)
    assert sorted(refused_by_both) == sorted(EXPRESSIBLE)
    assert len(refused_by_both) == 22  # the issue counted 13 expressible among 48; the schema now states 22


def _check_accepts_group(text: str) -> bool:
    parsed = parse_group_string(text)
    if parsed is None:
        return False
    name, n = parsed
    return not KINDS[name].needs_n or (n is not None and 1 <= n <= MAX_ORDER)


GROUP_STRINGS = [
    *KINDS,
    *(name.upper() for name in KINDS),
    " So3 ",
    "\tso3\n",
    "\x1cso3\x85",
    "\u3000o3",
    "full_ico",
    "FULL-ICO",
    "fullico",
    "so 3",
    "",
    " ",
    "c",
    "C8",
    "c 8",
    "c8 ",
    "d6",
    "D512",
    "d513",
    "cyclic",
    "cyclic12",
    "Dihedral4",
    "dihedral",
    "c²",
    "c٣",
    "c\uff18",
    "c-8",
    "c+8",
    "c8.0",
    "c000008",
    "c0000008",
    "c000512",
    "c000513",
    "c0",
    "c00",
    "d999999",
    "d1000000",
    "cyc8",
    "so3x",
    "xso3",
    "\u212aso3",
]


def test_the_group_pattern_accepts_exactly_what_check_reads_as_a_group() -> None:
    texts = GROUP_STRINGS + [f"{p}{n}" for p in ("c", "d", "Cyclic", "DIHEDRAL") for n in range(1001)]
    pattern = re.compile(group_pattern())
    disagree = [t for t in texts if (pattern.search(t) is not None) is not _check_accepts_group(t)]
    assert not disagree
    assert sum(_check_accepts_group(t) for t in texts) >= 4 * MAX_ORDER  # both answers are well represented


@pytest.mark.parametrize("n", [1, 2, 9, 10, 11, 19, 99, 100, 101, 255, 300, 512, 999, 1000, 4096])
def test_at_most_matches_the_integers_from_one_to_n(n: int) -> None:
    pattern = re.compile(at_most(n))
    assert [k for k in range(10 * n + 10) if pattern.fullmatch(str(k))] == list(range(1, n + 1))
    assert not pattern.fullmatch("0") and not pattern.fullmatch("01")
