"""Shared helpers for the test-suite: the CLI in a fresh process, spec files, and one session-wide cache of
built escnn models that every escnn test draws from (building is the slow part)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = ROOT / "tests" / "designs"  # small designs covering every nonlinearity and group
ACCEPTANCE = ROOT / "tests" / "acceptance"  # the acceptance cases (a copy of ../shared/acceptance, checked equal)
HAVE_ESCNN = importlib.util.find_spec("escnn") is not None and importlib.util.find_spec("torch") is not None
#: the ONNX exporter and onnxruntime (the build extra installs them; NAME.onnx is skipped without them)
HAVE_ONNX = all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxscript", "onnxruntime"))


def pytest_configure(config: pytest.Config) -> None:
    """escnn pins the bases it computes in its on-disk caches, so a model's numbers depend on which cache the
    process reads. Import escnn through eqdesign first (it points escnn's caches at eqdesign's folder), so
    that models built here and in `eqdesign build` subprocesses agree. The fast lane never imports escnn."""
    if HAVE_ESCNN and "not escnn" not in (config.option.markexpr or ""):
        import eqdesign.escnn_backend.compat  # noqa: F401


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The escnn lane is skipped, not failed, where escnn or torch is not installed."""
    if HAVE_ESCNN:
        return
    skip = pytest.mark.skip(reason="escnn/torch not installed (pip install 'eqdesign[build]')")
    for item in items:
        if "escnn" in item.keywords:
            item.add_marker(skip)


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run `python -m eqdesign ...` in a fresh process, as a user would."""
    return subprocess.run([sys.executable, "-m", "eqdesign", *args], capture_output=True, text=True, cwd=cwd, timeout=1200)


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


def invoke_cli(*args: str, **env: str) -> Done:
    """The command line in this process, with ``env`` set (and the variables that choose formats and colour
    unset otherwise): for tests of the CLI's options and reports, which are its own code. A fresh interpreter
    per call costs a second of start-up in the fast lane; run_cli (test_cli.py, test_hostile.py) keeps
    testing the real process: its streams, signals and usage errors."""
    from typer.testing import CliRunner

    from eqdesign.cli import app

    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("GITHUB_", "NO_COLOR", "FORCE_COLOR"))}
    result = CliRunner().invoke(app, list(args), env={**unset, **env})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return Done(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture(scope="session")
def escnn_models() -> Callable[..., tuple[Any, Any]]:
    """path -> (check result, the float64 escnn model build makes, with the spec's seed), built once per session.

    Tests that redraw parameters must put them back (``model.state()`` / ``load_state_dict``)."""
    cache: dict[tuple[str, int], tuple[Any, Any]] = {}

    def get(path: Path, refinement: int = 1) -> tuple[Any, Any]:
        key = (str(path), refinement)
        if key not in cache:
            import torch

            from eqdesign.commands.check import check_file
            from eqdesign.escnn_backend.autogrid import build_tuned
            from eqdesign.escnn_backend.builder import build_escnn

            result = check_file(path)
            seed = result.design.spec.tests.seed
            if refinement == 1:  # the model build makes: its auto grids chosen as build chooses them
                cache[key] = (result, build_tuned(result.design, seed)[0])
            else:
                cache[key] = (result, build_escnn(result.design, torch.float64, seed=seed, grid_refinement=refinement))
        return cache[key]

    return get
