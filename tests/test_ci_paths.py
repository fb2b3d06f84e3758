"""The CI reporters name files the way their consumers resolve them.

SARIF, GitLab, GitHub annotations and JUnit resolve paths against the repository root (GitHub ignores
SARIF's originalUriBaseIds), so a job that runs eqdesign in a subfolder must still point at the files;
concise output is for editors, which resolve against the working folder. Every name the file system allows
(control characters, separators of the formats, bytes that are no UTF-8) is written in the form its
consumer decodes back to the file. A folder scan skips hidden files as it skips hidden folders.
"""

from __future__ import annotations

import io
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest

from conftest import ROOT
from eqdesign.commands.check import check_paths
from eqdesign.commands.discover import discover
from eqdesign.exitcodes import ExitCode
from eqdesign.findings import printable
from eqdesign.report.concise import ConciseReporter
from eqdesign.report.entries import Entry
from eqdesign.report.github import GithubReporter
from eqdesign.report.gitlab import GitlabReporter
from eqdesign.report.junit import JUnitReporter, xml_text
from eqdesign.report.locations import ROOT_VARIABLE, portable_name
from eqdesign.report.sarif import SarifReporter, sarif_log

FLAGGED = (ROOT / "tests" / "formats" / "flagged.yaml").read_text(encoding="utf-8")
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
#: names a file system allows that each format must carry: its own separators and escapes, every kind of
#: control character, and bytes that are no UTF-8 (the last)
ODD_NAMES = [
    "plain.yaml",
    "with space #1 ?.yaml",
    "comma,colon:percent%25.yaml",
    "tab\there.yaml",
    "line\nbreak.yaml",
    "carriage\rreturn.yaml",
    "escape\x1b[31mred.yaml",
    "bell\x07and\x01soh\x7f.yaml",
    "accent-é-日本.yaml",
    os.fsdecode(b"latin1-\xe9\xff.yaml"),
]


@pytest.fixture(autouse=True)
def _no_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ROOT_VARIABLE, raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "checkout"
    (repo / ".git").mkdir(parents=True)
    (repo / "specs").mkdir()
    (repo / "job").mkdir()
    return repo


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _render(reporter: type, result: object) -> str:
    out = io.StringIO()
    reporter(out).check(result)
    return out.getvalue()


def _github_files(text: str) -> list[str]:
    """The file property of every annotation, unescaped as the Actions runner does."""
    files = []
    for line in text.splitlines():
        if line.startswith("::") and " file=" in line:
            value = line.split(" file=", 1)[1].split(",line=", 1)[0]
            for code, c in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
                value = value.replace(code, c)
            files.append(value)
    return files


def _sarif_uris(log: dict) -> set[str]:
    return {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}


