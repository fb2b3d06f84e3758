"""``basis: e3nn``: a model that takes and gives irreps in e3nn's real basis, checked against e3nn's own
matrices (o3.Irrep.D_from_matrix) for every degree up to 4 and both parities, and composed after an e3nn
layer. Skipped where e3nn is not installed (the dev install has it)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import eqdesign
from eqdesign.analysis.checking import check_text

pytestmark = pytest.mark.escnn
o3 = pytest.importorskip("e3nn.o3")
torch = pytest.importorskip("torch")

EVERY = " + ".join(f"1x{l}{p}" for l in range(5) for p in "eo")


def test_the_edge_maps_intertwine_escnn_and_e3nn_matrices_for_every_degree_and_parity():
    from eqdesign.analysis.design import FieldType
    from eqdesign.escnn_backend.edges import embedding
    from eqdesign.escnn_backend.types import escnn_group, field_representation, standard_representation
    from eqdesign.numerics.elements import pick_elements
    from eqdesign.theory.notation import parse
    from eqdesign.theory.registry import make_group

    g = make_group("o3")
    G = escnn_group(g, 5)
    fresh = pick_elements(G, 6, seed=12345)  # not the elements the maps were solved on
    terms = parse(g, EVERY)
    assert isinstance(terms, list) and len(terms) == 10
    for term in terms:
        field = dataclasses.replace(term.field, e3nn=True)
        change = embedding(G, FieldType.of((field, 1)))
        assert change is not None and np.allclose(change.T @ change, np.eye(field.dim), atol=1e-9)
        (irrep,) = field.irreps
        l, parity = irrep.freq, -1 if irrep.name.endswith("o") else 1
        for element in fresh:  # proper and improper (escnn's testing elements hold the inversion)
            matrix = torch.as_tensor(np.asarray(standard_representation(G)(element)), dtype=torch.float64)
            before = torch.get_default_dtype()
            torch.set_default_dtype(torch.float64)  # e3nn computes in the default dtype
            try:
                theirs = o3.Irrep(l, parity).D_from_matrix(matrix).numpy()
            finally:
                torch.set_default_dtype(before)
            ours = np.asarray(field_representation(G, term.field)(element))
            assert np.abs(theirs @ change - change @ ours).max() < 1e-9, field.name


def _spec(basis: str) -> dict[str, object]:
    return {
        "name": "mixed",
        "group": "o3",
        "basis": basis,
        "input": "1x2e + 1x vector",
        "output": "1x vector + 1x 2e",
        "hidden": [
            {"nonlinearity": "tensor_product", "field": "1x0e + 1x1o + 1x2e", "channels": 4},
            {"nonlinearity": "gated", "fields": "4x1o + 4x2e", "scalars": 4},
        ],
    }


def _composition_error(built: eqdesign.Built) -> float:
    """An e3nn o3.Linear (its features in e3nn's basis) into the model beside an xyz vector, end to end, in
    float32, each side rotated with e3nn's own matrices."""
    torch.manual_seed(0)
    linear = o3.Linear("2x2e", "1x2e")
    worst = 0.0
    for k in range(6):
        rotation = o3.rand_matrix() * (-1 if k % 2 else 1)
        f, v = torch.randn(16, 10), torch.randn(16, 3)

        def run(f: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return built.module(torch.cat([linear(f), v], 1))

        with torch.no_grad():
            a = run(f @ o3.Irreps("2x2e").D_from_matrix(rotation).T, v @ rotation.T)
            b = run(f, v) @ torch.block_diag(rotation, o3.Irrep("2e").D_from_matrix(rotation)).T
        worst = max(worst, float((a - b).norm() / b.norm()))
    return worst


def test_composed_after_an_e3nn_layer_the_model_is_equivariant_only_in_e3nns_basis():
    assert _composition_error(eqdesign.build(_spec("e3nn"), influence=False)) < 1e-5
    assert _composition_error(eqdesign.build(_spec("escnn"), influence=False)) > 0.1


def test_layout_and_verify(tmp_path):  # type: ignore[no-untyped-def]
    built = eqdesign.build(_spec("e3nn"), influence=False)
    assert [f["basis"].startswith("e3nn") for f in built.layout["input"]] == [True, False]
    built.save(tmp_path)
    assert eqdesign.verify(tmp_path / "mixed.pt").ok and eqdesign.verify(tmp_path / "mixed.pt2").ok


def test_e3nn_basis_is_for_the_3d_rotation_groups():
    result = check_text("name: x\ngroup: so2\nbasis: e3nn\ninput: 1x 1\noutput: 1x 1\nhidden: []\n", "x.yaml")
    (finding,) = result.all_findings()
    assert (finding.rule, finding.location.line) == ("schema", 3) and "SO(3) and O(3)" in finding.message
