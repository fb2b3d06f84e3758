"""The CUDA lane: every gallery spec built, its compiled model trained on the GPU and the trained artifacts
verified. Skipped where torch sees no CUDA device (run it with ``pytest -m cuda`` on a GPU machine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

torch = pytest.importorskip("torch")

import eqdesign  # noqa: E402

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.escnn,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device"),
]

GALLERY = sorted((ROOT / "specs").glob("*.yaml"))


@pytest.mark.parametrize("spec", GALLERY, ids=lambda p: p.stem)
def test_the_gallery_trains_on_the_gpu_and_verifies(spec: Path, tmp_path: Path):
    built = eqdesign.build(spec, influence=False)
    teacher = eqdesign.build(spec, seed=7, influence=False).module.eval()  # an equivariant target to learn
    x = torch.randn(256, built.layout["input_dim"], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        y = teacher(x)
    np.savez(tmp_path / "data.npz", x=x.numpy(), y=y.numpy())
    trained = eqdesign.train(built, tmp_path / "data.npz", steps=30, device="cuda", baseline="mlp")
    assert trained.report["device"] == "cuda" and trained.ok
    first, last = trained.runs[0].fit.curve[0]["val_loss"], trained.runs[0].val_mse
    assert last <= first
    trained.save(tmp_path / "run")
    for ext in (".pt", ".pt2"):
        assert eqdesign.verify(tmp_path / "run" / f"{built.name}{ext}").ok
