"""What build could never finish is refused by a cheap bound before the expensive analysis: the refusal is
shown by the work that is not done (calls counted), never by timing it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eqdesign.analysis import budget, resolve
from eqdesign.analysis.budget import Limits
from eqdesign.commands.check import check_file

HEAD = 'name: many\ngroup: so3\ninput: "1x vector + 1x 0"\noutput: "1x vector + 1x 0"\nhidden:\n'
TENSOR = '  - {nonlinearity: tensor_product, channels: 1, field: "0 + 1"}\n'


def _counted(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    calls: list[int] = []
    original: Callable[..., Any] = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """Calls of the per-layer resolution and of the estimates over the resolved design."""
    return {
        "layers": _counted(monkeypatch, resolve._Resolver, "nonlinear"),
        "estimates": _counted(monkeypatch, resolve, "design_excesses"),
        "memory": _counted(monkeypatch, budget, "peak_memory_mb"),
    }


def test_ten_thousand_tensor_product_layers_are_refused_before_any_layer_is_resolved(tmp_path: Path, work: dict[str, list[int]]) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(HEAD + TENSOR * 10_000)
    result = check_file(path)
    (finding,) = result.all_findings()
    assert finding.rule == "too-large" and "10,000" in finding.message and str(Limits().max_hidden) in finding.message
    assert finding.location.line == 6 and "EQDESIGN_LIMIT_MAX_HIDDEN" in (finding.hint or "")
    assert result.design is None
    assert work == {"layers": [], "estimates": [], "memory": []}


def test_at_the_limit_every_layer_is_resolved_and_estimated(tmp_path: Path, work: dict[str, list[int]]) -> None:
    """The bound is exact: at max_hidden layers nothing is refused, and the whole analysis runs."""
    path = tmp_path / "limit.yaml"
    path.write_text(HEAD + TENSOR * Limits().max_hidden)
    result = check_file(path)
    assert not [f for f in result.all_findings() if f.rule == "too-large"]
    assert len(work["layers"]) == Limits().max_hidden and len(work["estimates"]) == 1 and len(work["memory"]) == 1
