"""Cartesian tensor fields: the irreps of every index symmetry (against the rank of its projector, built
here by brute force), the parity of each, located refusals, and built models that take and give Cartesian
components, checked against rotations applied to the tensors directly (R M R^T), not through eqdesign."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import eqdesign
from conftest import ROOT
from eqdesign.analysis.checking import check_text
from eqdesign.theory.cartesian import parse_cartesian
from eqdesign.theory.registry import make_group

SO3, O3 = make_group("so3"), make_group("o3")


def _brute_projector(formula: str) -> np.ndarray:
    """Average of sign * (index permutation) over the group the orderings generate, on 3^k components."""
    parts = formula.split("=")
    first = parts[0]
    k = len(first)
    gens = [(-1 if p.startswith("-") else 1, [first.index(c) for c in p.lstrip("-")]) for p in parts[1:]]
    members = {(1, tuple(range(k)))}
    while True:
        grown = members | {(s * t, tuple(p[i] for i in q)) for s, p in members for t, q in gens}
        if grown == members:
            break
        members = grown
    pi = np.zeros((3**k, 3**k))
    for sign, perm in members:
        for idx in itertools.product(range(3), repeat=k):
            src = tuple(idx[i] for i in perm)
            pi[np.ravel_multi_index(idx, (3,) * k), np.ravel_multi_index(src, (3,) * k)] += sign
    return pi / len(members)


FORMULAS = ["ij", "ij=ji", "ij=-ji", "ijk=jik=ikj", "ijk=-jik=-ikj", "ijk=jik", "ijkl=jikl=ijlk=klij", "ijkl=-jikl=-ijlk", "ijk"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_the_irreps_fill_exactly_the_symmetric_space(formula: str):
    field = parse_cartesian(SO3, f"cartesian({formula})")
    assert not isinstance(field, str)
    rank = np.linalg.matrix_rank(_brute_projector(formula))
    assert sum(i.dim for i in field.irreps) == rank
    assert field.width == 3 ** len(formula.split("=")[0])


def test_the_familiar_tensors_decompose_as_physics_says():
    expect = {
        "matrix": ["0", "1", "2"],
        "sym_matrix": ["0", "2"],  # trace and the traceless symmetric part
        "traceless_sym_matrix": ["2"],
        "antisym_matrix": ["1"],  # the axial vector of a rotation rate
        "cartesian(ijk=jik=ikj)": ["1", "3"],
        "cartesian(ijk=-jik=-ikj)": ["0"],  # the Levi-Civita symbol's space: a pseudoscalar
        "cartesian(ijkl=jikl=ijlk=klij)": ["0", "0", "2", "2", "4"],  # elasticity: 21 constants
    }
    for name, degrees in expect.items():
        field = parse_cartesian(SO3, name)
        assert not isinstance(field, str)
        assert [i.name for i in field.irreps] == degrees, name


def test_parity_of_a_tensor_of_polar_vectors_is_that_of_its_rank():
    """Rank 2 is even under x -> -x: its antisymmetric part is the pseudovector (1e on O(3), 1 with parity
    +1 declared on SO(3)); rank 3 is odd."""
    assert [i.name for i in parse_cartesian(O3, "antisym_matrix").irreps] == ["1e"]  # type: ignore[union-attr]
    assert [i.name for i in parse_cartesian(O3, "sym_matrix").irreps] == ["0e", "2e"]  # type: ignore[union-attr]
    assert [i.name for i in parse_cartesian(O3, "cartesian(ijk=-jik=-ikj)").irreps] == ["0o"]  # type: ignore[union-attr]
    assert parse_cartesian(SO3, "antisym_matrix").parity == (1,)  # type: ignore[union-attr]
    assert parse_cartesian(SO3, "cartesian(ijk=jik=ikj)").parity == (-1, -1)  # type: ignore[union-attr]


SPEC = """name: cart
group: {group}
input: "{inp}"
output: "{out}"
hidden:
  - {{nonlinearity: tensor_product, field: "1x0 + 2x1 + 1x2", channels: 4}}
  - {{nonlinearity: gated, fields: "4x1 + 4x2", scalars: 4}}
