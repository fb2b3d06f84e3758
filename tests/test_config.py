"""Configuration ([tool.eqdesign] / eqdesign.toml) and per-spec suppression (lint: {ignore: [...]}), located."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest

from conftest import invoke_cli
from eqdesign.commands.build import BuildOptions, build_specs
from eqdesign.commands.check import check_paths

# unused-input (EQ202, at input: line 4 col 8) and dropped-irrep (EQ101, at output: line 5 col 9), both warnings
UNUSED = """\
name: unused
group: so3
# the vector input never reaches the scalar output through gates
input: "1x0 + 1x1"
output: "1x0"
hidden:
  - {nonlinearity: gated, fields: "4x1", scalars: 4}
"""
# decoupled (EQ203, warning, at hidden: line 6 col 3)
DECOUPLED = """\
name: decoupled
group: so3
input: "1x0 + 1x1"
output: "1x0 + 1x1"
hidden:
  - {nonlinearity: norm_relu, fields: "8x0 + 8x1"}
"""


def _findings(folder: Path, *args: str, **kwargs: object) -> list[tuple[str, int, int, str]]:
    result = check_paths([str(folder)], *args, **kwargs)  # type: ignore[arg-type]
    return [(f.rule_id, f.location.line, f.location.column, f.severity.value) for s in result.specs for f in s.all_findings()]


def _project(tmp_path: Path, config: str, name: str = "pyproject.toml", spec: str = UNUSED) -> Path:
    (tmp_path / name).write_text(config)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a.yaml").write_text(spec)
    return tmp_path / "specs"


def test_without_configuration_both_warnings_are_reported(tmp_path: Path) -> None:
    specs = _project(tmp_path, "[project]\nname = 'x'\n")  # a pyproject without [tool.eqdesign] is passed over
    assert _findings(specs) == [("EQ202", 4, 8, "warning"), ("EQ101", 5, 9, "warning")]


def test_ignore_by_name_and_select_by_prefix(tmp_path: Path) -> None:
    specs = _project(tmp_path, '[tool.eqdesign]\nignore = ["unused-input"]\n')
    assert _findings(specs) == [("EQ101", 5, 9, "warning")]
    (tmp_path / "pyproject.toml").write_text('[tool.eqdesign]\nselect = ["EQ2"]\n')
    assert _findings(specs) == [("EQ202", 4, 8, "warning")]
    (tmp_path / "pyproject.toml").write_text('[tool.eqdesign]\nselect = ["ALL"]\nignore = ["eq101", "EQ202"]\n')
    assert _findings(specs) == []


def test_severity_override_and_strict_decide_the_exit_code(tmp_path: Path) -> None:
    specs = _project(tmp_path, '[tool.eqdesign.severity]\ndecoupled = "error"\n', spec=DECOUPLED)
    result = check_paths([str(specs)])
    assert [(f.rule_id, f.severity.value) for f in result.specs[0].findings] == [("EQ203", "error")]
    assert result.exit_code == 1
    (tmp_path / "pyproject.toml").write_text("[tool.eqdesign]\nstrict = true\n")
    assert check_paths([str(specs)]).exit_code == 1
    (tmp_path / "pyproject.toml").write_text("[tool.eqdesign]\nstrict = false\n")
    assert check_paths([str(specs)]).exit_code == 0


def test_test_defaults_fill_what_the_spec_leaves_out(tmp_path: Path) -> None:
    specs = _project(tmp_path, "[tool.eqdesign.tests]\ntolerance = 0.02\nsamples = 7\n")
    loaded = check_paths([str(specs)]).specs[0].loaded
    assert loaded is not None and (loaded.spec.tests.tolerance, loaded.spec.tests.samples) == (0.02, 7)
    (specs / "a.yaml").write_text(UNUSED + "tests: {tolerance: 0.1}\n")
    loaded = check_paths([str(specs)]).specs[0].loaded
    assert loaded is not None and (loaded.spec.tests.tolerance, loaded.spec.tests.samples) == (0.1, 7)


def test_nearest_configuration_wins_and_eqdesign_toml_before_pyproject(tmp_path: Path) -> None:
    specs = _project(tmp_path, '[tool.eqdesign]\nignore = ["unused-input"]\n')
    (specs / "eqdesign.toml").write_text('ignore = ["dropped-irrep"]\n')
    assert _findings(specs) == [("EQ202", 4, 8, "warning")]
    (tmp_path / "eqdesign.toml").write_text('ignore = ["unused-input", "dropped-irrep"]\n')
    (specs / "eqdesign.toml").unlink()
    assert _findings(specs) == []  # eqdesign.toml beats pyproject.toml in the same folder


def test_explicit_config_and_isolated(tmp_path: Path) -> None:
    specs = _project(tmp_path, '[tool.eqdesign]\nignore = ["unused-input"]\n')
    other = tmp_path / "other.toml"
    other.write_text('ignore = ["dropped-irrep"]\n')
    assert _findings(specs, config=str(other)) == [("EQ202", 4, 8, "warning")]
    assert len(_findings(specs, isolated=True)) == 2


@pytest.mark.parametrize(
    "text, line, col, message, hint",
    [
        ('[tool.eqdesign]\nignroe = ["x"]\n', 2, 1, "unknown configuration key 'ignroe'", "did you mean 'ignore'?"),
        ('[tool.eqdesign]\nignore = ["unusd-input"]\n', 2, 11, "ignore names no rule: 'unusd-input'", "did you mean 'unused-input'?"),
        ('[tool.eqdesign]\nignore = ["schema"]\n', 2, 11, "schema (EQ003) cannot be in ignore", "fix the spec instead"),
        ('[tool.eqdesign]\nignore = "EQ202"\n', 2, 1, "ignore must be a list", 'ignore = ["EQ202"'),
        ('[tool.eqdesign.severity]\ndecoupled = "fatal"\n', 2, 1, "must be error, warning or info, not 'fatal'", 'write "error"'),
        ("[tool.eqdesign.tests]\ntolerance = -1\n", 2, 1, "tests.tolerance: Input should be greater than 0", "ranges"),
        ("[tool.eqdesign]\nstrict = yes\n", 2, 10, "not valid TOML", "toml.io"),
    ],
)
def test_configuration_errors_are_located_and_exit_2(tmp_path: Path, text: str, line: int, col: int, message: str, hint: str) -> None:
    specs = _project(tmp_path, text)
    result = check_paths([str(specs)])
    assert result.exit_code == 2
    [entry] = result.specs  # one report for the configuration; its specs are not checked
    [finding] = entry.findings
    assert finding.rule_id == "EQ006" and finding.location.file.endswith("pyproject.toml")
    assert (finding.location.line, finding.location.column) == (line, col), finding
    assert message in finding.message and hint in finding.hint


def test_unreachable_output_severity_can_be_lowered_but_grid_errors_cannot(tmp_path: Path) -> None:
    # EQ201 is not mandatory (the model builds; the output is a constant), so it may be softened;
    # EQ102 (the layer cannot be built) may not.
    specs = _project(tmp_path, '[tool.eqdesign.severity]\nEQ201 = "warning"\n')
    assert check_paths([str(specs)]).exit_code == 0
    (tmp_path / "pyproject.toml").write_text('[tool.eqdesign.severity]\ngrid-too-small = "warning"\n')
    [finding] = check_paths([str(specs)]).specs[0].findings
    assert "grid-too-small cannot be lowered" in finding.message and finding.location.line == 2


SUPPRESSED = UNUSED + "lint:\n  ignore: [unused-input, EQ203, EQ999, schema]\n"


def test_spec_suppressions_silence_report_unused_and_refuse_unknown_or_mandatory(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SUPPRESSED)
    [spec] = check_paths([str(path)]).specs
    got = [(f.rule_id, f.location.line, f.location.column, f.severity.value, f.message) for f in spec.findings]
    assert got == [
        ("EQ101", 5, 9, "warning", "linear layer 1 (into the output) drops 4x1"),
        ("EQ007", 9, 26, "warning", "lint.ignore names 'EQ203', but this spec has no such finding"),
        ("EQ003", 9, 33, "error", "lint.ignore names no rule: 'EQ999'"),
        ("EQ003", 9, 40, "error", "schema (EQ003) cannot be ignored"),
    ]
    assert spec.exit_code() == 2  # a bad suppression is a spec error, like any bad key


def test_unused_suppression_can_itself_be_ignored(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(UNUSED + "lint: {ignore: [unused-input, decoupled, unused-suppression]}\n")
    assert [f.rule_id for f in check_paths([str(path)]).specs[0].findings] == ["EQ101"]


def test_build_checks_under_the_same_configuration(tmp_path: Path) -> None:
    """check and build never disagree: a configuration that fails a spec in check fails it in build too,
    before escnn is touched (the build stops at the check)."""
    specs = _project(tmp_path, '[tool.eqdesign.severity]\ndecoupled = "error"\n', spec=DECOUPLED)
    batch = build_specs([str(specs)], str(tmp_path / "out"), lambda label: nullcontext(lambda step: None), BuildOptions(influence=False))
    checked = check_paths([str(specs)])
    assert batch.exit_code == checked.exit_code == 1
    assert batch.builds[0].check.findings == checked.specs[0].findings
    assert not (tmp_path / "out").exists()


def test_cli_reads_the_configuration_and_exit_zero(tmp_path: Path) -> None:
    specs = _project(tmp_path, '[tool.eqdesign.severity]\ndecoupled = "error"\n', spec=DECOUPLED)
    assert invoke_cli("check", str(specs), "-f", "concise").returncode == 1
    assert invoke_cli("check", str(specs), "-f", "concise", "--exit-zero").returncode == 0
    assert invoke_cli("check", str(specs), "-f", "concise", "--isolated").returncode == 0
    (tmp_path / "pyproject.toml").write_text("[tool.eqdesign\n")
    proc = invoke_cli("check", str(specs), "-f", "concise", "--exit-zero")
    assert proc.returncode == 2, proc.stdout  # --exit-zero never hides a broken configuration
    assert f"{tmp_path / 'pyproject.toml'}:1:" in proc.stdout and "[EQ006 config]" in proc.stdout
