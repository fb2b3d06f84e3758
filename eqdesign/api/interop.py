"""escnn interop: ``spec_from_escnn`` makes a spec whose input and output are escnn FieldTypes, and
``escnn_module`` runs a built model on GeometricTensors, so that it drops into an escnn SequentialModule
(both need the build extra: escnn)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import EqdesignError, require
from .spec import Spec, load_spec

if TYPE_CHECKING:
    import torch

    from .building import Built


class FieldTypeError(EqdesignError, ValueError):
    """An escnn FieldType eqdesign cannot take: a representation that is neither a direct sum of irreps in
    escnn's basis nor the standard vector, a group eqdesign lacks, or input and output of two groups."""


def spec_from_escnn(in_type: Any, out_type: Any, *, hidden: Sequence[Mapping[str, Any]], name: str = "from-escnn") -> Spec:
    """A spec whose input and output are the escnn FieldTypes ``in_type`` and ``out_type`` (their
    representations in order, as irreps strings), with the ``hidden`` layers given as a spec lists them.

    >>> from escnn import group, gspaces, nn as enn
    >>> G = group.so2_group(3)
    >>> space = gspaces.no_base_space(G)
    >>> in_type = enn.FieldType(space, [G.standard_representation(), G.irrep(0)])
    >>> spec = spec_from_escnn(in_type, in_type, hidden=[{"nonlinearity": "gated", "fields": "4x1", "scalars": 2}])
    >>> spec.input, spec.output
    ('1x vector + 1x 0', '1x vector + 1x 0')
    """
    require("build")
    from ..escnn_backend.interop import InteropError, group_entry, irreps_string

    if in_type.fibergroup is not out_type.fibergroup:
        raise FieldTypeError(f"the input's group {in_type.fibergroup.name} is not the output's {out_type.fibergroup.name}")
    try:
        _, group = group_entry(in_type.fibergroup)
        fields = {"input": irreps_string(in_type), "output": irreps_string(out_type)}
    except InteropError as err:
        raise FieldTypeError(str(err)) from None
    return load_spec({"name": name, "group": group, **fields, "hidden": [dict(layer) for layer in hidden]})


def escnn_module(model: Built | torch.nn.Module, in_type: Any, out_type: Any) -> Any:
    """An escnn EquivariantModule that runs ``model`` (a ``Built`` or its module) on GeometricTensors of
    ``in_type`` and returns them of ``out_type``: the field types its spec was made from
    (``spec_from_escnn``).

    >>> from escnn import group, gspaces, nn as enn
    >>> G = group.so2_group(3)
    >>> in_type = enn.FieldType(gspaces.no_base_space(G), [G.standard_representation(), G.irrep(0)])
    >>> built = build(spec_from_escnn(in_type, in_type, hidden=[{"nonlinearity": "gated", "fields": "4x1", "scalars": 2}]), influence=False)
    >>> wrapped = escnn_module(built, in_type, in_type)
    >>> wrapped(enn.GeometricTensor(torch.randn(4, 3), in_type)).type == in_type
    True
    """
    require("build")
    from ..escnn_backend.interop import EscnnWrapped

    module: torch.nn.Module = model.module if hasattr(model, "report") else model  # type: ignore[assignment]  # a Built, or a module
    sizes = (getattr(module, "input_dim", None), getattr(module, "output_dim", None))
    if sizes != (in_type.size, out_type.size):
        raise FieldTypeError(
            f"the model maps {sizes[0]} to {sizes[1]} columns; the field types have sizes {in_type.size} and {out_type.size}"
        )
    return EscnnWrapped(module, in_type, out_type)
