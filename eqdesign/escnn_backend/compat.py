"""escnn as eqdesign uses it: imported quietly, with the private internals it needs named in one place.

escnn 1.0.11 prints joblib banners and progress lines while it builds, samples its bases in the default
dtype, and caches them process-wide; the helpers here contain those effects.
"""

from __future__ import annotations

import contextlib
import io
import os
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import torch

from ..analysis.design import SpecPath


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Capture escnn's stray prints (joblib ``[Memory]`` banners, numerical Clebsch-Gordan progress)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _tolerant_store() -> str:
    """Register (once) a joblib store that treats every write fault as a missed cache entry: the fault is
    recorded (eqdesign.paths.cache_fault) and escnn computes what it would have read. joblib's own store
    lets a failed folder creation or code file escape as OSError, which ended builds as internal errors."""
    import joblib
    from joblib._store_backends import FileSystemStoreBackend

    from ..paths import cache_fault

    class TolerantStore(FileSystemStoreBackend):  # type: ignore[misc]
        def configure(self, location: str, verbose: int = 1, backend_options: Any = None) -> None:
            try:
                super().configure(location, verbose, backend_options)
            except OSError as err:  # the folder cannot be made: every later read misses, every write is dropped
                cache_fault(err)
                self.compress, self.mmap_mode, self.verbose = False, None, verbose

        def create_location(self, location: str) -> None:
            try:
                super().create_location(location)
            except OSError as err:
                cache_fault(err)

        def clear_location(self, location: str) -> None:
            try:
                super().clear_location(location)
            except OSError as err:
                cache_fault(err)

        def _concurrency_safe_write(self, to_write: Any, filename: str, write_func: Any) -> None:
            temporary = f"{filename}.{uuid.uuid4().hex}-{os.getpid()}"
            try:
                write_func(to_write, temporary)
                self._move_item(temporary, filename)
            except OSError as err:  # a full disk leaves no half-written file behind
                cache_fault(err)
                with contextlib.suppress(OSError):
                    os.remove(temporary)

    joblib.register_store_backend(_STORE, TolerantStore)
    return _STORE


_STORE = "eqdesign"


@contextlib.contextmanager
def _escnn_cache_here() -> Iterator[None]:
    """escnn creates its joblib caches at import time, in its own package folder: while it is imported, any
    joblib.Memory aimed there is aimed at eqdesign's cache folder instead (see eqdesign.paths), through a
    store that goes on without the folder when it cannot be used."""
    import joblib

    from ..paths import escnn_cache_dir

    target = escnn_cache_dir()
    store = _tolerant_store()
    original = joblib.Memory.__init__

    def redirected(self: Any, location: Any = None, *args: Any, **kwargs: Any) -> None:
        if isinstance(location, str) and location.replace(os.sep, "/").endswith("escnn/group/_cache"):
            location = str(target)
            kwargs["backend"] = store
        original(self, location, *args, **kwargs)

    joblib.Memory.__init__ = redirected
    try:
        yield
    finally:
        joblib.Memory.__init__ = original


with quiet(), _escnn_cache_here():
    import escnn.group as egroup
    from escnn import gspaces
    from escnn import nn as enn
    from escnn.nn.modules.basismanager import basisexpansion_singleblock as _singleblock
    from escnn.nn.modules.basismanager.basisexpansion_blocks import BlocksBasisExpansion
    from escnn.nn.modules.nonlinearities.fourier import _build_kernel as fourier_kernel
    from escnn.nn.modules.nonlinearities.fourier_quotient import _build_kernel as quotient_kernel

__all__ = [
    "BlocksBasisExpansion",
    "default_dtype",
    "egroup",
    "enn",
    "fourier_kernel",
    "gspaces",
    "private_basis_cache",
    "quiet",
    "quotient_kernel",
]


class BuildError(Exception):
    """escnn cannot build the design (or disagrees with its layout). ``path`` is the spec path of the layer."""

    def __init__(self, message: str, path: SpecPath = ()) -> None:
        super().__init__(message)
        self.path = path