def test_ci_reporters_resolve_against_the_repository_root_from_a_subfolder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    (repo / "specs" / "flagged.yaml").write_text(FLAGGED, encoding="utf-8")
    monkeypatch.chdir(repo / "job")  # working-directory: job
    result = check_paths(["../specs/flagged.yaml"], isolated=True)
    assert result.specs[0].findings

    sarif = json.loads(_render(SarifReporter, result))
    assert sarif["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.as_uri() + "/"
    assert _sarif_uris(sarif) == {"specs/flagged.yaml"}
    assert {i["location"]["path"] for i in json.loads(_render(GitlabReporter, result))} == {"specs/flagged.yaml"}
    assert set(_github_files(_render(GithubReporter, result))) == {"specs/flagged.yaml"}
    junit = ET.fromstring(_render(JUnitReporter, result))
    assert {c.get("classname") for c in junit.iter("testcase")} == {"specs/flagged.yaml"}
    assert all(line.startswith("../specs/flagged.yaml:") for line in _render(ConciseReporter, result).splitlines()[:-1])

    # an absolute argument: the same names for CI; concise shortens what lies inside the working folder
    absolute = check_paths([str(repo / "specs" / "flagged.yaml")], isolated=True)
    assert {i["location"]["path"] for i in json.loads(_render(GitlabReporter, absolute))} == {"specs/flagged.yaml"}
    monkeypatch.chdir(repo)
    assert all(line.startswith("specs/flagged.yaml:") for line in _render(ConciseReporter, absolute).splitlines()[:-1])
    assert portable_name(str(repo / "specs" / "flagged.yaml")) == "specs/flagged.yaml"
    assert portable_name(str(tmp_path / "elsewhere.yaml")) == "elsewhere.yaml"  # outside the repository: no machine path


def test_an_explicit_root_wins_and_no_repository_means_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if any((folder / ".git").exists() for folder in tmp_path.parents):
        pytest.skip("the temporary folder lies inside a git work tree")
    plain = tmp_path / "plain"
    (plain / "specs").mkdir(parents=True)
    (plain / "specs" / "flagged.yaml").write_text(FLAGGED, encoding="utf-8")
    monkeypatch.chdir(plain / "specs")
    result = check_paths(["flagged.yaml"], isolated=True)
    assert {i["location"]["path"] for i in json.loads(_render(GitlabReporter, result))} == {"flagged.yaml"}
    monkeypatch.setenv(ROOT_VARIABLE, str(plain))
    sarif = json.loads(_render(SarifReporter, result))
    assert sarif["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == plain.as_uri() + "/"
    assert _sarif_uris(sarif) == {"specs/flagged.yaml"}


@pytest.mark.parametrize("code", list(ExitCode))
def test_sarif_execution_successful_only_when_the_command_ran_through(code: ExitCode) -> None:
    invocation = sarif_log([Entry("specs/x.yaml", [], code, [])])["runs"][0]["invocations"][0]
    assert invocation["exitCode"] == code
    assert invocation["executionSuccessful"] is (code in (ExitCode.OK, ExitCode.FINDINGS))


def test_every_reporter_carries_every_file_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    for name in ODD_NAMES:
        (repo / "specs" / name).write_text(FLAGGED, encoding="utf-8")
    monkeypatch.chdir(repo / "job")
    result = check_paths(["../specs"], isolated=True)
    assert sorted(os.path.basename(s.file) for s in result.specs) == sorted(ODD_NAMES)
    findings = sum(len(s.all_findings()) for s in result.specs)
    expected = {f"specs/{name}" for name in ODD_NAMES}
    utf8 = {p for p in expected if _is_utf8(p)}
    assert len(utf8) == len(expected) - 1

    sarif = json.loads(_render(SarifReporter, result))
    assert not list(jsonschema.Draft7Validator(SARIF_SCHEMA).iter_errors(sarif))
    uris = _sarif_uris(sarif)
    assert all(urlsplit(uri).path == uri for uri in uris)  # each a plain relative reference: nothing read as query or fragment
    assert {unquote(uri, errors="surrogateescape") for uri in uris} == expected
    root = Path(unquote(urlsplit(sarif["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]).path))
    assert all((root / unquote(uri, errors="surrogateescape")).is_file() for uri in uris)

    gitlab = _render(GitlabReporter, result)
    gitlab.encode("utf-8")  # strict JSON: no lone surrogates
    paths = {i["location"]["path"] for i in json.loads(gitlab)}
    assert utf8 <= paths and all((repo / p).is_file() for p in utf8)
    assert paths - utf8 == {os.fsencode("specs/" + ODD_NAMES[-1]).decode("utf-8", "backslashreplace")}

    github = _render(GithubReporter, result)
    assert len([line for line in github.split("\n") if line.startswith("::")]) == findings  # no name broke a line
    assert "\r" not in github
    assert utf8 <= set(_github_files(github))

    junit = ET.fromstring(_render(JUnitReporter, result).encode("ascii"))  # parses: every name is legal XML 1.0
    assert {c.get("classname") for c in junit.iter("testcase")} == {xml_text(p) for p in expected}
    assert {"specs/plain.yaml", "specs/tab\there.yaml", "specs/line\nbreak.yaml"} <= {c.get("classname") for c in junit.iter("testcase")}

    concise = _render(ConciseReporter, result).splitlines()
    assert len(concise) == findings + 1  # one line per finding, whatever the name holds
    assert {line.split(".yaml:", 1)[0] + ".yaml" for line in concise[:-1]} == {printable(f"../specs/{n}") for n in ODD_NAMES}


def test_a_folder_scan_skips_hidden_files_unless_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    for name in ("a.yaml", ".pre-commit-config.yaml", ".hidden-spec.yml"):
        (tmp_path / "specs" / name).write_text(FLAGGED, encoding="utf-8")
    found = discover(["specs"])
    assert found.files == ("specs/a.yaml",)
    assert {(s.path, s.reason) for s in found.skipped} == {
        ("specs/.pre-commit-config.yaml", "hidden file"),
        ("specs/.hidden-spec.yml", "hidden file"),
    }
    assert discover(["specs/**"]).files == ("specs/a.yaml",)
    assert discover(["specs/*.yaml"]).files == ("specs/a.yaml",)
    assert discover(["specs/.pre-commit-config.yaml"]).files == ("specs/.pre-commit-config.yaml",)  # named: read
    assert discover(["specs/.*.yml"]).files == ("specs/.hidden-spec.yml",)  # a pattern that starts with a dot
    (tmp_path / "only-hidden").mkdir()
    (tmp_path / "only-hidden" / ".gitlab-ci.yml").write_text("stages: [test]\n")
    assert discover(["only-hidden"]).problems == ("only-hidden: no spec files (.yaml/.yml) found",)
