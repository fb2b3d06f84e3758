"""`eqdesign train` and ``eqdesign.train``: the compiled model trained on the dipole example (which it can
represent exactly), against plain MLPs of the same size; its equivariance measured again, the trained
artifacts verified, runs reproduced byte for byte, an interrupt leaving nothing behind."""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import ROOT, invoke_cli

torch = pytest.importorskip("torch")

import eqdesign  # noqa: E402
from eqdesign.training import baselines, loop  # noqa: E402

SPEC = ROOT / "examples" / "dipole" / "dipole.yaml"
sys.path.insert(0, str(ROOT / "examples" / "dipole"))
from generate import dipole_data  # noqa: E402


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dipole")
    out = {}
    for name, (rows, seed) in {"train": (600, 1), "test": (300, 2)}.items():
        x, y = dipole_data(rows, seed)
        np.savez(folder / f"{name}.npz", x=x, y=y)
        out[name] = folder / f"{name}.npz"
    return out


@pytest.fixture(scope="module")
def built() -> Any:
    return eqdesign.build(SPEC, influence=False)


@pytest.fixture(scope="module")
def trained(built: Any, data: dict[str, Path]) -> Any:
    return eqdesign.train(built, data["train"], test=data["test"], steps=300, batch=32, lr=1e-2, baseline="mlp-augmented", seed=3)


# -- the loop's parts, without escnn ---------------------------------------------------------------------------


def test_the_schedule_warms_up_linearly_then_decays_to_zero():
    factor = loop.schedule(100, 0.1)
    assert [factor(s) for s in range(10)] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert factor(10) == pytest.approx(1.0)
    assert factor(55) == pytest.approx(0.5)  # halfway through the cosine
    assert factor(100) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("target", [40, 224, 912, 5_000, 50_000])
@pytest.mark.parametrize(("inputs", "outputs"), [(16, 3), (21, 3), (3, 9)])
def test_the_baseline_mlp_has_the_same_parameter_count_within_5_percent(target: int, inputs: int, outputs: int):
    mlp = baselines.plain_mlp(inputs, outputs, target, seed=0)
    assert abs(baselines.count(mlp) - target) <= 0.05 * target, baselines.count(mlp)


def test_augmentation_moves_inputs_and_targets_by_the_same_element():
    angles = torch.linspace(0, 6, 7)
    rot = torch.stack([torch.stack([angles.cos(), -angles.sin()], -1), torch.stack([angles.sin(), angles.cos()], -1)], -2)
    augment = baselines.Augmenter(rot, rot)
    x = torch.randn(64, 2)
    moved_x, moved_y = augment(x, 2 * x, torch.Generator().manual_seed(0))
    assert torch.allclose(moved_y, 2 * moved_x, atol=1e-6)  # the same g for x and y: y = 2x still holds
    assert torch.allclose(moved_x.norm(dim=1), x.norm(dim=1), atol=1e-5)
    assert not torch.allclose(moved_x, x)


def test_early_stopping_keeps_the_best_weights():
    torch.manual_seed(0)
    x, y = torch.randn(64, 4), torch.randn(64, 1)  # noise: validation gets worse as the model overfits
    split = loop.Split(x[:48], y[:48], x[48:], y[48:])
    model = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.SiLU(), torch.nn.Linear(64, 1))
    fit = loop.fit(model, split, loop.Budget(steps=400, batch=16, lr=3e-2, patience=3, checks=100))
    assert fit.stopped_early and fit.steps < 400
    assert fit.best_val == min(row["val_loss"] for row in fit.curve)
    assert loop.mse(model, split.val_x, split.val_y) == fit.best_val  # the best weights are the ones kept
    assert [row["step"] for row in fit.curve] == list(range(4, fit.steps + 1, 4))


# -- training the dipole ---------------------------------------------------------------------------------------


@pytest.mark.escnn
def test_the_equivariant_model_learns_the_dipole_far_better_than_same_sized_mlps(trained: Any):
    models = {m["name"]: m for m in trained.report["models"]}
    assert list(models) == ["equivariant", "mlp", "mlp-augmented"]
    ours = models["equivariant"]["params"]
    assert all(abs(m["params"] - ours) <= 0.05 * ours for m in models.values())
    assert trained.report["ratios"]["judged_on"] == "test"
    # the architecture holds the exact dipole (products q r, summed); the MLPs can only approximate products
    assert trained.report["ratios"]["mlp"] > 10 and trained.report["ratios"]["mlp-augmented"] > 10, trained.report["models"]
    assert models["mlp-augmented"]["note"].startswith("batches moved by random group elements")


