"""`eqdesign export`: a NAME.pt fine-tuned as a user would (torch.jit.load, optimizer steps, torch.jit.save)
is re-verified and written as NAME.pt2 and NAME.onnx that `eqdesign verify` passes; files that are not the
build's, or were edited, are refused with the documented exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import HAVE_ONNX, ROOT, run_cli
from eqdesign.exitcodes import ExitCode

pytestmark = pytest.mark.escnn

SPEC = ROOT / "specs" / "so2-gated.yaml"
NAME = "so2-gated"
needs_onnx = pytest.mark.skipif(not HAVE_ONNX, reason="onnx, onnxscript or onnxruntime not installed (the build extra installs them)")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of one build of so2-gated, and tuned.pt: its NAME.pt after five Adam steps."""
    import torch

    import eqdesign

    folder = tmp_path_factory.mktemp("export")
    eqdesign.build(SPEC, influence=False).save(folder)
    module = torch.jit.load(str(folder / f"{NAME}.pt"))
    optimizer = torch.optim.Adam(module.parameters(), lr=0.05)
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        optimizer.zero_grad()
        module(torch.randn(64, 3, generator=generator)).square().mean().backward()
        optimizer.step()
    torch.jit.save(module, str(folder / "tuned.pt"))
    return folder


def _outputs(path: Path, x):  # type: ignore[no-untyped-def]
    import torch

    from eqdesign.export.artifacts import open_artifact

    with torch.no_grad():
        return open_artifact(path).module(x)


def _export(built: Path, to: str, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli("export", str(built / "tuned.pt"), "--to", to, "--build", str(built / f"{NAME}.pt"), *extra)


def test_a_fine_tuned_model_fails_verify_and_exports_to_pt2_that_verifies(built: Path):
    import torch

    assert run_cli("verify", str(built / "tuned.pt")).returncode == ExitCode.FINDINGS  # its weights are not the build's
    done = _export(built, "pt2")
    assert done.returncode == ExitCode.OK, done.stderr
    assert "equivariant within tolerance" in done.stdout
    verdict = run_cli("verify", str(built / "tuned.pt2"), "--format", "json")
    assert verdict.returncode == 0, verdict.stdout
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(1))
    tuned, exported, original = (_outputs(built / f, x) for f in ("tuned.pt", "tuned.pt2", f"{NAME}.pt2"))
    torch.testing.assert_close(exported, tuned, rtol=1e-5, atol=1e-6)  # the fine-tuned weights, not the build's
    assert float((tuned - original).abs().max()) > 1e-3
    provenance = json.loads(_extra(built / "tuned.pt2", "provenance.json"))
    assert provenance["exported"]["from"] == "tuned.pt" and provenance["exported"]["max_rel"] <= provenance["exported"]["tolerance"]


def _extra(path: Path, name: str) -> str:
    from eqdesign.export.artifacts import open_artifact

    return open_artifact(path).extras[name]


@needs_onnx
def test_a_fine_tuned_model_exports_to_onnx_that_verifies_in_onnxruntime(built: Path):
    _export(built, "pt2")
    done = _export(built, "onnx")
    assert done.returncode == ExitCode.OK, done.stderr
    verdict = json.loads(run_cli("verify", str(built / "tuned.onnx"), "--format", "json").stdout)["models"][0]
    assert verdict["ok"] and "agrees with tuned.pt2" in verdict["message"], verdict["message"]


def test_a_torchscript_file_that_is_not_eqdesigns_is_refused(built: Path, tmp_path: Path):
    import torch

    other = tmp_path / "other.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(3, 3)), str(other))
    alone = run_cli("export", str(other), "--to", "pt2")
    assert alone.returncode == ExitCode.SPEC and f"{other}: cannot read it as an eqdesign model" in alone.stderr
    assert "--build" in alone.stderr  # the hint that works for a fine-tuned file saved without its extras
    bound = run_cli("export", str(other), "--to", "pt2", "--build", str(built / f"{NAME}.pt"))
    assert bound.returncode == ExitCode.FINDINGS and "code (its program" in bound.stderr
    assert not (tmp_path / "other.pt2").exists()


