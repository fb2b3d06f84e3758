"""The public API gives what the command line gives: the same findings, the same check report, the same
artifacts byte for byte; its errors carry the located findings; and the check-only part needs no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import eqdesign
from conftest import ROOT, run_cli
from eqdesign.analysis.checking import check_file
from eqdesign.findings import SPEC_RULES

GALLERY = sorted((ROOT / "specs").glob("*.yaml"))
INVALID = sorted((ROOT / "tests" / "corpus" / "invalid").glob("*.yaml"))


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_a_path_a_text_and_a_mapping_are_the_same_spec(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    path = "specs/so3-vector-mlp.yaml"
    text = Path(path).read_text()
    from_path, from_text = eqdesign.load_spec(path), eqdesign.load_spec(text)
    from_mapping = eqdesign.load_spec(yaml.safe_load(text))
    assert from_path.model == from_text.model == from_mapping.model
    assert (from_path.file, from_text.file, from_mapping.file) == (path, "<string>", "<string>")
    assert eqdesign.load_spec(from_path) is from_path
    assert eqdesign.load_spec(Path(path)).model == from_path.model  # a PathLike too


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_load_spec_raises_the_findings_check_reports(path: Path):
    """A spec `check` cannot read (exit 2) raises SpecError with exactly check's findings of that kind; any
    other spec loads, and `check` gives all of check's findings."""
    expected = check_file(path).all_findings()
    unreadable = [f for f in expected if f.rule in SPEC_RULES or f.rule == "internal-error"]
    if unreadable:
        with pytest.raises(eqdesign.SpecError) as raised:
            eqdesign.load_spec(path)
        assert raised.value.findings == unreadable
        first = unreadable[0]
        assert f"{path.name}:{first.location.line}:{first.location.column}: error [{first.rule_id} {first.rule}]" in str(raised.value)
    else:
        assert eqdesign.check(path).findings == expected


def test_a_text_spec_is_located_as_string():
    with pytest.raises(eqdesign.SpecError) as raised:
        eqdesign.load_spec("name: x\ngroup: so3\ninput: 1x vector\noutput: 1x vectr\nhidden: []\n")
    (finding,) = raised.value.findings
    assert (finding.location.file, finding.location.line, finding.location.column, finding.rule) == ("<string>", 4, 12, "unknown-irrep")
    assert "vector" in finding.hint


def test_a_missing_file_is_a_spec_error_not_an_os_traceback(tmp_path: Path):
    with pytest.raises(eqdesign.SpecError) as raised:
        eqdesign.load_spec(tmp_path / "absent.yaml")
    assert raised.value.findings[0].location.file == str(tmp_path / "absent.yaml")


def test_the_check_report_is_the_json_of_eqdesign_check():
    """One CLI process over the gallery against the API in this one: the same document per spec."""
    done = run_cli("check", "--format", "json", *map(_rel, GALLERY))
    documents = {s["file"]: s for s in json.loads(done.stdout)["specs"]}
    for path in GALLERY:
        report = eqdesign.check(ROOT / _rel(path))
        mine = json.loads(json.dumps(report.as_dict()))
        theirs = documents[_rel(path)]
        for key in ("file",):  # the API names the file as it was given (absolute here)
            mine.pop(key), theirs.pop(key)
        for finding in mine["findings"] + theirs["findings"]:
            finding.pop("file")
        assert mine == theirs, path.name
        assert report.ok == (theirs["exit_code"] == 0)


def test_strict_fails_on_warnings_as_the_option_does():
    report = eqdesign.check(ROOT / "specs" / "so3-vector-mlp.yaml")
    assert report.ok and report.warnings == 1
    assert not eqdesign.check(ROOT / "specs" / "so3-vector-mlp.yaml", strict=True).ok


