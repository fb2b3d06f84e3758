"""The public Python API; ``import eqdesign`` gives the same names (see docs/api.md).

Importing it needs neither torch nor escnn: ``load_spec``, ``check`` and ``design`` run on the check-only
install, and the rest import torch (and escnn, to build) when called."""

from __future__ import annotations

from ..analysis.search import Candidate
from ..findings import Finding, Location, Severity
from ..results import Verification
from .building import BuildReport, Built, build
from .checking import CheckReport, check
from .designing import design
from .equivariance import assert_equivariant
from .errors import BuildFailed, DataError, DesignError, EqdesignError, EquivarianceError, MissingExtra, SpecError, TrainingFailed
from .exporting import ExportError, export_model
from .inference import freeze
from .interop import FieldTypeError, escnn_module, spec_from_escnn
from .loading import Loaded, LoadError, load, verify
from .spec import Spec, load_spec
from .training import Trained, train

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

for _name in __all__:  # reprs and tracebacks name them as users import them
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith(__name__):
        _obj.__module__ = "eqdesign"
