"""`eqdesign init` (eqdesign/commands/init.py): every group family's starter passes the real check, custom
features are honoured, impossible ones are refused with the check's own message, and write_new never
overwrites a file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from eqdesign.commands.check import check_file
from eqdesign.commands.init import starter, write_new
from eqdesign.exitcodes import ExitCode
from eqdesign.theory.catalog import lookup_group

#: every family of `eqdesign groups`, the ordered ones at a few orders (and spellings), the small degenerate ones
GROUPS = [
    "so2",
    "o2",
    "so3",
    "o3",
    "c8",
    "cyclic5",
    "c2",
    "c1",
    "d6",
    "dihedral3",
    "d2",
    "d1",
    "ico",
    "octa",
    "full_ico",
    "full_octa",
    "cylinder",
    "full_cylinder",
]
TOP_KEYS = ("name", "group", "input", "output", "hidden", "tests")


def _written(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    assert write_new(str(path), text) is None
    return path


def _assert_passes(path: Path) -> None:
    r = check_file(path)
    assert r.exit_code() == ExitCode.OK and r.errors == 0, [f"{f.rule}: {f.message}" for f in r.all_findings()]


@pytest.mark.parametrize("group", GROUPS)
def test_every_family_default_passes_the_real_check(group: str, tmp_path: Path):
    result = starter(group)
    assert result.exit_code == ExitCode.OK and result.ok and not result.messages
    path = _written(tmp_path, result.text)
    _assert_passes(path)
    r = check_file(path)
    assert r.design is not None and r.flow is not None
    g = lookup_group(group, None)
    assert not isinstance(g, str) and r.design.group.key == g.key
    assert r.design.spec.hidden, "a starter has hidden layers"
    assert all(deps for deps in r.influence.values()), "every output depends on the input"
    if g.vector is not None:  # the group's vector and a scalar, in and out
        want = {i.name for i in g.vector.irreps} | {g.trivial.name}
        assert {i.name for i in r.design.input.content()} == want == {i.name for i in r.design.output.content()}


@pytest.mark.parametrize("group", ["so3", "c8", "cylinder"])
def test_comments_explain_every_key(group: str):
    lines = starter(group).text.splitlines()
    assert lines[0].startswith("# ") and sum(line.lstrip().startswith("#") for line in lines) >= 15
    for k, line in enumerate(lines):
        if re.match(rf"({'|'.join(TOP_KEYS)}):", line) or line.lstrip().startswith("- nonlinearity:"):
            assert lines[k - 1].lstrip().startswith("#"), f"no comment above {line!r}"
    for key in ("band_limit" if group == "so3" else "channels", "channels", "tolerance", "samples", "seed"):
        assert any(line.strip().startswith(f"{key}:") and "#" in line for line in lines), key
    text = "\n".join(lines)
    assert "eqdesign check" in text and "eqdesign build" in text and "eqdesign groups" in text


def test_the_warnings_check_gives_are_announced(tmp_path: Path):
    text = starter("c8").text
    r = check_file(_written(tmp_path, text))
    assert r.warnings == 1 and r.findings[0].rule == "dropped-irrep"
    assert f"#   EQ101 dropped-irrep: {r.findings[0].message}" in text.splitlines()
    assert "warns" not in starter("cylinder").text  # a starter check has nothing to say about


def test_custom_input_and_output(tmp_path: Path):
    result = starter("so3", input="1+2", output="0+1", name="custom")
    assert result.ok, result.messages
    path = _written(tmp_path, result.text)
    _assert_passes(path)
    r = check_file(path)
    assert r.design is not None and r.design.spec.name == "custom"
    assert {i.name for i in r.design.input.content()} == {"1", "2"}
    assert {i.name for i in r.design.output.content()} == {"0", "1"}
    assert r.influence == {"0": ["1", "2"], "1": ["1", "2"]}


@pytest.mark.parametrize(
    ("group", "inp", "out"),
    [
        ("so3", "1x vector", "1x 5"),  # a band-limit above the default: raised to the output's frequency
        ("o3", "3x1o", "0o"),  # the pseudoscalar needs three vectors
        ("so2", "1x2 + 1x3", "1"),  # gcd(2, 3) = 1
        ("cylinder", "1x vector", "3e + 2o"),  # products of products: the first designs fail, a deeper one passes
        ("d6", "vector + 0-", "3 + 3-"),
    ],
)
def test_harder_requests_still_pass(group: str, inp: str, out: str, tmp_path: Path):
    result = starter(group, input=inp, output=out)
    assert result.ok, result.messages
    _assert_passes(_written(tmp_path, result.text))


@pytest.mark.parametrize(
    ("kwargs", "option", "words"),
    [
        ({"group": "o3", "input": "1o", "output": "1e"}, "--output:", ["1e", "hint:", "impossible"]),
        ({"group": "so2", "input": "2", "output": "1"}, "--output:", ["no equivariant map", "hint:"]),
        ({"group": "so3", "input": "1o"}, "--input:", ["'1o' is not an irrep of SO(3)", "hint:"]),
        ({"group": "so3", "output": "1 +"}, "--output:", ["empty term"]),
        ({"group": "so4"}, "--group:", ["unknown group"]),
        ({"group": "cyclic"}, "--group:", ["needs its order"]),
        ({"group": "so3", "name": "has space"}, "--name:", ["not a spec name"]),
        ({"group": "so3", "output": "12"}, "--output:", ["above the limit"]),
    ],
)
def test_impossible_requests_exit_2_with_the_checks_message(kwargs: dict[str, str], option: str, words: list[str]):
    result = starter(**kwargs)
    assert result.exit_code == ExitCode.SPEC and not result.ok and result.text == ""
    assert result.messages and result.messages[0].startswith(option), result.messages
    assert all(w in " ".join(result.messages) for w in words), result.messages
    assert not any("/tmp" in m or "eqdesign-init-" in m for m in result.messages), "the temporary file is no one's business"


def test_the_output_defaults_to_the_input(tmp_path: Path):
    result = starter("o3", input="2x1o + 1x2e")
    assert result.ok, result.messages
    r = check_file(_written(tmp_path, result.text))
    assert r.design is not None and r.design.output.content() == r.design.input.content()


def test_a_name_yaml_would_read_as_a_number_stays_a_string(tmp_path: Path):
    result = starter("c8", name="1e5")
    assert result.ok, result.messages
    r = check_file(_written(tmp_path, result.text))
    assert r.design is not None and r.design.spec.name == "1e5"


def test_write_new_refuses_an_existing_file(tmp_path: Path):
    target = tmp_path / "spec.yaml"
    target.write_text("mine\n")
    message = write_new(str(target), starter().text)
    assert message is not None and "already exists" in message
    assert target.read_text() == "mine\n"
    link = tmp_path / "link.yaml"
    link.symlink_to(tmp_path / "nowhere.yaml")  # a dangling link is something there, too
    assert write_new(str(link), "x") is not None and not (tmp_path / "nowhere.yaml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.yaml", "spec.yaml"]


def test_write_new_refuses_a_missing_folder_and_writes_whole(tmp_path: Path):
    message = write_new(str(tmp_path / "missing" / "spec.yaml"), "x")
    assert message is not None and "does not exist" in message and "missing" in message
    assert not (tmp_path / "missing").exists()
    text = starter("o3").text
    target = tmp_path / "new.yaml"
    assert write_new(str(target), text) is None
    assert target.read_text() == text
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.yaml"]  # no temporary file left
