"""eqdesign: design, check, build and export equivariant MLPs.

>>> import eqdesign
>>> eqdesign.check("specs/so3-vector-mlp.yaml").ok
True

The names below come from ``eqdesign.api``, imported on first use, so that ``import eqdesign`` (and the
command line's start) stays fast; docs/api.md documents them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .api import (
        BuildFailed,
        BuildReport,
        Built,
        Candidate,
        CheckReport,
        DataError,
        DesignError,
        EqdesignError,
        EquivarianceError,
        ExportError,
        FieldTypeError,
        Finding,
        Loaded,
        LoadError,
        Location,
        MissingExtra,
        Severity,
        Spec,
        SpecError,
        Trained,
        TrainingFailed,
        Verification,
        assert_equivariant,
        build,
        check,
        design,
        escnn_module,
        export_model,
        freeze,
        load,
        load_spec,
        spec_from_escnn,
        train,
        verify,
    )

__all__ = [
    "BuildFailed",
    "BuildReport",
    "Built",
    "Candidate",
    "CheckReport",
    "DataError",
    "DesignError",
    "EqdesignError",
    "EquivarianceError",
    "ExportError",
    "FieldTypeError",
    "Finding",
    "LoadError",
    "Loaded",
    "Location",
    "MissingExtra",
    "Severity",
    "Spec",
    "SpecError",
    "Trained",
    "TrainingFailed",
    "Verification",
    "__version__",
    "assert_equivariant",
    "build",
    "check",
    "design",
    "escnn_module",
    "export_model",
    "freeze",
    "load",
    "load_spec",
    "spec_from_escnn",
    "train",
    "verify",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'eqdesign' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
