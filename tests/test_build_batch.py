"""A batch build goes on past a spec that escnn cannot build: that spec fails alone, located, with exit 1."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.escnn

GOOD = [ROOT / "specs" / "c8-regular-elu.yaml", ROOT / "tests" / "acceptance" / "acc12-so3-gated-scalar-gates-vector.yaml"]
BAD = ROOT / "specs" / "so3-gated-tensor-product.yaml"  # passes check; its tensor-product layer is made to fail


def _quiet(label: str):
    return contextlib.nullcontext(lambda step: None)


def test_a_spec_escnn_cannot_build_fails_alone(monkeypatch, tmp_path: Path):
    from eqdesign.commands.build import BuildOptions, build_specs
    from eqdesign.commands.check import check_file
    from eqdesign.escnn_backend import builder
    from eqdesign.escnn_backend.compat import BuildError

    def refuse(self, nl):
        raise BuildError("this tensor product is refused for the test", nl.path)

    monkeypatch.setattr(builder._Builder, "_tensor", refuse)
    assert check_file(BAD).exit_code() == 0  # check passes it: only the build can fail
    batch = build_specs([str(GOOD[0]), str(BAD), str(GOOD[1])], str(tmp_path), _quiet, BuildOptions(influence=False))
    codes = {Path(b.check.file).name: int(b.exit_code) for b in batch.builds}
    assert codes == {GOOD[0].name: 0, BAD.name: 1, GOOD[1].name: 0}
    assert int(batch.exit_code) == 1
    (failure,) = next(b for b in batch.builds if b.exit_code).failures
    line = next(i for i, text in enumerate(BAD.read_text().splitlines(), 1) if "tensor_product" in text)
    assert re.match(rf"{re.escape(str(BAD))}:{line}:\d+: escnn cannot build this design: this tensor product is refused", failure)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert [n for n in written if n.startswith("so3-gated-tensor-product")] == []
    assert {"c8-regular-elu.pt", "acc12-so3-gated-scalar-gates-vector.pt"} <= set(written)


def test_output_folder_that_is_a_file_is_refused_before_building(tmp_path: Path):
    from conftest import run_cli

    target = tmp_path / "out"
    target.write_text("not a folder")
    proc = run_cli("build", str(GOOD[0]), "-o", str(target))
    assert proc.returncode == 2 and "is a file" in proc.stdout + proc.stderr
    assert target.read_text() == "not a folder"


def test_two_specs_of_one_name_are_refused(tmp_path: Path):
    from conftest import run_cli
    from eqdesign.extras import onnx_missing as missing

    twin = tmp_path / "twin.yaml"
    twin.write_text(GOOD[0].read_text())
    proc = run_cli("build", str(GOOD[0]), str(twin), "-o", str(tmp_path / "out"), "--no-influence")
    assert proc.returncode == 2 and "same name" in proc.stdout
    onnx = () if missing() else (".onnx",)  # written where the exporter is installed
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"c8-regular-elu{e}" for e in (".md", ".pt", ".pt2", ".report.json", *onnx)
    )