def test_a_tampered_basis_is_not_exported(built: Path, tmp_path: Path):
    """A buffer (a fixed equivariant basis) changed as parameters are: export re-measures equivariance with
    the new tensors and refuses the model (exit 1), writing nothing."""
    import torch

    module = torch.jit.load(str(built / f"{NAME}.pt"))
    tensors = [b for b in module.buffers() if b.is_floating_point() and b.numel() > 1]  # the layers' fixed bases
    assert tensors
    with torch.no_grad():
        for basis in tensors:
            basis.add_(torch.randn(basis.shape, generator=torch.Generator().manual_seed(2)))
    torch.jit.save(module, str(tmp_path / "bad.pt"))
    done = run_cli("export", str(tmp_path / "bad.pt"), "--to", "pt2", "--build", str(built / f"{NAME}.pt"))
    assert done.returncode == ExitCode.FINDINGS, done.stderr
    assert "not exported" in done.stderr and "above tolerance" in done.stderr
    assert not (tmp_path / "bad.pt2").exists()


def test_an_output_of_another_format_is_a_usage_error(built: Path):
    done = _export(built, "pt2", "-o", str(built / "x.onnx"))
    assert done.returncode == ExitCode.SPEC and "must end in .pt2" in done.stderr


@needs_onnx
def test_an_edited_onnx_file_fails_verify(built: Path, tmp_path: Path):
    """One weight changed, a metadata extra changed, and bytes that are no ONNX model: exit 1, 1, 2."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(built / f"{NAME}.onnx")
    init = max(model.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    values = numpy_helper.to_array(init).copy()
    values.flat[0] += 0.5
    init.CopyFrom(numpy_helper.from_array(values, init.name))
    onnx.save(model, tmp_path / "weights.onnx")
    entry = next(p for p in model.metadata_props if p.key == "eqdesign/representations.json")
    entry.value = entry.value.replace("0.", "0.1", 1)
    onnx.save(model, tmp_path / "extras.onnx")
    (tmp_path / "garbage.onnx").write_bytes(b"not a model")
    shutil.copy(built / f"{NAME}.onnx", tmp_path / "intact.onnx")
    verdicts = {}
    for name in ("weights", "extras", "garbage", "intact"):
        done = run_cli("verify", str(tmp_path / f"{name}.onnx"), "--format", "json")
        verdicts[name] = (done.returncode, json.loads(done.stdout)["models"][0]["message"])
    assert verdicts["weights"][0] == ExitCode.FINDINGS and "weights (its state-dict tensors)" in verdicts["weights"][1]
    assert verdicts["extras"][0] == ExitCode.FINDINGS and "representations.json was changed" in verdicts["extras"][1]
    assert verdicts["garbage"][0] == ExitCode.SPEC and "cannot read it as an eqdesign model" in verdicts["garbage"][1]
    assert verdicts["intact"][0] == ExitCode.OK and "not measured (no such file)" in verdicts["intact"][1]


#: `python -m eqdesign` as an environment without the ONNX exporter runs it: the three modules cannot be imported
_WITHOUT_ONNX = "import runpy, sys\nfor m in ('onnx', 'onnxscript', 'onnxruntime'):\n    sys.modules[m] = None\nsys.argv[0] = 'eqdesign'\nrunpy.run_module('eqdesign', run_name='__main__')\n"


def test_without_the_onnx_exporter_build_succeeds_and_says_how_to_add_it(tmp_path: Path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_ONNX, "build", str(SPEC), "-o", str(tmp_path), "--no-influence", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == ExitCode.OK, done.stderr[-2000:]
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".md", ".pt", ".pt2"]
    notes = json.loads(done.stdout)["builds"][0]["build"]["notes"]
    assert any(f"no {NAME}.onnx written" in n and "pip install onnx onnxscript onnxruntime" in n for n in notes), notes
    refused = subprocess.run(
        [sys.executable, "-c", _WITHOUT_ONNX, "export", str(tmp_path / f"{NAME}.pt"), "--to", "onnx"], capture_output=True, text=True
    )
    assert refused.returncode == ExitCode.SPEC and "pip install onnx onnxscript onnxruntime" in refused.stderr
