"""The hidden inversion of SO(3) networks (analysis.parity): what check says, and what built models do.

Give every degree-l irrep the parity (-1)^l. Linear, gated and norm layers, sphere layers and tensor products
of one copy commute with the inversion, so their outputs are natural-parity functions of the input; a regular
Fourier layer and a tensor product with an odd path break it. The specs in tests/corpus/parity pin the
influence of each parity sector down twice: statically (no torch) against EXPECTED below, and measured on
the escnn model, each sector split off with the inversion itself (numerics.sectors).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import ROOT
from eqdesign.analysis.dataflow import sector_influence
from eqdesign.analysis.parity import breaks_inversion, lift_for
from eqdesign.commands.check import check_file
from eqdesign.theory.registry import make_group

PARITY = ROOT / "tests" / "corpus" / "parity"
SPECS = sorted(PARITY.glob("*.yaml"))

N, U = "natural", "unnatural"
# per sector, output irrep -> the input irreps it depends on, worked out by hand from the parities
EXPECTED: dict[str, dict[str, dict[str, list[str]]]] = {
    # an even degree on the sphere: the odd degrees 3 (and 1) stay zero, even under a second sphere layer
    "sphere-even": {N: {"2": ["2"], "3": []}, U: {"2": [], "3": []}},
    "sphere-stack-even": {N: {"1": [], "2": ["2", "4"], "3": [], "4": ["2", "4"]}, U: {"1": [], "2": [], "3": [], "4": []}},
    "sphere-poly-even": {N: {"2": ["2"], "3": [], "4": ["2"]}, U: {"2": [], "3": [], "4": []}},
    # one copy: polar vectors only; two copies: the cross product is the axial vector. A pseudoscalar needs a
    # third vector (the triple product), so two vectors never reach it
    "tp-one-copy-gated": {N: {"0": ["1"], "1": ["1"]}, U: {"0": [], "1": []}},
    "tp-two-copies-gated": {N: {"0": ["1"], "1": ["1"]}, U: {"0": [], "1": ["1"]}},
    # 1 x 2 -> 2 has an odd sum: the unnatural 2 is v (x) Q; the natural one comes from v (x) v and Q (x) Q
    "tp-odd-path": {N: {"2": ["1", "2"]}, U: {"2": ["1", "2"]}},
    "fourier-regular": {N: {"0": ["1"], "1": ["1"]}, U: {"0": [], "1": ["1"]}},
    # a pseudovector is even under the inversion, so every output of it is even: 0 and 2 natural, 1 unnatural
    "sphere-pseudovector": {N: {"0": ["1"], "1": [], "2": ["1"]}, U: {"0": [], "1": ["1"], "2": []}},
    # sigmoid(a s + b) of a pseudoscalar s has an even and an odd part: the gated vector reaches both sectors
    "gated-odd-gate": {N: {"0": ["0"], "1": ["0", "1"]}, U: {"0": ["0"], "1": ["0", "1"]}},
}


def test_every_parity_spec_has_an_expectation():
    assert sorted(p.stem for p in SPECS) == sorted(EXPECTED)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_static_sector_influence(path: Path):
    result = check_file(path)
    assert result.internal_error is None and result.design is not None and result.flow is not None
    assert sector_influence(result.design, result.flow) == EXPECTED[path.stem]
    # the SO(3) influence check reports is the union of the sectors
    union = {c: sorted(set(EXPECTED[path.stem][N][c]) | set(EXPECTED[path.stem][U][c])) for c in EXPECTED[path.stem][N]}
    assert result.influence == union


def _findings(path: Path, output: str | None = None, tmp: Path | None = None) -> list[tuple[str, str, str]]:
    if output is not None:
        assert tmp is not None
        text = path.read_text().replace(path.read_text().split("output: ")[1].split("\n")[0], f'"{output}"')
        path = tmp / path.name
        path.write_text(text)
    return [(f.rule_id, f.message, f.hint) for f in check_file(path).findings if f.rule_id != "EQ101"]


def test_sphere_fed_even_degrees_cannot_make_odd_ones():
    [(rule, message, hint)] = _findings(PARITY / "sphere-even.yaml")
    assert rule == "EQ201" and message.startswith("output 3 is identically zero") and "(-1)^l" in message
    assert "use fourier_elu (the regular representation) instead of the quotient in hidden[0]" in hint


def test_two_stacked_sphere_layers_report_both_odd_outputs():
    found = _findings(PARITY / "sphere-stack-even.yaml")
    assert [(r, m.split(":")[0]) for r, m, _ in found] == [
        ("EQ201", "output 1 is identically zero"),
        ("EQ201", "output 3 is identically zero"),
    ]


def test_torque_of_a_one_copy_network_is_a_warning_with_a_fix_that_works(tmp_path: Path):
    [(rule, message, hint)] = _findings(PARITY / "tp-one-copy-gated.yaml")
    assert rule == "EQ205" and "can only be made as polar_vector" in message and "pseudovector" in message
    assert "field: '0 + 1 + 0 + 1'" in hint and "write polar_vector in the output" in hint
    # following either branch of the hint silences it
    assert _findings(PARITY / "tp-one-copy-gated.yaml", "1x polar_vector + 1x 0", tmp_path) == []
    assert _findings(PARITY / "tp-two-copies-gated.yaml") == []


def test_a_declared_axial_output_out_of_reach_is_an_error(tmp_path: Path):
    [(rule, message, hint)] = _findings(PARITY / "tp-one-copy-gated.yaml", "1x pseudovector + 1x 0", tmp_path)
    assert rule == "EQ201" and message.startswith("output pseudovector can never have its declared parity (even")
    assert "field: '0 + 1 + 0 + 1'" in hint
    assert _findings(PARITY / "tp-two-copies-gated.yaml", "1x pseudovector + 1x 0", tmp_path) == []


def test_an_axial_output_no_network_can_make_names_the_input_it_needs(tmp_path: Path):
    """Two polar vectors have no triple product: a pseudoscalar needs a third vector, whatever the layers."""
    found = _findings(PARITY / "fourier-regular.yaml", "1x pseudovector + 1x pseudoscalar", tmp_path)
    [(rule, message, hint)] = found
    assert rule == "EQ201" and "no equivariant map of 2xpolar_vector can produce pseudoscalar" in message
    assert hint.startswith("impossible for any architecture") and "a further polar_vector" in hint


def test_declared_names_are_so3_only_and_keep_the_xyz_basis():
    from eqdesign.theory.notation import parse

    [term] = parse(make_group("so3"), "2x pseudovector")
    assert (term.mult, term.field.basis, term.field.parity, term.field.irreps[0].freq) == (2, "xyz", (1,), 1)
    [term] = parse(make_group("so3"), "3_odd")
    assert (term.field.parity, term.field.irreps[0].freq, term.field.basis) == ((-1,), 3, "")
    assert not isinstance(parse(make_group("o3"), "pseudovector"), list)  # O(3) writes 1e
    refused = parse(make_group("so3"), "1o")  # and SO(3) has no 1o: the hint says how SO(3) writes it
    assert not isinstance(refused, list) and refused.hint.startswith("1o is O(3)'s name; SO(3) writes 1, or 1_odd")


@pytest.mark.parametrize(
    "kind, field, breaks",
    [
        ("tensor", "0 + 1", False),
        ("tensor", "0 + 2", False),
        ("tensor", "1 + 1", True),
        ("tensor", "1 + 2", True),
        ("tensor", "0 + 0", False),
    ],
)
def test_which_tensor_products_break_the_inversion(kind: str, field: str, breaks: bool, tmp_path: Path):
    spec = tmp_path / "tp.yaml"
    spec.write_text(
        f'name: tp\ngroup: so3\ninput: "1x1 + 1x2"\noutput: "1x1"\nhidden:\n  - {{nonlinearity: tensor_product, channels: 2, field: "{field}"}}\n'
    )
    result = check_file(spec)
    assert result.design is not None and result.flow is not None and result.flow.parity is not None
    assert breaks_inversion(result.design.hidden[0]) is breaks
    assert result.flow.parity.breaking == ((0,) if breaks else ())


def test_other_groups_have_no_lift():
    assert lift_for(make_group("so3")) is not None
    for key in ("o3", "so2", "o2", "cylinder"):
        assert lift_for(make_group(key)) is None


def test_constant_gates_decouple_the_network(tmp_path: Path):
    """A pseudoscalar cannot feed an O(3) gate (0e): the gate is a bias, so the vector path is on its own."""
    spec = tmp_path / "gates.yaml"
    spec.write_text(
        'name: gates\ngroup: o3\ninput: "1x0o + 1x1o"\noutput: "1x1o"\nhidden:\n  - {nonlinearity: gated, fields: "4x1o", scalars: 0}\n'
    )
    rules = {f.rule_id for f in check_file(spec).findings}
    assert "EQ203" in rules


# -- escnn: the sectors of built models ---------------------------------------------------------------------


def _measured_sectors(path: Path) -> dict[str, dict[str, list[str]]]:
    """Each sector's influence on the escnn model, on the design's starting rules: the symmetric rules of
    grid: auto keep the inversion exact whatever their degree, so no grid search is needed here."""
    import torch

    from eqdesign.escnn_backend.builder import build_escnn
    from eqdesign.escnn_backend.probes import EscnnSubject
    from eqdesign.numerics.influence import approximate
    from eqdesign.numerics.sectors import measure_sectors

    design = check_file(path).design
    assert design is not None
    lift = lift_for(design.group)
    assert lift is not None
    model = build_escnn(design, torch.float64, seed=design.spec.tests.seed)
    refined = EscnnSubject(build_escnn(design, torch.float64, grid_refinement=2)) if approximate(design) else None
    return measure_sectors(model.design, lift, EscnnSubject(model), refined)


@pytest.mark.escnn
@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_measured_sector_influence_equals_the_static_one(path: Path):
    pytest.importorskip("escnn")
    measured = _measured_sectors(path)
    assert measured == EXPECTED[path.stem]


# -- the torque task: 4 forces F_i at positions r_i; the torque sum r_i x F_i is axial, the work sum r_i . F_i polar


TORQUE_ASK = ("--group", "so3", "--input", "8x vector", "--params", "7000")


def _design(tmp_path: Path, output: str) -> Path:
    from conftest import invoke_cli

    spec = tmp_path / f"design-{len(list(tmp_path.iterdir()))}.yaml"
    done = invoke_cli("design", *TORQUE_ASK, "--output", output, "-o", str(spec))
    assert done.returncode == 0, done.stdout + done.stderr
    return spec


def test_design_never_picks_a_network_that_cannot_make_a_torque(tmp_path: Path):
    """An SO(3) vector output with no declared parity may be axial: the chosen network must reach both sectors."""
    result = check_file(_design(tmp_path, "1x vector + 1x 0"))
    assert result.exit_code() == 0 and not [f for f in result.findings if f.rule == "parity-sector"]
    assert result.flow is not None and result.flow.parity is not None and result.flow.parity.breaking
    assert sector_influence(result.design, result.flow)[U]["1"] == ["1"]


def _torque_data(n: int, seed: int):
    import torch

    g = torch.Generator().manual_seed(seed)
    r, force = torch.randn(n, 4, 3, generator=g, dtype=torch.float64), torch.randn(n, 4, 3, generator=g, dtype=torch.float64)
    x = torch.cat([r.reshape(n, 12), force.reshape(n, 12)], 1)  # 8x vector: r_1..r_4, then F_1..F_4, in xyz
    y = torch.cat([torch.cross(r, force, dim=2).sum(1), (r * force).sum((1, 2))[:, None]], 1)
    return x.float(), y.float()


def _trained_errors(spec: Path, out: Path, steps: int = 300) -> tuple[float, float]:
    """Relative test MSE of (torque, work) after training the built trainable module on 1,000 samples."""
    import torch

    from conftest import run_cli

    proc = run_cli("build", str(spec), "-o", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    model = torch.jit.load(str(next(out.glob("*.pt"))))
    (xtr, ytr), (xte, yte) = _torque_data(1000, 1), _torque_data(500, 2)
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, 1000, (100,))
        loss = ((model(xtr[idx]) - ytr[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        err = (model(xte) - yte) ** 2
    rel = err.mean(0) / (yte**2).mean(0)
    return float(rel[:3].mean()), float(rel[3])


@pytest.mark.escnn
def test_a_designed_network_learns_the_torque_and_a_parity_blind_one_cannot(tmp_path: Path):
    pytest.importorskip("escnn")
    declared = _design(tmp_path, "1x pseudovector + 1x 0_even")
    torque, work = _trained_errors(declared, tmp_path / "declared")
    assert torque < 0.05 and work < 0.05, (torque, work)
    # the same ask through one copy of the vector: every layer keeps natural parity, so the torque stays out of
    # reach however long it trains (its best is the zero function, relative error 1), while the work is learnt
    blind = tmp_path / "blind.yaml"
    blind.write_text(
        'name: blind\ngroup: so3\ninput: "8x vector"\noutput: "1x polar_vector + 1x 0"\nhidden:\n'
        '  - {nonlinearity: tensor_product, channels: 28, field: "0 + 1"}\n  - {nonlinearity: gated, fields: "28x1", scalars: 28}\n'
    )
    torque, work = _trained_errors(blind, tmp_path / "blind")
    assert torque > 0.9 and work < 0.1, (torque, work)
