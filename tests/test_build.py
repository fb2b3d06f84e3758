"""`eqdesign build` and `eqdesign verify` end to end, with real escnn, TorchScript and torch.export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HAVE_ONNX, ROOT, run_cli
from eqdesign.analysis.cost import cost_totals

pytestmark = pytest.mark.escnn

SPECS = sorted(p for p in (ROOT / "specs").glob("*.yaml"))

#: the gallery in two batches built side by side (two cores); split by group family, so that no two processes
#: fill the same escnn cache entries at once
SO3_FAMILY = [p for p in SPECS if p.stem.startswith(("so3", "o3"))]
BATCHES = [SO3_FAMILY, [p for p in SPECS if p not in SO3_FAMILY]]

# Loads artifacts where escnn cannot be imported; prints, per job, the outputs for the inputs it is given.
_RELOAD = r"""
import json, sys
sys.modules["escnn"] = None  # any import of escnn now fails
import torch
out = {}
for stem, pt, pt2, x in json.loads(sys.stdin.read()):
    x = torch.tensor(x)
    extra = {"layout.json": "", "provenance.json": "", "spec.yaml": "", "report.json": "", "representations.json": ""}
    scripted = torch.jit.load(pt, _extra_files=extra)
    exported = torch.export.load(pt2).module()
    assert extra["spec.yaml"] and json.loads(extra["provenance.json"])["spec_sha256"]
    assert json.loads(extra["representations.json"])["input"]
    batch = torch.cat([x, x[:1]])  # another batch size: the exported batch dimension is dynamic
    out[stem] = {"script": scripted(x).tolist(), "export": exported(batch)[: len(x)].tolist(), "layout": json.loads(extra["layout.json"])}
print(json.dumps(out))
"""


def _build_batches(out: Path) -> tuple[list[dict], int]:
    """Every batch built by one `eqdesign build` process (as a user runs it on many specs), side by side."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "eqdesign", "build", *map(str, batch), "-o", str(out), "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        for batch in BATCHES
    ]
    outputs = [p.communicate(timeout=1800)[0] for p in procs]
    documents = [json.loads(text) for text in outputs]  # stdout holds the JSON document alone: no escnn banners
    assert all(d["schema_version"] == 2 and d["summary"]["specs"] == len(d["builds"]) for d in documents)
    reports = [r for d in documents for r in d["builds"]]
    return reports, max(p.returncode for p in procs)


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> dict:
    """name -> (report, reloaded outputs, inputs, verify verdict) for every gallery spec; artifacts reloaded by
    one process where escnn cannot be imported, and verified by one `eqdesign verify`."""
    import torch

    out = tmp_path_factory.mktemp("gallery")
    built, code = _build_batches(out)
    reports = {Path(r["spec"]["file"]).stem: r for r in built}
    jobs = []
    for stem, report in reports.items():
        if report["build"]["ok"]:
            x = torch.randn(5, report["spec"]["input"]["dim"], generator=torch.Generator().manual_seed(3))
            name = report["spec"]["name"]
            jobs.append((stem, str(out / f"{name}.pt"), str(out / f"{name}.pt2"), x.tolist()))
    reload = subprocess.run([sys.executable, "-c", _RELOAD], input=json.dumps(jobs), capture_output=True, text=True, cwd=out)
    assert reload.returncode == 0, reload.stderr
    loaded = json.loads(reload.stdout)
    verify = run_cli("verify", *(job[1] for job in jobs), "--format", "json")
    verdicts = {Path(m["path"]).stem: m for m in json.loads(verify.stdout)["models"]}
    onnx = [str(Path(job[1]).with_suffix(".onnx")) for job in jobs] if HAVE_ONNX else []
    verified = json.loads(run_cli("verify", *onnx, "--format", "json").stdout)["models"] if onnx else []
    result = {"__out__": out, "__exit__": code, "__onnx__": {Path(m["path"]).stem: m for m in verified}}
    for stem, report in reports.items():
        name = report["spec"]["name"]
        x = next((torch.tensor(job[3]) for job in jobs if job[0] == stem), None)
        result[stem] = (report, loaded.get(stem), x, verdicts.get(name))
    return result


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_build_writes_artifacts_that_reload_without_escnn(spec: Path, gallery, escnn_models):
    import torch

    report, loaded, x, verdict = gallery[spec.stem]
    assert report["build"]["ok"], report["build"]["failures"]
    name = report["spec"]["name"]
    assert report["build"]["influence"]["measured"] == report["spec"]["influence"]
    result, model = escnn_models(spec)  # the escnn model with the weights the build used (same seed)
    assert model.params() == result.design.params  # the Schur counts `check` reports are escnn's parameters
    # the cost as built counts the grids build chose (the model's design; tests/test_cost.py equates it with
    # torch's operation count of the compiled model)
    assert report["build"]["cost_as_built"] == cost_totals(model.design)
    with torch.no_grad():
        ref = model(x.double()).float()
    for key in ("script", "export"):
        out = torch.tensor(loaded[key])
        assert float((out - ref).norm() / ref.norm().clamp_min(1e-12)) < 1e-5, key
    output = report["spec"]["output"]  # a Cartesian tensor field takes all its components: more columns than dim
    assert loaded["layout"]["output"][-1]["slice"][1] == output.get("columns", output["dim"])
    assert verdict["ok"], verdict["message"]
    assert (gallery["__out__"] / f"{name}.md").read_text().startswith(f"# {name}")


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_every_gallery_onnx_file_verifies_in_onnxruntime(spec: Path, gallery):
    """NAME.onnx (opset 18, dynamic batch) run by onnxruntime: equivariant on the stored matrices within the
    build's tolerance, and within AGREEMENT of NAME.pt2 on random inputs (verify measures both)."""
    if not HAVE_ONNX:
        pytest.skip("onnx, onnxscript or onnxruntime not installed (the build extra installs them)")
    import onnx

    name = gallery[spec.stem][0]["spec"]["name"]
    verdict = gallery["__onnx__"][name]
    assert verdict["ok"], verdict["message"]
    assert f"agrees with {name}.pt2 to" in verdict["message"] and verdict["max_rel"] <= verdict["tolerance"]
    model = onnx.load(gallery["__out__"] / f"{name}.onnx")
    assert [o.version for o in model.opset_import if o.domain == ""] == [18]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a named, dynamic batch


