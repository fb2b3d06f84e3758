"""Random specs cross-check `check` against `build`: what check passes, build builds, and check's static
influence never misses a dependency the built model really has.

tests/specgen.py proposes small specs over every group and layer kind. Each is checked; an output that
check calls unreachable (EQ201/EQ204) is dropped from the spec and the rest checked again, and the specs
check passes are built, all in one in-process `build_specs` call, with influence measured. For every one:

* the build passes (exit 0): equivariance, compilation and influence agreement included;
* measured influence is contained in the static influence, output by output (soundness);
* they are equal when no Fourier or quotient layer samples a continuous group (exact designs);
* an output that check called unreachable (and that was dropped) is measured to depend on nothing.

``EQDESIGN_CROSSCHECK_BUDGET=N`` (default 12) and ``EQDESIGN_CROSSCHECK_SEED=S`` (default 1) choose the
specs. A failure prints the spec's YAML, ready to become a case in tests/corpus/crosscheck.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import specgen

from eqdesign.commands.check import check_file
from eqdesign.results import SpecResult

BUDGET = int(os.environ.get("EQDESIGN_CROSSCHECK_BUDGET", "12"))
SEED = int(os.environ.get("EQDESIGN_CROSSCHECK_SEED", "1"))
SPECS = specgen.generate(SEED, BUDGET)
DEFAULT = BUDGET == 12 and SEED == 1
MIN_PASS_FRACTION = 0.6  # of the generated specs, check must pass this share (after dropping unreachable outputs)
REPAIRABLE = {"unreachable-output", "band-limit"}


@dataclass
class Case:
    spec: specgen.GeneratedSpec  # as checked (unreachable outputs dropped)
    path: Path
    check: SpecResult
    original: SpecResult | None = None  # the check of the spec as generated, when outputs were dropped
    dropped: list[str] = field(default_factory=list)

    @property
    def passes(self) -> bool:
        return self.check.exit_code() == 0

    def rejection(self) -> str:
        return "; ".join(f"[{f.rule}] {f.message}" for f in self.check.all_findings() if f.severity == "error")

    def describe(self, problems: list[str]) -> str:
        lines = [f"{self.spec.name}: check passes it, but:"] + [f"  - {p}" for p in problems]
        if self.dropped:
            lines.append(f"(outputs {', '.join(self.dropped)} were dropped from the generated spec: check calls them unreachable)")
        return "\n".join(lines + ["spec:", self.spec.text])


def check_case(spec: specgen.GeneratedSpec, folder: Path) -> Case:
    """Check a generated spec; if its only errors are unreachable outputs, drop those outputs and check again."""
    result = check_file(spec.write(folder))
    errors = {f.rule for f in result.findings if f.severity == "error"}
    if result.exit_code() == 0 or result.internal_error or not errors <= REPAIRABLE:
        return Case(spec, Path(result.file), result)
    dropped = sorted(out for out, deps in result.influence.items() if not deps)
    repaired = spec.without_outputs(set(dropped))
    if repaired is None:
        return Case(spec, Path(result.file), result)
    return Case(repaired, repaired.write(folder), check_file(repaired.write(folder)), result, dropped)


def exact(case: Case) -> bool:
    """No Fourier or quotient layer samples a continuous group: measured influence must equal static."""
    design = case.check.design
    assert design is not None
    return design.group.finite or not any(nl.kind in ("fourier", "quotient") for nl in design.hidden)


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Case]:
    folder = tmp_path_factory.mktemp("generated")
    return {spec.name: check_case(spec, folder) for spec in SPECS}


# -- fast: the generator, and check on what it generates (no torch, no escnn) -----------------------------


def test_generator_is_deterministic_and_round_trips():
    again = specgen.generate(SEED, BUDGET)
    assert [s.text for s in again] == [s.text for s in SPECS]
    assert [s.text for s in specgen.generate(SEED, 3)] == [s.text for s in SPECS[:3]], "a larger budget extends a smaller one"
    assert [s.text for s in specgen.generate(SEED + 1, 3)] != [s.text for s in SPECS[:3]]
    assert len({s.name for s in SPECS}) == len(SPECS)
    for s in SPECS:
        assert specgen.load(s.text) == s.data, s.text


def test_default_budget_covers_every_group_and_layer_kind():
    specs = specgen.generate(SEED, 12)
    assert {s.group for s in specs} == set(specgen.GROUP_KEYS)
    assert {k for s in specs for k in s.kinds} == set(specgen.KINDS)
    assert any(s.info.continuous and set(s.kinds) & set(specgen.FOURIER) for s in specs), "a Fourier layer sampled on a grid"
    # fields of several irreps: multi-irrep tensor products, cylinder vectors (xy + z) under norm and gated layers
    layers = [(s, h) for s in specgen.generate(SEED, 48) for h in s.data["hidden"]]
    assert any(h["nonlinearity"] == "tensor_product" and "+" in h["field"] for _, h in layers)
    assert any(s.group in ("cylinder", "full_cylinder") and "vector" in h.get("fields", "") for s, h in layers)


def test_check_passes_a_fair_share(checked: dict[str, Case]):
    passing = [c for c in checked.values() if c.passes]
    rejected = "\n".join(f"{c.spec.name}: {c.rejection()}" for c in checked.values() if not c.passes)
    assert len(passing) >= MIN_PASS_FRACTION * len(SPECS), f"check passes only {len(passing)}/{len(SPECS)}:\n{rejected}"
    if DEFAULT:
        assert {c.spec.group for c in passing} == set(specgen.GROUP_KEYS), rejected
        assert {k for c in passing for k in c.spec.kinds} == set(specgen.KINDS), rejected


# -- escnn: build every spec check passes, in one batch ----------------------------------------------------


@pytest.fixture(scope="module")
def built(checked: dict[str, Case], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("torch")
    pytest.importorskip("escnn")
    from eqdesign.commands.build import build_specs

    cases = [c for c in checked.values() if c.passes]
    out = tmp_path_factory.mktemp("generated-build")
    batch = build_specs([str(c.path) for c in cases], str(out), lambda label: contextlib.nullcontext(lambda step: None))
    assert not batch.usage_errors, batch.usage_errors
    return {Path(b.check.file).stem: b for b in batch.builds}


def _influence_problems(case: Case, measured: dict[str, list[str]]) -> list[str]:
    static, ideal = case.check.influence, case.check.ideal_influence
    problems = []
    for out, deps in measured.items():
        missed = sorted(set(deps) - set(static.get(out, [])))
        if missed:
            impossible = sorted(set(missed) - set(ideal.get(out, [])))
            why = (
                f" (no equivariant network can make {out} depend on {impossible}: the measurement took a grid leak for a dependency)"
                if impossible
                else ""
            )
            problems.append(
                f"output {out} measurably depends on {missed}, which check's static influence {static.get(out, [])} misses{why}"
            )
        elif exact(case) and sorted(deps) != sorted(static.get(out, [])):
            problems.append(f"output {out}: measured {sorted(deps)} != static {sorted(static.get(out, []))} (exact design)")
    return problems


@pytest.mark.escnn
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_what_check_passes_builds_with_its_influence(spec: specgen.GeneratedSpec, checked: dict[str, Case], built: dict[str, Any]):
    case = checked[spec.name]
    if not case.passes:
        pytest.skip(f"check rejects it: {case.rejection()}")
    result = built.get(case.path.stem)
    assert result is not None, case.describe(["build_specs reported nothing for it"])
    problems = []
    measured = result.influence.get("measured")
    if measured is None:
        problems.append("no influence was measured")
    else:
        problems += _influence_problems(case, measured)
    if result.exit_code != 0:
        problems.append(f"build exits {int(result.exit_code)}: " + " | ".join(result.failures))
    assert not problems, case.describe(problems)


@pytest.mark.escnn
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_outputs_check_calls_unreachable_are_unreachable(spec: specgen.GeneratedSpec, checked: dict[str, Case]):
    """The outputs dropped before the build: check says they depend on nothing, so the generated spec's own
    model (built directly; `build` refuses a spec with errors) must not depend on the input there either."""
    case = checked[spec.name]
    if not case.dropped or case.original is None or case.original.design is None:
        pytest.skip("no output was dropped")
    pytest.importorskip("torch")
    pytest.importorskip("escnn")
    from eqdesign.escnn_backend.probes import measure

    m = measure(case.original.design)  # as `build` measures
    ideal = case.original.ideal_influence
    problems = [
        f"output {out} is measured to depend on {m.influence.get(out)}, but check says it is unreachable"
        + (" (so does the ideal bound: the measurement took a grid leak for a dependency)" if not ideal.get(out) else "")
        for out in case.dropped
        if m.influence.get(out)
    ]
    assert not problems, "\n".join([f"{spec.name}:", *problems, "spec (as generated):", spec.text])


SO3_SPECS = [s for s in SPECS if s.group == "so3"]


@pytest.mark.escnn
@pytest.mark.parametrize("spec", SO3_SPECS, ids=lambda s: s.name)
def test_so3_parity_sectors_are_measured_where_check_says(spec: specgen.GeneratedSpec, checked: dict[str, Case]):
    """The hidden inversion: each parity sector of each output is measured on the spec's own model (as
    generated, unreachable outputs included) and must lie within check's static sector influence, and equal it
    on exact designs."""
    pytest.importorskip("torch")
    pytest.importorskip("escnn")
    import torch

    from eqdesign.analysis.dataflow import sector_influence
    from eqdesign.analysis.parity import lift_for
    from eqdesign.escnn_backend.builder import build_escnn
    from eqdesign.escnn_backend.probes import EscnnSubject
    from eqdesign.numerics.influence import approximate
    from eqdesign.numerics.sectors import measure_sectors

    result = checked[spec.name].original or checked[spec.name].check
    design, flow = result.design, result.flow
    assert design is not None and flow is not None
    lift = lift_for(design.group)
    assert lift is not None
    model = build_escnn(design, torch.float64, seed=design.spec.tests.seed)
    refined = EscnnSubject(build_escnn(design, torch.float64, grid_refinement=2)) if approximate(design) else None
    measured = measure_sectors(model.design, lift, EscnnSubject(model), refined)
    static = sector_influence(design, flow)
    exact_design = not approximate(design)
    problems = [
        f"{sector} sector of output {out}: measured {deps}, static {static[sector][out]}"
        for sector, outs in measured.items()
        for out, deps in outs.items()
        if not set(deps) <= set(static[sector][out]) or (exact_design and deps != static[sector][out])
    ]
    assert not problems, "\n".join([f"{spec.name}:", *problems, "spec:", spec.text])
