"""``assert_equivariant``: any module, a user's own included, against the representations of a spec."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .building import Built
from .errors import EqdesignError, EquivarianceError, require
from .loading import Loaded
from .spec import SpecSource, load_spec

if TYPE_CHECKING:
    import torch

#: the input scales tried, as the gallery's specs test them
SCALES = (0.1, 1.0, 10.0)


def assert_equivariant(
    module: Any,
    reference: SpecSource | Built | Loaded,
    *,
    samples: int = 16,
    seed: int = 0,
    tolerance: float | None = None,
    scales: Sequence[float] = SCALES,
) -> float:
    """Check that ``module`` maps ``(batch, input_dim)`` to ``(batch, output_dim)`` equivariantly, with the
    input and output representations of ``reference``: a spec (anything :func:`load_spec` reads; its
    matrices come from escnn), a :class:`Built` or a :class:`Loaded` model (their stored matrices).

    The error is ||f(ρ_in(g) x) - ρ_out(g) f(x)|| / mean ||f(x)||, the largest over ``samples`` random group
    elements (every element of a finite group), random inputs and ``scales``. ``tolerance`` defaults to what
    the reference is held to: 1e-5 in float32 (1e-12 in float64) for an exactly equivariant design, the
    spec's ``tests.tolerance`` for one with sampled Fourier layers. Returns the error; raises
    :class:`EquivarianceError` above the tolerance.

    >>> import torch
    >>> spec = load_spec({"name": "rot", "group": "so2", "input": "1x vector", "output": "1x vector", "hidden": []})
    >>> assert_equivariant(torch.nn.Identity(), spec) < 1e-6
    True
    >>> assert_equivariant(torch.nn.Linear(2, 2), spec)
    Traceback (most recent call last):
    ...
    eqdesign.EquivarianceError: not equivariant: relative error ... above the tolerance 1e-05 ...
    """
    require("verify" if isinstance(reference, (Built, Loaded)) else "build")  # a spec's matrices come from escnn
    import torch

    dtype = _dtype(module)
    rho_in, rho_out, exact, default = _representations(reference, samples, seed, dtype)
    limit = tolerance if tolerance is not None else default
    x = torch.randn(max(samples, 8), rho_in.shape[1], generator=torch.Generator().manual_seed(seed), dtype=dtype)
    _check_shape(module, x, rho_out.shape[1])
    from ..numerics.equivariance import Probe, measure

    result = measure(Probe("module", module, rho_in, rho_out, exact=exact), x, scales)
    if not result.passes(limit):
        raise EquivarianceError(
            f"not equivariant: relative error {result.max_rel:.2e} above the tolerance {limit:.0e} "
            f"(at sampled element {result.worst_element}, input scale {result.worst_scale:g})",
            result.max_rel,
            result.worst_element,
        )
    return result.max_rel


def _dtype(module: Any) -> torch.dtype:
    import torch

    first = next(iter(module.parameters()), None) if isinstance(module, torch.nn.Module) else None
    return first.dtype if first is not None and first.is_floating_point() else torch.float32


def _representations(
    reference: SpecSource | Built | Loaded, samples: int, seed: int, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, bool, float]:
    """(ρ_in, ρ_out, exact, the tolerance the reference is held to) in ``dtype``."""
    from ..numerics.tolerances import artifact_tolerance, exact_tolerance

    name = str(dtype).replace("torch.", "")
    if isinstance(reference, Loaded):
        reps = reference.representations
        exact = bool(reps.get("exact"))
        return reps["input"].to(dtype), reps["output"].to(dtype), exact, float(reps["tolerance"]) if not exact else exact_tolerance(name)
    if isinstance(reference, Built):
        made, spec_tol = reference._made, reference.tolerance
        return (
            made.reps[0].to(dtype),
            made.reps[1].to(dtype),
            made.exact,
            exact_tolerance(name) if made.exact else artifact_tolerance(False, spec_tol),
        )
    return _from_spec(reference, samples, seed, dtype, name)


def _from_spec(
    reference: SpecSource, samples: int, seed: int, dtype: torch.dtype, name: str
) -> tuple[torch.Tensor, torch.Tensor, bool, float]:
    from ..escnn_backend.probes import design_representations
    from ..numerics.suite import is_exact
    from ..numerics.tolerances import exact_tolerance

    design = load_spec(reference)._checked.design
    if design is None:
        raise EqdesignError("the spec does not resolve to a design: run eqdesign.check on it for the findings")
    _, rho_in, rho_out = design_representations(design, samples, seed, dtype)
    exact = all(is_exact(design, layer) for layer in design.layers)
    return rho_in, rho_out, exact, exact_tolerance(name) if exact else design.spec.tests.tolerance


def _check_shape(module: Any, x: torch.Tensor, output_dim: int) -> None:
    import torch

    with torch.no_grad():
        y = module(x)
    if not isinstance(y, torch.Tensor) or y.shape != (x.shape[0], output_dim):
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise EqdesignError(f"the module maps ({x.shape[0]}, {x.shape[1]}) to {shape}, the reference to ({x.shape[0]}, {output_dim})")