def test_gallery_batch_exits_zero(gallery):
    assert gallery["__exit__"] == 0


TIGHT = """\
name: too-tight
group: so3
input: "1x vector"
output: "1x vector + 1x 0"
hidden:
  - {nonlinearity: fourier_elu, band_limit: 2, channels: 2, grid: {type: thomson_cube, n: 2}}
tests: {tolerance: 1.0e-6, samples: 4}
"""


def test_too_tight_tolerance_fails_and_keeps_the_older_artifact(write_spec, tmp_path: Path):
    spec = write_spec(TIGHT)
    out = tmp_path / "out"
    out.mkdir()
    (out / "too-tight.pt").write_text("an older, good artifact")
    proc = run_cli("build", str(spec), "-o", str(out))
    assert proc.returncode == 1
    assert "equivariance error" in proc.stdout and "finer grid" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["too-tight.pt"]
    assert (out / "too-tight.pt").read_text() == "an older, good artifact"


def test_build_refuses_a_spec_that_fails_check(tmp_path: Path):
    proc = run_cli("build", str(ROOT / "tests" / "acceptance" / "acc02-so3-norm-cannot-create-vectors.yaml"), "-o", str(tmp_path))
    assert proc.returncode == 1 and "fix them first" in proc.stdout
    assert not list(tmp_path.iterdir())
    bad = run_cli("build", str(ROOT / "tests" / "acceptance" / "acc15-typo-key.yaml"), "-o", str(tmp_path))
    assert bad.returncode == 2 and not list(tmp_path.iterdir())


def test_verify_fails_when_the_saved_representations_do_not_match(tmp_path: Path):
    import torch

    spec = ROOT / "tests" / "acceptance" / "acc12-so3-gated-scalar-gates-vector.yaml"
    assert run_cli("build", str(spec), "-o", str(tmp_path), "--no-influence").returncode == 0
    path = tmp_path / "acc12-so3-gated-scalar-gates-vector.pt"
    extra = {"representations.json": "", "report.json": ""}
    module = torch.jit.load(str(path), _extra_files=extra)
    reps = json.loads(extra["representations.json"])
    reps["output"] = [[[-v for v in row] for row in m] for m in reps["output"]]  # claim the output flips sign
    extra["representations.json"] = json.dumps(reps)
    torch.jit.save(module, str(path), _extra_files=extra)
    proc = run_cli("verify", str(path), "--format", "json")
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["models"][0]["ok"] is False
    assert run_cli("verify", str(tmp_path / "missing.pt")).returncode == 2
