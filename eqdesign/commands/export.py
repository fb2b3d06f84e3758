"""`eqdesign export`: a trained NAME.pt re-verified and written as NAME.pt2 or NAME.onnx (api.exporting)."""

from __future__ import annotations

from ..api.exporting import export_outcome
from ..results import ExportOutcome


def export_path(path: str, to: str, output: str | None, build: str | None) -> ExportOutcome:
    return export_outcome(path, to, output, build)
