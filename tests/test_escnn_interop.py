"""escnn interop: a spec made from escnn FieldTypes, built, and run after an escnn layer in a SequentialModule
is equivariant end to end under escnn's own transforms (GeometricTensor.transform)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.escnn

GATED = [{"nonlinearity": "gated", "fields": "4x1", "scalars": 4}]


@pytest.fixture(scope="module")
def so3() -> dict[str, Any]:
    """SO(3): the field types around the model, the spec made from them, and the model built from it."""
    from escnn import group, gspaces
    from escnn import nn as enn

    import eqdesign

    G = group.so3_group(2)
    space = gspaces.no_base_space(G)
    types = {
        "first": enn.FieldType(space, [G.irrep(0), G.irrep(1), G.irrep(1)]),
        "in": enn.FieldType(space, [G.standard_representation(), G.irrep(0)]),
        "out": enn.FieldType(space, [G.irrep(0), G.standard_representation()]),
    }
    spec = eqdesign.spec_from_escnn(types["in"], types["out"], hidden=GATED, name="after-escnn")
    return {"G": G, "types": types, "spec": spec, "built": eqdesign.build(spec, influence=False)}


def _equivariance(module: Any, x: Any, elements: list[Any]) -> float:
    """The largest relative |f(g x) - g f(x)| over ``elements``, with escnn's transforms on both sides."""
    import torch

    with torch.no_grad():
        y = module(x)
        errors = [float((module(x.transform(g)).tensor - y.transform(g).tensor).norm() / y.tensor.norm()) for g in elements]
    return max(errors)


def test_the_spec_takes_the_field_types_representations(so3: dict[str, Any]):
    assert (so3["spec"].group, so3["spec"].input, so3["spec"].output) == ("so3", "1x vector + 1x 0", "1x 0 + 1x vector")


def test_a_built_model_after_an_escnn_linear_is_equivariant_end_to_end(so3: dict[str, Any]):
    import torch
    from escnn import nn as enn

    import eqdesign

    types = so3["types"]
    torch.manual_seed(0)
    model = enn.SequentialModule(enn.Linear(types["first"], types["in"]), eqdesign.escnn_module(so3["built"], types["in"], types["out"]))
    model.eval()
    x = enn.GeometricTensor(torch.randn(32, types["first"].size), types["first"])
    elements = [so3["G"].sample() for _ in range(8)]
    assert _equivariance(model, x, elements) < 1e-5
    # the control: the same model told its vector is escnn's irrep 1 (another basis) is not equivariant
    G = so3["G"]
    wrong = enn.FieldType(types["in"].gspace, [G.irrep(1), G.irrep(0)])
    misread = enn.SequentialModule(enn.Linear(types["first"], wrong), eqdesign.escnn_module(so3["built"], wrong, types["out"]))
    misread.eval()
    assert _equivariance(misread, enn.GeometricTensor(x.tensor, types["first"]), elements) > 1e-2


def test_a_representation_in_another_basis_is_refused(so3: dict[str, Any]):
    import numpy as np
    from escnn import group
    from escnn import nn as enn

    import eqdesign

    G = so3["G"]
    rotated = group.change_basis(G.irrep(1), np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), "swapped")
    odd = enn.FieldType(so3["types"]["in"].gspace, [rotated])
    with pytest.raises(eqdesign.FieldTypeError, match="not a direct sum of irreps in escnn's basis"):
        eqdesign.spec_from_escnn(odd, so3["types"]["out"], hidden=GATED)
    with pytest.raises(eqdesign.FieldTypeError, match="the model maps 4 to 4 columns"):
        eqdesign.escnn_module(so3["built"], so3["types"]["first"], so3["types"]["out"])
