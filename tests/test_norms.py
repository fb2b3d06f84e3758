"""Normalization layers: the plain-torch twins of escnn's batch norms and of our escnn layer norm compute
the same function (training and eval, running statistics, gradients), are equivariant, count the same
numbers, fold into a preceding linear layer, and script and export."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.escnn

torch = pytest.importorskip("torch")

IID_TYPES = ["so3_bl", "so3_sphere", "so3_mixed", "so3_nontrivial", "octa_regular"]
NORM_TYPES = ["so3_nontrivial", "octa_nontrivial"]
CASES = [("iid_batch", t) for t in IID_TYPES] + [("norm_batch", t) for t in NORM_TYPES] + [("layer", t) for t in IID_TYPES]
BATCH_CASES = [c for c in CASES if c[0] != "layer"]
LAYER_TYPES = IID_TYPES
TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


@pytest.fixture(scope="module")
def types() -> dict[str, Any]:
    from eqdesign.escnn_backend.compat import egroup, enn, gspaces, quiet

    with quiet():
        G = egroup.so3_group()
        gs = gspaces.no_base_space(G)
        bl = enn.FourierELU(gs, 3, irreps=G.bl_irreps(2), type="thomson_cube", N=2).in_type
        sphere = enn.QuotientFourierELU(
            gs, (False, -1), 3, irreps=G.bl_sphere_representation(L=2).irreps, grid=G.sphere_grid("thomson", N=40)
        ).in_type
        psi = [G.irrep(j) for j in range(3)]
        O = egroup.octa_group()
        go = gspaces.no_base_space(O)
        nontrivial_octa = [irr for irr in O.irreps() if not irr.is_trivial()]
        return {
            "so3_bl": bl,
            "so3_sphere": sphere,
            # trivial and non-trivial irreps, fields of one type not contiguous, plus a band-limited field
            "so3_mixed": gs.type(psi[0], psi[1], psi[0], psi[2], psi[1], bl.representations[0], psi[0]),
            "so3_nontrivial": gs.type(psi[1], psi[2], psi[1], psi[1], psi[2]),
            "octa_regular": go.type(*[O.regular_representation] * 3),
            "octa_nontrivial": go.type(*nontrivial_octa, nontrivial_octa[0], nontrivial_octa[2]),
        }


def _escnn(kind: str, ftype: Any, dtype: Any, momentum: float | None = 0.1, seed: int = 0) -> Any:
    """The escnn module with random parameters and random (invariant) running statistics."""
    from eqdesign.escnn_backend.compat import default_dtype, quiet
    from eqdesign.escnn_backend.norms import build_norm, exact_norm_buffers

    with quiet(), default_dtype(torch.float32):
        m = build_norm(kind, ftype, momentum=momentum)
    m = m.to(dtype)
    if dtype == torch.float64:
        exact_norm_buffers(m)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            r = torch.randn(p.shape, generator=gen, dtype=torch.float64).to(dtype)
            p.copy_(1.0 + 0.3 * r if name.endswith("weight") else r)
        for name, b in m.named_buffers():
            if name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=gen, dtype=torch.float64).to(dtype))
            elif name.endswith("running_mean"):
                P = getattr(m, name.replace("running_mean", "avg"))
                b.copy_(torch.randn(b.shape, generator=gen, dtype=torch.float64).to(dtype) @ P.t())
            elif name == "num_batches_tracked":
                b.fill_(3)
    return m.train()


def _batch(ftype: Any, dtype: Any, seed: int, b: int = 16) -> Any:
    gen = torch.Generator().manual_seed(seed)
    offset = 2.0 * torch.randn(ftype.size, generator=gen, dtype=torch.float64)
    return (0.7 * torch.randn(b, ftype.size, generator=gen, dtype=torch.float64) + offset).to(dtype)


def _close(a: Any, b: Any, tol: float) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    if b.numel() == 0:
        return
    scale = max(float(b.detach().abs().max()), 1.0)
    err = float((a.detach() - b.detach()).abs().max())
    assert err <= tol * scale, (err, scale)


def _pairs(m: Any, twin: Any) -> tuple[list[tuple[Any, Any]], list[tuple[Any, Any]]]:
    """([(escnn parameter, twin parameter)], [(escnn statistic, twin statistic)])."""
    params: list[tuple[Any, Any]] = []
    stats: list[tuple[Any, Any]] = []
    from eqdesign.escnn_backend.compat import enn, escaped_name, field_sizes
    from eqdesign.escnn_backend.norms import field_groups

    if isinstance(m, enn.NormBatchNorm):  # groups by size
        assert len(field_sizes(m)) == len(twin.groups)
        for s, g in zip(field_sizes(m), twin.groups, strict=True):
            params.append((getattr(m, f"{s}_weight"), g.weight))
            stats.append((getattr(m, f"{s}_running_var"), g.running_var))
    else:
        assert [name for name, _, _ in field_groups(m)] == [g.name for g in twin.groups]
        for g in twin.groups:
            key = escaped_name(g.name)
            params.append((getattr(m, f"{key}_weight"), g.weight))
            if g.has_trivial:
                params.append((getattr(m, f"{key}_bias"), g.bias))
            if hasattr(m, f"{key}_running_var"):
                stats.append((getattr(m, f"{key}_running_var"), g.running_var))
                if g.has_trivial:
                    stats.append((getattr(m, f"{key}_running_mean"), g.running_mean))
    return params, stats


def _same_state(m: Any, twin: Any, tol: float) -> None:
    params, stats = _pairs(m, twin)
    for a, b in params + stats:
        _close(b.reshape(a.shape), a, tol)
    if hasattr(m, "num_batches_tracked"):
        assert int(twin.num_batches_tracked) == int(m.num_batches_tracked)


def _twin(kind: str, ftype: Any, dtype: Any, momentum: float | None = 0.1, seed: int = 0) -> tuple[Any, Any]:
    from eqdesign.escnn_backend.norms import lower_norm

    m = _escnn(kind, ftype, dtype, momentum, seed)
    return m, lower_norm(m, dtype)


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind,tname", CASES)
def test_twin_matches_escnn_in_training_and_eval(types, kind, tname, dtype, momentum):
    ftype = types[tname]
    m, twin = _twin(kind, ftype, dtype, momentum)
    tol = TOL[dtype]
    assert twin.training and next(twin.parameters()).dtype == dtype
    _same_state(m, twin, 0.0)
    for step in range(3):
        x = _batch(ftype, dtype, seed=10 + step)
        _close(twin(x), m(ftype(x)).tensor, tol)
        _same_state(m, twin, tol)
    m.eval()
    twin.eval()
    x = _batch(ftype, dtype, seed=20)
    _close(twin(x), m(ftype(x)).tensor, tol)
    _same_state(m, twin, tol)
    before = [s.clone() for _, s in _pairs(m, twin)[1]]
    twin(x)
    assert all(torch.equal(a, s) for a, (_, s) in zip(before, _pairs(m, twin)[1], strict=True))  # eval leaves the statistics alone


@pytest.mark.parametrize("kind,tname", CASES)
def test_counts_match_escnn_storage(types, kind, tname):
    from eqdesign.escnn_backend.norms import norm_counts, type_counts

    ftype = types[tname]
    m, twin = _twin(kind, ftype, torch.float32)
    params, stats = norm_counts(m)
    assert type_counts(kind, ftype) == (params, stats)
    assert params == sum(p.numel() for p in m.parameters())
    # every buffer but the indices, the matrices and the step counter num_batches_tracked
    assert {name.rsplit("_", 1)[-1] for name, _ in m.named_buffers()} <= {"indices", "avg", "basis", "mean", "var", "tracked"}
    not_stats = ("_indices", "_avg", "_change_of_basis", "num_batches_tracked")
    assert stats == sum(b.numel() for name, b in m.named_buffers() if not name.endswith(not_stats))
    assert params == sum(p.numel() for p in twin.parameters())
    stat_names = ("running_mean", "running_var")
    assert stats == sum(b.numel() for name, b in twin.named_buffers() if name.endswith(stat_names))
    fields = len(ftype.representations)
    assert stats == (0 if kind == "layer" else fields + sum(r.size for r in ftype.representations if r.contains_trivial()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind,tname", CASES)
def test_gradients_match_escnn(types, kind, tname, dtype):
    ftype = types[tname]
    m, twin = _twin(kind, ftype, dtype)
    tol = TOL[dtype]
    x = _batch(ftype, dtype, seed=3)
    target = torch.randn(x.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64).to(dtype)
    xe, xt = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ye, yt = m(ftype(xe)).tensor, twin(xt)
    ((ye - target) ** 2).sum().backward()
    ((yt - target) ** 2).sum().backward()
    _close(xt.grad, xe.grad, tol)
    params, _ = _pairs(m, twin)
    assert params
    for a, b in params:
        _close(b.grad.reshape(a.shape), a.grad, tol)


def _elements(ftype: Any, count: int = 3) -> list[Any]:
    G = ftype.fibergroup
    if G.order() > 0:
        return list(G.elements[1 :: max(1, G.order() // count)])[:count]
    np.random.seed(0)
    return [G.sample() for _ in range(count)]


def _rho(ftype: Any, g: Any, dtype: Any) -> Any:
    return torch.as_tensor(np.asarray(ftype.fiber_representation(g)), dtype=torch.float64).to(dtype)


def _trained(kind: str, ftype: Any, dtype: Any, momentum: float | None = 0.1) -> Any:
    """A twin with running statistics from two training batches."""
    from eqdesign.escnn_backend.norms import lower_norm

    m = _escnn(kind, ftype, dtype, momentum)
    with torch.no_grad():
        for k in range(2):
            m(ftype(_batch(ftype, dtype, seed=30 + k)))
    return lower_norm(m, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind,tname", CASES)
def test_twin_is_equivariant(types, kind, tname, dtype):
    ftype = types[tname]
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    twin = _trained(kind, ftype, dtype)
    x = _batch(ftype, dtype, seed=5)
    with torch.no_grad():
        for g in _elements(ftype):
            rho = _rho(ftype, g, dtype)
            # eval: running statistics
            twin.eval()
            _close(twin(x @ rho.t()), twin(x) @ rho.t(), tol)
            # training: the whole batch moved by g, batch statistics and their updates invariant
            twin.train()
            a, b = copy.deepcopy(twin), copy.deepcopy(twin)
            _close(b(x @ rho.t()), a(x) @ rho.t(), tol)
            for (_, sa), (_, sb) in zip(_stat_buffers(a), _stat_buffers(b), strict=True):
                _close(sb, sa, tol)


def _stat_buffers(twin: Any) -> list[tuple[str, Any]]:
    return [(n, b) for n, b in twin.named_buffers() if n.endswith(("running_mean", "running_var"))]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("tname", LAYER_TYPES)
def test_layer_norm_is_equivariant_sample_by_sample(types, tname, dtype):
    ftype = types[tname]
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    _, twin = _twin("layer", ftype, dtype)
    elements = _elements(ftype, 4)
    x = _batch(ftype, dtype, seed=6, b=len(elements))
    rhos = torch.stack([_rho(ftype, g, dtype) for g in elements])
    moved = torch.einsum("bij,bj->bi", rhos, x)
    with torch.no_grad():
        for mode in (True, False):
            twin.train(mode)
            _close(twin(moved), torch.einsum("bij,bj->bi", rhos, twin(x)), tol)


@pytest.mark.parametrize("tname", LAYER_TYPES)
def test_layer_norm_acts_per_sample_and_couples_fields(types, tname):
    ftype = types[tname]
    m, twin = _twin("layer", ftype, torch.float64)
    x = _batch(ftype, torch.float64, seed=7, b=5)
    with torch.no_grad():
        y = twin(x)
        # the same in training and eval mode, and escnn's module agrees
        assert torch.equal(twin.eval()(x), y)
        _close(m(ftype(x)).tensor, y, 1e-12)
        # another sample 0: the other samples' outputs do not move
        x2 = x.clone()
        x2[0] = 3.0 * torch.randn(ftype.size, dtype=torch.float64)
        y2 = twin(x2)
        assert float((y2[0] - y[0]).abs().max()) > 1e-3
        _close(y2[1:], y[1:], 1e-14)
        # another field 0: field 1's output moves (one scale for all fields of the sample)
        d0, d1 = ftype.representations[0].size, ftype.representations[1].size
        x3 = x.clone()
        x3[:, :d0] *= 3.0
        y3 = twin(x3)
        assert float((y3[:, d0 : d0 + d1] - y[:, d0 : d0 + d1]).abs().max()) > 1e-3


@pytest.mark.parametrize("kind,tname", BATCH_CASES)
def test_fold_into_a_dense_linear(types, kind, tname):
    from eqdesign.export.blocks import DenseLinear
    from eqdesign.export.norms import fold_into

    ftype = types[tname]
    for dtype in (torch.float32, torch.float64):
        twin = _trained(kind, ftype, dtype).eval()
        gen = torch.Generator().manual_seed(8)
        weight = torch.randn(ftype.size, 11, generator=gen, dtype=torch.float64).to(dtype)
        bias = torch.randn(ftype.size, generator=gen, dtype=torch.float64).to(dtype)
        linear = DenseLinear(weight, bias)
        folded = fold_into(linear, twin)
        z = torch.randn(9, 11, generator=gen, dtype=torch.float64).to(dtype)
        with torch.no_grad():
            _close(folded(z), twin(linear(z)), 1e-5 if dtype == torch.float32 else 1e-12)
        assert folded.weight.dtype == dtype and folded.bias.dtype == dtype


def test_fold_into_refuses_the_layer_norm(types):
    from eqdesign.export.blocks import DenseLinear
    from eqdesign.export.norms import fold_into

    ftype = types["so3_mixed"]
    _, twin = _twin("layer", ftype, torch.float32)
    with pytest.raises(TypeError):
        fold_into(DenseLinear(torch.zeros(ftype.size, 3), torch.zeros(ftype.size)), twin)


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("kind,tname", CASES)
def test_twins_script_and_export(types, kind, tname, momentum):
    ftype = types[tname]
    twin = _trained(kind, ftype, torch.float32, momentum)
    x = _batch(ftype, torch.float32, seed=9)
    with torch.no_grad():
        # eval
        twin.eval()
        ref = twin(x)
        _close(torch.jit.script(copy.deepcopy(twin))(x), ref, 1e-6)
        _close(torch.export.export(copy.deepcopy(twin), (x,)).module()(x), ref, 1e-6)
        # training: batch statistics, and the running statistics updated the same way
        twin.train()
        eager = copy.deepcopy(twin)
        scripted = torch.jit.script(copy.deepcopy(twin))
        exported = torch.export.export(copy.deepcopy(twin), (x,)).module()
        for k in range(2):
            xk = _batch(ftype, torch.float32, seed=40 + k)
            ref = eager(xk)
            _close(scripted(xk), ref, 1e-6)
            _close(exported(xk), ref, 1e-6)
        want = dict(eager.named_buffers())
        for other in (dict(scripted.named_buffers()), dict(exported.named_buffers())):
            for name in itertools.chain((n for n, _ in _stat_buffers(eager)), ["num_batches_tracked"] if kind != "layer" else []):
                _close(other[name].double(), want[name].double(), 1e-6)


def test_lowering_refuses_what_it_cannot_twin(types):
    from eqdesign.escnn_backend.compat import enn
    from eqdesign.escnn_backend.norms import lower_norm

    ftype = types["so3_mixed"]
    with pytest.raises(ValueError):
        lower_norm(enn.IIDBatchNorm1d(ftype, affine=False), torch.float32)
    with pytest.raises(ValueError):
        lower_norm(enn.IIDBatchNorm1d(ftype, track_running_stats=False), torch.float32)
    with pytest.raises(TypeError):
        lower_norm(enn.ReLU(types["octa_regular"]), torch.float32)