"""


def test_a_symmetry_that_leaves_nothing_is_a_located_finding():
    result = check_text(SPEC.format(group="so3", inp="1x vector", out="1x cartesian(ij=ji=-ij)"), "spec.yaml")
    (finding,) = [f for f in result.all_findings() if f.severity.value == "error"]
    assert (finding.rule, finding.location.line, finding.location.column) == ("unknown-irrep", 4, 13)
    assert "leaves no tensor but zero" in finding.message


def test_cartesian_fields_stay_at_the_edges_and_on_the_3d_groups():
    inner = check_text(SPEC.replace("4x1 + 4x2", "4x sym_matrix").format(group="so3", inp="1x vector", out="1x sym_matrix"), "s.yaml")
    (finding,) = [f for f in inner.all_findings() if f.severity.value == "error"]
    assert "only the input and the output" in finding.message and "0 + 2" in finding.hint
    planar = check_text(SPEC.format(group="so2", inp="1x vector", out="1x sym_matrix"), "s.yaml")
    assert any("SO(3) and O(3)" in f.message for f in planar.all_findings())


def test_check_analyses_the_irreps_and_lays_out_all_components():
    spec = SPEC.format(group="o3", inp="2x vector", out="1x sym_matrix + 1x antisym_matrix")
    report = eqdesign.check(spec.replace("1x0 + 2x1 + 1x2", "1x0e + 2x1o + 1x1e + 1x2e").replace("4x1 + 4x2", "4x1e + 4x2e"))
    assert report.ok, [f.message for f in report.findings]
    output = report.as_dict()["output"]
    assert (output["irreps"], output["dim"], output["columns"]) == ("1x0e + 1x1e + 1x2e", 9, 18)
    assert report.influence == {"0e": ["1o"], "1e": ["1o"], "2e": ["1o"]}


# -- built models ------------------------------------------------------------------------------------------


def _rotations(n: int, seed: int) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.random(n, random_state=seed).as_matrix()


@pytest.fixture(scope="module")
def stress(tmp_path_factory: pytest.TempPathFactory) -> tuple[eqdesign.Built, Path]:
    """Two vectors and a scalar in, a symmetric matrix out (a stress tensor, say); and a matrix input."""
    spec = SPEC.format(group="so3", inp="2x vector + 1x matrix", out="1x sym_matrix")
    built = eqdesign.build(spec, influence=False)
    folder = tmp_path_factory.mktemp("stress")
    built.save(folder)
    return built, folder


@pytest.mark.escnn
def test_the_output_is_an_exactly_symmetric_matrix(stress: tuple[eqdesign.Built, Path]):
    import torch

    built, _ = stress
    y = built.module(torch.randn(64, 15)).detach().reshape(-1, 3, 3)
    assert torch.equal(y, y.transpose(1, 2))  # to the last bit
    assert float(y.abs().max()) > 1e-3  # not trivially zero


@pytest.mark.escnn
def test_rotating_the_inputs_rotates_the_tensor_as_r_m_r_transposed(stress: tuple[eqdesign.Built, Path]):
    import torch

    built, _ = stress
    gen = torch.Generator().manual_seed(0)
    v, m = torch.randn(32, 6, generator=gen), torch.randn(32, 3, 3, generator=gen)
    for r in _rotations(5, seed=1):
        rot = torch.tensor(r, dtype=torch.float32)
        x = torch.cat([v, m.reshape(-1, 9)], 1)
        rx = torch.cat([(v.view(-1, 2, 3) @ rot.T).reshape(-1, 6), (rot @ m @ rot.T).reshape(-1, 9)], 1)
        y, ry = built.module(x).reshape(-1, 3, 3), built.module(rx).reshape(-1, 3, 3)
        assert torch.allclose(ry, rot @ y @ rot.T, atol=2e-5 * float(y.abs().max()))


@pytest.mark.escnn
def test_the_antisymmetric_part_of_a_symmetric_input_is_ignored():
    import torch

    built = eqdesign.build(SPEC.format(group="so3", inp="1x sym_matrix", out="1x sym_matrix"), influence=False)
    m = torch.randn(16, 3, 3)
    antisym = torch.randn(16, 3, 3)
    antisym = antisym - antisym.transpose(1, 2)
    same = built.module((m + antisym).reshape(-1, 9)), built.module(((m + m.transpose(1, 2)) / 2).reshape(-1, 9))
    assert torch.allclose(*same, atol=1e-6)


@pytest.mark.escnn
def test_layout_and_verify_speak_cartesian(stress: tuple[eqdesign.Built, Path]):
    built, folder = stress
    out = built.layout["output"][0]
    assert (built.layout["input_dim"], built.layout["output_dim"], out["slice"]) == (15, 9, [0, 9])
    assert "row-major" in out["basis"] and "ij=ji" in out["basis"]
    loaded = eqdesign.load(folder / "cart.pt2")
    rho = loaded.representations["output"]
    assert tuple(rho.shape[1:]) == (9, 9)
    # the stored output matrices are R (x) R of the stored 3x3 input matrices (the first vector's block)
    r = loaded.representations["input"][:, :3, :3]
    assert float((rho - torch_kron(r)).abs().max()) < 1e-5
    assert eqdesign.verify(loaded).ok and eqdesign.verify(folder / "cart.pt").ok
    report = json.loads((folder / "cart.report.json").read_text())
    assert report["spec"]["output"]["columns"] == 9


def torch_kron(r):  # type: ignore[no-untyped-def]
    import torch

    return torch.stack([torch.kron(x, x) for x in r])


def test_the_readme_documents_the_cartesian_names():
    readme = (ROOT / "README.md").read_text()
    for name in ("sym_matrix", "antisym_matrix", "traceless_sym_matrix", "cartesian(ij=ji)"):
        assert name in readme
