"""``freeze``: the fast inference copy of a compiled model, made when the user asks for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..export.modules import CompiledModel


def freeze(module: CompiledModel) -> CompiledModel:
    """An inference copy of a compiled model (``Built.module``, or a module built by eqdesign): every weight
    assembled once, batch norms folded into the layer before them, no parameter requiring grad, in eval
    mode. The copy is separate: later changes to ``module``'s weights do not reach it (freeze again after
    training). ``module`` itself is left as it is, and a plain call of it always computes from its current
    weights.

    >>> built = build("specs/so2-gated.yaml", influence=False)
    >>> fast = freeze(built.module)
    >>> x = torch.randn(4, built.layout["input_dim"])
    >>> bool(torch.allclose(fast(x), built.module.eval()(x), atol=1e-5))
    True
    """
    from .errors import require

    require("verify")  # torch alone
    from ..export.freeze import freeze as frozen_copy

    return frozen_copy(module)
