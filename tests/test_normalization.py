"""Normalization layers (norm: iid_batch | norm_batch | layer): what check says of them, and what build
makes of them, against escnn's own modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from eqdesign.commands.check import check_file

SPEC = """\
name: {name}
group: so3
input: "1x0 + 1x1"
output: "1x0 + 1x1"
hidden:
  - {{nonlinearity: norm_relu, fields: "8x0 + 8x1", norm: {norm}}}
"""
FOURIER = """\
name: bn-fourier
group: so3
input: "1x1"
output: "1x2"
hidden:
  - {nonlinearity: quotient_fourier_elu, band_limit: 1, channels: 3, norm: iid_batch}
  - {nonlinearity: fourier_elu, band_limit: 2, channels: 2, norm: layer}
  - {nonlinearity: norm_relu, fields: "4x1 + 2x2", norm: norm_batch}
tests: {tolerance: 0.05, scales: [0.3, 1.0, 3.0]}
"""


def _check(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return check_file(path)


@pytest.mark.parametrize(
    "norm, influence",
    [
        ("iid_batch", {"0": ["0"], "1": ["1"]}),  # an affine map per irrep: the paths stay apart
        ("norm_batch", None),  # refused: the scalars hold the trivial irrep
        ("layer", {"0": ["0", "1"], "1": ["0", "1"]}),  # one scale from every field couples them all
    ],
)
def test_normalization_mixes_nothing_but_the_layer_norm_couples(tmp_path: Path, norm: str, influence: dict[str, list[str]] | None) -> None:
    result = _check(tmp_path, SPEC.format(name=norm.replace("_", "-"), norm=norm))
    if influence is None:
        [finding] = [f for f in result.findings if f.severity.value == "error"]
        assert (finding.rule_id, finding.location.line, finding.location.column) == ("EQ104", 6, 58)
        assert "these fields hold one: 0" in finding.message and "iid_batch" in finding.hint
        return
    assert result.influence == influence
    assert ("EQ203" in {f.rule_id for f in result.findings}) is (norm != "layer")


def test_counts_follow_the_fields(tmp_path: Path) -> None:
    """Scale per field; IID: a bias per trivial irrep, a running variance per field and a running mean of
    each field that holds a trivial irrep (escnn keeps the whole field's); norm_batch: scale and variance
    per field; the layer norm keeps no statistics."""
    result = _check(tmp_path, FOURIER)
    assert result.design is not None and not [f for f in result.findings if f.severity.value == "error"]
    sphere, regular, irreps = result.design.hidden
    # 3 sphere(L=1) channels (0 + 1: dim 4): 3 scales + 3 biases; 3 variances + 3 x 4 means
    assert (sphere.norm_params, sphere.norm_stats) == (6, 15)
    # 2 regular(L=2) channels: 2 scales + 2 biases; no statistics
    assert (regular.norm_params, regular.norm_stats) == (4, 0)
    # 6 fields, no trivial irrep: 6 scales, 6 variances
    assert (irreps.norm_params, irreps.norm_stats) == (6, 6)
    assert result.design.params == sum(x.params for x in result.design.layers)
    assert sphere.params == sphere.own_params + 6
