"""Builds are reproducible and touch nothing outside their cache and output folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import HAVE_ONNX, ROOT

pytestmark = pytest.mark.escnn

SPEC = ROOT / "specs" / "so3-gated-tensor-product.yaml"


def _build(out: Path, **env: str) -> subprocess.CompletedProcess:
    inherited = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    full = dict(inherited, SOURCE_DATE_EPOCH="1700000000", **env)
    return subprocess.run(
        [sys.executable, "-m", "eqdesign", "build", str(SPEC), "-o", str(out)], capture_output=True, text=True, cwd=ROOT, env=full
    )


def test_two_builds_are_byte_identical_across_processes_and_thread_counts(tmp_path: Path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert _build(first, OMP_NUM_THREADS="2").returncode == 0  # the CLI's default is one thread
    assert _build(second).returncode == 0
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir()) and len(names) == (5 if HAVE_ONNX else 4)  # .onnx where installed
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_a_cold_build_writes_only_to_the_cache_and_output_folders(tmp_path: Path):
    """escnn's own package folder (read-only in many installs) is left untouched; its caches go to
    EQDESIGN_CACHE_DIR."""
    import escnn

    package = Path(escnn.__file__).parent
    before = _snapshot(package)
    cache = tmp_path / "cache"
    proc = _build(tmp_path / "out", EQDESIGN_CACHE_DIR=str(cache))
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert _snapshot(package) == before
    assert any(p.is_file() for p in (cache / "escnn").rglob("*"))


def test_builds_in_two_checkouts_at_different_paths_are_byte_identical(tmp_path: Path):
    """Artifacts hold no machine path: the spec is named relative to its repository root (provenance.json,
    report.json, the Markdown report), so two machines that check a repository out in different places build
    the same bytes."""
    import json

    import torch

    outs = []
    for checkout in (tmp_path / "one" / "repo", tmp_path / "elsewhere" / "deeper" / "repo"):
        (checkout / ".git").mkdir(parents=True)
        (checkout / "specs").mkdir()
        spec = checkout / "specs" / SPEC.name
        spec.write_bytes(SPEC.read_bytes())
        out = checkout / "out"
        inherited = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "EQDESIGN_SOURCE_ROOT")}
        proc = subprocess.run(
            [sys.executable, "-m", "eqdesign", "build", str(spec), "-o", str(out)],
            capture_output=True,
            text=True,
            cwd=checkout / "specs",
            env=dict(inherited, SOURCE_DATE_EPOCH="1700000000"),
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        outs.append(out)
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == sorted(p.name for p in outs[1].iterdir()) and len(names) == (5 if HAVE_ONNX else 4)
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name
    extra: dict[str, Any] = {"provenance.json": "", "report.json": ""}
    torch.jit.load(str(next(outs[0].glob("*.pt"))), _extra_files=extra)
    provenance, report = (bytes(extra[k]).decode() for k in ("provenance.json", "report.json"))
    assert json.loads(provenance)["spec_file"] == json.loads(report)["spec"]["file"] == f"specs/{SPEC.name}"
    assert str(tmp_path) not in provenance + report