def test_the_check_only_api_imports_neither_torch_nor_escnn():
    code = (
        "import sys, eqdesign\n"
        "assert eqdesign.check('specs/so2-gated.yaml').ok\n"
        "assert eqdesign.design(group='so2', input='1x vector', output='1x 0', params=2000)[0].exact\n"
        "print(sorted(m for m in ('torch', 'escnn') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_public_name_resolves_and_is_listed():
    assert eqdesign.__all__ == sorted(eqdesign.__all__, key=lambda n: (n[0].islower(), n))
    for name in eqdesign.__all__:
        assert getattr(eqdesign, name) is not None
    assert set(dir(eqdesign)) >= set(eqdesign.__all__)
    with pytest.raises(AttributeError):
        eqdesign.no_such_name  # noqa: B018


def test_design_is_the_search_of_the_command():
    """The first candidate's text is the spec `eqdesign design` prints for the same ask."""
    ask = ["--group", "so2", "--input", "1x vector", "--output", "1x vector + 1x 0", "--params", "3000"]
    done = run_cli("design", *ask)
    assert done.returncode == 0, done.stderr
    best = eqdesign.design(group="so2", input="1x vector", output="1x vector + 1x 0", params=3000)[0]
    assert best.text == done.stdout
    assert eqdesign.check(best.text).ok


def test_a_bad_ask_raises_with_keyword_names():
    with pytest.raises(eqdesign.DesignError) as raised:
        eqdesign.design(group="so3", input="1x 0", output="1x vector", params=1000)
    assert any("vector" in m for m in raised.value.messages)
    with pytest.raises(eqdesign.DesignError, match=r"^params: "):
        eqdesign.design(group="so2", input="1x vector", output="1x 0", params=0)


# -- building, saving, loading: real escnn and torch --------------------------------------------------------


@pytest.mark.escnn
def test_built_save_writes_the_cli_artifacts_byte_for_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec = "specs/so3-gated-tensor-product.yaml"
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    cli = subprocess.run(
        [sys.executable, "-m", "eqdesign", "build", spec, "-o", str(tmp_path / "cli")], capture_output=True, text=True, cwd=ROOT
    )
    assert cli.returncode == 0, cli.stderr
    # the API in a process of its own too: TorchScript names a module's classes after those it scripted
    # before in the same process, so a save's bytes depend on earlier saves there (README, Guarantees)
    code = f"import eqdesign; print('\\n'.join(map(str, eqdesign.build({spec!r}).save({str(tmp_path / 'api')!r}))))"
    api = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert api.returncode == 0, api.stderr
    paths = [Path(line) for line in api.stdout.split()]
    assert sorted(p.name for p in paths) == sorted(p.name for p in (tmp_path / "cli").iterdir())
    for path in paths:
        assert path.read_bytes() == (tmp_path / "cli" / path.name).read_bytes(), path.name


@pytest.mark.escnn
def test_the_module_trains_and_save_keeps_the_tested_weights(tmp_path: Path):
    import torch

    built = eqdesign.build(ROOT / "specs" / "so2-gated.yaml", influence=False)
    x = torch.randn(32, built.layout["input_dim"])
    before = built.module(x).detach()
    optimizer = torch.optim.SGD(built.module.parameters(), lr=0.1)
    built.module(x).pow(2).sum().backward()
    optimizer.step()
    assert not torch.allclose(built.module(x), before)  # the step reached the module
    eqdesign.assert_equivariant(built.module, built)  # and kept it equivariant (Schur coefficients)
    saved = eqdesign.load(built.save(tmp_path)[1])
    assert torch.allclose(saved.module(x), before, atol=1e-6)  # what was built and tested, not the step
    assert eqdesign.verify(saved).ok


@pytest.mark.escnn
def test_a_failing_build_raises_with_its_report():
    spec = ROOT / "eqdesign" / "analysis" / "examples" / "EQ301-not-equivariant.yaml"
    with pytest.raises(eqdesign.BuildFailed) as raised:
        eqdesign.build(spec, influence=False)
    report = raised.value.report
    assert not report.ok and report.max_equivariance_error is not None and report.max_equivariance_error > 1e-3
    assert any(f.rule == "not-equivariant" for f in report.findings)
    assert "equivariance" in str(raised.value)


@pytest.mark.escnn
def test_a_spec_check_fails_is_refused_before_building():
    with pytest.raises(eqdesign.BuildFailed) as raised:
        eqdesign.build("name: zero\ngroup: so3\ninput: 1x 0\noutput: 1x vector\nhidden: []\n")
    assert "EQ201 unreachable-output" in str(raised.value)
    assert raised.value.report.equivariance == []


@pytest.mark.escnn
def test_seed_changes_the_weights_only(tmp_path: Path):
    import torch

    spec = ROOT / "specs" / "so2-gated.yaml"
    a, b, c = (eqdesign.build(spec, seed=s, influence=False) for s in (0, 0, 7))
    x = torch.randn(4, a.layout["input_dim"])
    assert torch.equal(a.module(x), b.module(x)) and not torch.allclose(a.module(x), c.module(x))
    report = next(p for p in c.save(tmp_path) if p.name.endswith(".report.json"))
    assert json.loads(report.read_text())["tests"]["seed"] == 7


# -- assert_equivariant on modules eqdesign did not make -----------------------------------------------------


CROSS = {"name": "cross", "group": "so3", "input": "2x vector", "output": "1x vector", "hidden": []}


@pytest.mark.escnn
def test_a_users_cross_product_is_equivariant_and_a_componentwise_product_is_not():
    import torch

    class Cross(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.linalg.cross(x[:, :3], x[:, 3:])

    class Product(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :3] * x[:, 3:]

    assert eqdesign.assert_equivariant(Cross(), CROSS) < 1e-6
    with pytest.raises(eqdesign.EquivarianceError) as raised:
        eqdesign.assert_equivariant(Product(), CROSS)
    assert raised.value.max_rel > 0.1


@pytest.mark.escnn
def test_a_module_of_the_wrong_shape_is_named():
    import torch

    with pytest.raises(eqdesign.EqdesignError, match=r"maps \(16, 6\) to \(16, 4\), the reference to \(16, 3\)"):
        eqdesign.assert_equivariant(torch.nn.Linear(6, 4), CROSS)


def test_the_build_functions_say_how_to_install_what_the_check_only_install_lacks():
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "sys.modules['escnn'] = None\n"
        "import eqdesign\n"
        "assert eqdesign.check('specs/so2-gated.yaml').ok\n"
        "for call in (lambda: eqdesign.build('specs/so2-gated.yaml'), lambda: eqdesign.load('x.pt'), lambda: eqdesign.freeze(None)):\n"
        "    try:\n"
        "        call()\n"
        "    except eqdesign.MissingExtra as err:\n"
        "        print(isinstance(err, ImportError), 'pip install' in str(err))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["True True"] * 3
