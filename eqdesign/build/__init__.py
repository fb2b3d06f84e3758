"""`eqdesign build`: construct real escnn models from a resolved Design, and measure them.

Importing this package imports torch and escnn (slow, and optional dependencies of eqdesign); `check`
never imports it.
"""

from __future__ import annotations

from .escnn_model import BuildError, EscnnModel, build_escnn

__all__ = ["BuildError", "EscnnModel", "build_escnn"]