@contextlib.contextmanager
def private_basis_cache() -> Iterator[None]:
    """escnn shares sampled bases between all layers of a process (a module-level cache), so converting one
    model to float64 would convert the bases of every other model. Build with a cache of our own."""
    saved = _singleblock._stored_filters
    _singleblock._stored_filters = {}
    try:
        yield
    finally:
        _singleblock._stored_filters = saved


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def he_std(m: torch.nn.Module) -> torch.Tensor:
    """escnn's generalized He standard deviations for a module's weights (cached on the module)."""
    std: torch.Tensor | None = getattr(m, "_eqd_he_std", None)
    if std is None:
        from escnn.nn.init import _generalized_he_init_variances

        std = _generalized_he_init_variances(m.basisexpansion).to(torch.float64)
        m._eqd_he_std = std
    return std


# -- escnn's private attributes -------------------------------------------------------------------------------
# escnn keeps the layout of its modules in attributes it does not document (a leading underscore). Every read
# or write of one is below, a small function each, with the escnn class it reads and the version it was
# written against (escnn 1.0.11): an escnn that renames one breaks here alone. tests/test_layering.py keeps
# these names out of every other module of eqdesign.


def field_sizes(module: Any) -> list[int]:
    """The field sizes of a NormNonLinearity or NormBatchNorm, in the order escnn groups its fields (and names
    their buffers and parameters by). escnn 1.0.11: ``_order``, a list of sizes."""
    return [int(size) for size in module._order]


def fields_of_size(module: Any, size: int) -> int:
    """How many fields of ``size`` a NormNonLinearity acts on (its biases, one per field, run in that order).
    escnn 1.0.11: ``_nfields``, a dict size -> count."""
    return int(module._nfields[size])


def contiguous(module: Any, key: int | str) -> bool:
    """Whether the fields of one group sit side by side, so that escnn stores their positions as a [start, end)
    pair instead of every index. escnn 1.0.11: ``_contiguous``, keyed by field size (NormNonLinearity,
    NormBatchNorm) or by representation name (IIDBatchNorm1d)."""
    return bool(module._contiguous[key])


def representation_groups(module: Any) -> list[tuple[str, int, bool]]:
    """(representation name, size, whether it holds trivial irreps) of each group of fields of an
    IIDBatchNorm1d, in escnn's order. escnn 1.0.11 _IIDBatchNorm: ``_sizes`` (name, size) and
    ``_has_trivial`` (name -> bool)."""
    return [(str(name), int(size), bool(module._has_trivial[name])) for name, size in module._sizes]


def escaped_name(name: str) -> str:
    """A representation's name as it appears in the names of an IIDBatchNorm1d's buffers and parameters
    (``<escaped>_weight``, ...): a dot would read as a submodule path. escnn 1.0.11:
    ``_IIDBatchNorm._escape_name``, which replaces "." by "^"."""
    return name.replace(".", "^")


def basis_blocks(expansion: Any) -> list[tuple[Any, Any, Any]]:
    """(input representation, output representation, the block's expansion module, whose ``sampled_basis``
    buffer holds the sampled basis) of every block of a BlocksBasisExpansion. escnn 1.0.11:
    ``_in_reprs``, ``_out_reprs``, ``_representations_pairs`` (pairs of names), and one submodule per pair
    named "block_expansion_" followed by the tuple ``_escape_pair(pair)`` as Python prints it."""
    ins = {r.name: r for r in expansion._in_reprs}
    outs = {r.name: r for r in expansion._out_reprs}
    return [
        (ins[pair[0]], outs[pair[1]], getattr(expansion, f"block_expansion_{expansion._escape_pair(pair)}"))
        for pair in expansion._representations_pairs
    ]


def set_sampled_activation(module: Any, function: torch.nn.Module) -> None:
    """Make a FourierPointwise or QuotientFourierPointwise apply ``function`` to its grid samples (escnn
    accepts only the names of its own functions). escnn 1.0.11: the module calls ``_function``."""
    module._function = function


def attach_kernel(module: Any, kernel: Any) -> None:
    """Keep the normalized kernel of a Fourier module's sampling on the module itself, where every later
    resampling finds it (an attribute of eqdesign's on an escnn object, named so that escnn never uses it)."""
    module._eqd_kernel = kernel


def attached_kernel(module: Any) -> Any:
    """The kernel ``attach_kernel`` kept on a Fourier module."""
    return module._eqd_kernel