@pytest.mark.escnn
def test_the_trained_model_is_still_equivariant(trained: Any, built: Any):
    eq = trained.report["equivariance"]
    assert eq["exact"] and eq["tolerance"] == 1e-5 and eq["max_rel"] <= 1e-5
    assert trained.ok and eqdesign.assert_equivariant(trained.module, built, seed=3) == eq["max_rel"]  # the run's seed
    with torch.no_grad():  # and it did move away from the built weights
        x = torch.randn(8, 16)
        assert not torch.allclose(trained.module(x), built.module.eval()(x))


@pytest.mark.escnn
def test_saved_runs_verify_and_carry_the_data_hash_and_metrics(trained: Any, data: dict[str, Path], tmp_path: Path):
    paths = trained.save(tmp_path)
    names = sorted(p.name for p in paths)
    expected = {
        "dipole.pt",
        "dipole.pt2",
        "dipole.report.json",
        "dipole.md",
        "dipole.train.json",
        "dipole.train.md",
        "dipole.curves.csv",
        "dipole.last-weights.pth",
    }
    assert expected <= set(names) and set(os.listdir(tmp_path)) == set(names)
    for ext in (".pt", ".pt2"):
        loaded = eqdesign.load(tmp_path / f"dipole{ext}")
        assert eqdesign.verify(loaded).ok
        training = loaded.provenance["training"]
        assert training["data"]["train"]["sha256"] == hashlib.sha256(data["train"].read_bytes()).hexdigest()
        assert training["metrics"]["equivariant"]["test_mse"] == trained.report["models"][0]["test_mse"]
        x = torch.randn(5, 16)
        with torch.no_grad():
            assert torch.allclose(loaded.module(x), trained.module(x), atol=1e-5)  # the best weights, exported
    report = json.loads((tmp_path / "dipole.train.json").read_text())
    assert report["kind"] == "eqdesign-train" and report["version"] == 1
    csv_rows = (tmp_path / "dipole.curves.csv").read_text().splitlines()
    assert csv_rows[0] == "model,step,train_loss,val_loss,lr"
    assert len(csv_rows) == 1 + sum(len(c) for c in report["curves"].values())
    last = torch.load(tmp_path / "dipole.last-weights.pth")
    assert set(last) == set(trained.module.state_dict())


@pytest.mark.escnn
def test_without_matplotlib_the_report_says_how_to_get_the_plot(trained: Any):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert trained.plot is None and "pip install 'eqdesign[train]'" in trained.report["plot"]
        assert not any(name.endswith((".png", ".svg")) for name in trained.files())
    else:
        assert set(trained.plot) == {"png", "svg"} and trained.plot["png"].startswith(b"\x89PNG")
        assert {"dipole.curves.png", "dipole.curves.svg"} <= set(trained.files())


