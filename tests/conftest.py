"""Shared helpers for the test-suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run `python -m eqdesign ...` in a fresh process, as a user would."""
    return subprocess.run([sys.executable, "-m", "eqdesign", *args], capture_output=True, text=True, cwd=cwd, timeout=1200)


@pytest.fixture
def write_spec(tmp_path: Path):
    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
