"""`eqdesign init`: the starter spec (analysis.starter), written to a new file or printed."""

from __future__ import annotations

from ..api.designing import InitResult, starter
from ..outfiles import write_new

__all__ = ["InitResult", "starter", "write_new"]