@pytest.mark.escnn
def test_two_runs_with_one_seed_write_the_same_bytes(built: Any, data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    runs = [eqdesign.train(built, data["train"], steps=60, baseline="mlp", seed=s) for s in (5, 5, 6)]
    for index, run in enumerate(runs):
        run.save(tmp_path / str(index))
    assert runs[0].report == runs[1].report
    assert runs[0].report["models"] != runs[2].report["models"]  # the seed does matter
    files = sorted(os.listdir(tmp_path / "0"))
    assert files == sorted(os.listdir(tmp_path / "1"))
    for name in files:
        assert (tmp_path / "0" / name).read_bytes() == (tmp_path / "1" / name).read_bytes(), name


@pytest.mark.escnn
def test_sizes_train_on_nested_subsets_as_a_run_on_that_subset_would(built: Any, data: dict[str, Path], tmp_path: Path):
    common = {"val_data": data["test"], "test": data["test"], "steps": 40, "baseline": "mlp", "seed": 4}
    trained = eqdesign.train(built, data["train"], sizes=[200, 50], **common)
    assert [row["rows"] for row in trained.report["sizes"]] == [50, 200]
    # the first 50 rows of the run's seeded permutation, trained on as a data set of their own: the same errors
    with np.load(data["train"]) as arrays:
        first = np.random.default_rng(4).permutation(600)[:50]
        np.savez(tmp_path / "subset.npz", x=arrays["x"][first], y=arrays["y"][first])
    alone = eqdesign.train(built, tmp_path / "subset.npz", **common)
    assert trained.report["sizes"][0] == {"rows": 50, **{m["name"]: m["test_mse"] for m in alone.report["models"]}}
    files = trained.files()
    assert files["dipole.sizes.csv"].splitlines()[0] == "rows,equivariant,mlp"
    assert "Data efficiency (test MSE against the training rows)" in files["dipole.train.md"]


@pytest.mark.escnn
def test_design_with_data_ranks_by_validation_loss_and_records_it(tmp_path: Path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3)).astype(np.float32)  # so2: a planar vector v and a scalar s
    np.savez(tmp_path / "data.npz", x=x, y=x[:, :2] * x[:, 2:])  # s v
    done = invoke_cli(
        "design",
        "--group",
        "so2",
        "--input",
        "1x vector + 1x 0",
        "--output",
        "1x vector",
        "--params",
        "300",
        "--data",
        str(tmp_path / "data.npz"),
        "--top",
        "2",
        "--format",
        "json",
    )
    assert done.returncode == 0, done
    document = json.loads(done.stdout)
    trained = [c for c in document["candidates"] if c["val_loss"] is not None]
    assert len(trained) == 2 and document["candidates"][:2] == trained
    assert trained[0]["val_loss"] <= trained[1]["val_loss"]
    assert document["trained"].startswith("300 training steps on") and document["trained"] in document["spec"]
    assert f"{trained[0]['val_loss']:.3e}" in document["spec"] and f"{trained[1]['val_loss']:.3e}" in document["spec"]


@pytest.mark.escnn
def test_two_command_runs_with_one_seed_write_the_same_bytes(data: dict[str, Path], tmp_path: Path):
    """Each in a fresh process, as a user runs them (the folder's name is the only difference)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), SOURCE_DATE_EPOCH="1700000000")
    for run in ("a", "b"):
        argv = [sys.executable, "-m", "eqdesign", "train", str(SPEC), "--data", str(data["train"]), "--test", str(data["test"])]
        done = subprocess.run(
            [*argv, "--steps", "40", "--baseline", "mlp-augmented", "-o", str(tmp_path / run)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
    names = sorted(os.listdir(tmp_path / "a"))
    assert names == sorted(os.listdir(tmp_path / "b")) and "dipole.pt2" in names
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names)


@pytest.mark.escnn
def test_the_command_trains_verifies_and_reports_json(data: dict[str, Path], tmp_path: Path):
    out = tmp_path / "run"
    done = invoke_cli(
        "train",
        str(SPEC),
        "--data",
        str(data["train"]),
        "--val-data",
        str(data["test"]),
        "--epochs",
        "2",
        "--baseline",
        "mlp",
        "-o",
        str(out),
        "--format",
        "json",
    )
    assert done.returncode == 0, done
    document = json.loads(done.stdout)
    assert document["ok"] and document["exit_code"] == 0 and not document["errors"]
    assert "steps/s" not in done.stderr  # no progress bar under --format json (nor where stdout is no terminal)
    assert {Path(p).name for p in document["written"]} == set(os.listdir(out))
    assert document["report"]["data"]["val"]["file"].endswith("test.npz")
    assert document["report"]["models"][0]["steps"] == 2 * math.ceil(600 / 64)
    verified = invoke_cli("verify", str(out / "dipole.pt"), str(out / "dipole.pt2"))
    assert verified.returncode == 0, verified


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_asking_for_a_missing_gpu_is_refused_before_the_build(data: dict[str, Path], tmp_path: Path):
    done = invoke_cli("train", str(SPEC), "--data", str(data["train"]), "--device", "cuda", "-o", str(tmp_path / "run"))
    assert done.returncode == 2 and "device cuda: torch sees no CUDA device here" in done.stderr, done
    assert not (tmp_path / "run").exists()


@pytest.mark.escnn
def test_an_interrupt_stops_cleanly_and_writes_nothing(data: dict[str, Path], tmp_path: Path):
    """SIGINT during the build or the training: exit 130, and no run folder (it is made only to write)."""
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "eqdesign", "train", str(SPEC), "--data", str(data["train"]), "--steps", "1000000", "-o", str(out)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists()
