"""``export_model``: a trained NAME.pt (its weights changed by fine-tuning) re-verified and written as NAME.pt2 or
NAME.onnx, with fresh provenance that `verify` passes.

`verify` refuses a fine-tuned NAME.pt: its weights are no longer the ones built. Its code, its extras and
the representation matrices its build stored are unchanged, and they are what equivariance is judged by. So
export checks that the code and the extras are the build's, measures the equivariance of the new weights on
the stored matrices, within the build's tolerance, and only then converts the TorchScript module
(``export.artifacts.program_of_script``) and writes the new file, whose provenance.json keeps the build's
record and adds what was re-measured (``exported``).
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..results import ExportOutcome, Verification
from .errors import EqdesignError
from .loading import _JSON_EXTRAS, Loaded, LoadError, _binding, _consistency, _verify, load, verify

if TYPE_CHECKING:
    import torch

#: what ``export`` writes
TARGETS = ("pt2", "onnx")


class ExportError(EqdesignError):
    """A model ``export_model`` refused: ``outcome`` says why (a model that is not equivariant with its new
    weights, edited code or extras, an output that cannot be written)."""

    def __init__(self, outcome: ExportOutcome) -> None:
        self.outcome = outcome
        super().__init__(f"{outcome.source}: {outcome.message}")


def export_model(
    model: str | os.PathLike[str] | Loaded,
    *,
    to: str = "onnx",
    output: str | os.PathLike[str] | None = None,
    build: str | os.PathLike[str] | None = None,
) -> Path:
    """Re-verify a trained NAME.pt and write it as NAME.pt2 (``to="pt2"``) or NAME.onnx (``to="onnx"``), beside
    it unless ``output`` names the file; returns the file written, which `verify` passes. ``model`` is a path,
    or a :class:`Loaded` NAME.pt whose ``module`` was trained in memory. ``torch.jit.save`` drops the extra
    files unless it is given them: for a file saved so, ``build`` names the artifact it was trained from
    (NAME.pt, NAME.pt2 or NAME.onnx), whose extras then apply. Raises :class:`ExportError` where the model is
    refused, :class:`LoadError` where it cannot be read.

    >>> folder = tempfile.mkdtemp()
    >>> _ = build("specs/so2-gated.yaml", influence=False).save(folder)
    >>> loaded = load(f"{folder}/so2-gated.pt")
    >>> optimizer = torch.optim.SGD(loaded.module.parameters(), lr=0.01)
    >>> for _ in range(3):  # fine-tune: every update keeps the model equivariant
    ...     optimizer.zero_grad()
    ...     loaded.module(torch.randn(32, 3)).square().sum().backward()
    ...     optimizer.step()
    >>> written = export_model(loaded, to="pt2", output=f"{folder}/tuned.pt2")
    >>> written.name, verify(written).ok
    ('tuned.pt2', True)
    """
    loaded = model if isinstance(model, Loaded) else load(model)
    outcome = export_outcome(loaded, to, None if output is None else os.fspath(output), None if build is None else load(build))
    if not outcome.ok or outcome.target is None:
        raise ExportError(outcome)
    return Path(outcome.target)


def export_outcome(model: str | os.PathLike[str] | Loaded, to: str, output: str | None, build: str | Loaded | None = None) -> ExportOutcome:
    """``export_model``'s verdict, as `eqdesign export` reports it: nothing raised for a model refused. ``build``:
    the artifact whose extras apply where ``model`` carries none."""
    source = model.path if isinstance(model, Loaded) else os.fspath(model)
    if to not in TARGETS:
        return ExportOutcome(source, None, False, f"cannot export to {to!r}: choose one of {', '.join(TARGETS)}", readable=False)
    target = output if output is not None else str(Path(source).with_suffix(f".{to}"))
    if not target.endswith(f".{to}"):
        return ExportOutcome(source, None, False, f"the output {target} must end in .{to} (the format --to names)", readable=False)
    try:
        model = model if isinstance(model, Loaded) else load(source)
        reference = build if build is None or isinstance(build, Loaded) else load(build)
    except LoadError as err:
        return ExportOutcome(err.path, None, False, err.reason, readable=False)
    if reference is not None and not model.extras.get("provenance.json"):
        model = Loaded(model.path, model.module, reference.extras, model.fingerprint)
    return _checked(model, to, target)


def _checked(model: Loaded, to: str, target: str) -> ExportOutcome:
    """The model re-verified with its weights as they are now, then written."""
    refusal = _refusal(model, to)
    if refusal is not None:
        return refusal
    parsed = {k: model._json(k) for k in _JSON_EXTRAS}
    verdict = _verify(model.path, model.module, parsed, 16, 0)
    if not verdict.ok:
        return ExportOutcome(model.path, None, False, f"not exported: with its weights as they are now, {verdict.message}", verdict.max_rel)
    try:
        _write(model, to, target, verdict)
    except OSError as err:
        return ExportOutcome(model.path, None, False, f"cannot write {target}: {err.strerror or err}", verdict.max_rel, readable=False)
    written = verify(target)
    return ExportOutcome(model.path, target, written.ok, f"wrote {target}: {written.message}", verdict.max_rel)


def _refusal(model: Loaded, to: str) -> ExportOutcome | None:
    """Why ``model`` cannot be exported (None where it can): not a TorchScript eqdesign model, its code or
    extras changed since the build, or the ONNX exporter missing."""
    from ..export.onnxfile import missing
    from ..extras import onnx_hint

    source = model.path
    if not model.extras.get("provenance.json") or not model.extras.get("representations.json"):
        reason = (
            "cannot read it as an eqdesign model: it carries no extra files (provenance.json, representations.json); "
            "torch.jit.save drops them unless given _extra_files: name the artifact it was trained from with --build NAME.pt"
        )
        return ExportOutcome(source, None, False, reason, readable=False)
    if not hasattr(model.module, "save") or not hasattr(model.module, "graph"):
        return ExportOutcome(
            source, None, False, "export converts a trainable NAME.pt (TorchScript); build writes NAME.pt2 and NAME.onnx", readable=False
        )
    if to == "onnx" and missing():
        return ExportOutcome(source, None, False, onnx_hint(missing()), readable=False)
    parsed = {k: model._json(k) for k in _JSON_EXTRAS}
    code = [p for p in _binding(source, parsed["provenance.json"], _fingerprint(model.module)) if "weights" not in p]
    problems = code + _consistency(model.extras, parsed)
    if problems:
        return ExportOutcome(source, None, False, f"not exported: {'; '.join(problems)} (export re-verifies new weights, nothing else)")
    return None


def _fingerprint(module: Any) -> dict[str, str]:
    """The fingerprint of a TorchScript module as it is now (trained in memory, or as loaded)."""
    import torch

    from ..export.artifacts import read_artifact

    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    return read_artifact(buffer.getvalue(), exported=False).fingerprint


def _write(model: Loaded, to: str, target: str, verdict: Verification) -> None:
    """The program of ``model`` written to ``target`` atomically, its provenance renewed."""
    from ..atomic import write_atomically
    from ..export.artifacts import artifact_files, program_of_script

    program = program_of_script(model.module, int(model.layout["input_dim"]))
    _check_program(model.module, program, int(model.layout["input_dim"]))
    extras = dict(model.extras, **{"provenance.json": json.dumps(_provenance(model, verdict), indent=2)})
    path = Path(target)
    with warnings.catch_warnings():  # torch.export's notes on CPU-only weights are not the user's concern
        warnings.simplefilter("ignore")
        files = artifact_files(path.name[: -len(f".{to}")], {to: program}, extras)
    write_atomically(path.parent if str(path.parent) else Path("."), files)


def _check_program(scripted: Any, program: torch.export.ExportedProgram, input_dim: int) -> None:
    """The converted program computes what the TorchScript module does (a guard on torch's converter)."""
    import torch

    from ..numerics.tolerances import AGREEMENT

    x = torch.randn(5, input_dim, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, got = scripted(x), program.module()(x)
    rel = float((got - want).norm() / want.norm().clamp_min(1e-30))
    if not rel <= AGREEMENT:
        raise EqdesignError(f"the converted program differs from the TorchScript module by {rel:.1e} relative: please report this")


def _provenance(model: Loaded, verdict: Verification) -> dict[str, Any]:
    """The build's provenance, plus what export re-measured (its own fingerprints are added on writing)."""
    import torch

    from .. import __version__
    from .building import _created

    return dict(
        model.provenance,
        exported={
            "from": os.path.basename(model.path),
            "weights_sha256": _fingerprint(model.module)["weights"],
            "max_rel": verdict.max_rel,
            "tolerance": verdict.tolerance,
            "eqdesign": __version__,
            "torch": torch.__version__,
            "created": _created(),
        },
    )
