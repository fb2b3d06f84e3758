"""``load`` and ``verify``: a saved model (NAME.pt, NAME.pt2 or NAME.onnx) with its extra files, and the
re-check of its equivariance with torch alone (onnxruntime runs NAME.onnx, which is also compared with the
NAME.pt2 beside it).

Before anything is measured, the model must be the one built, and the extras must agree with each other:
provenance holds the SHA-256 of each artifact's weights and code, of every other extra and of the spec, the
representation matrices must be finite and orthogonal with the sizes the layout gives, and the tolerance
must be the one the build judged by. A mismatch is a failure (exit 1 of `eqdesign verify`).

Loading a TorchScript or torch.export file runs code stored in it: load only files you trust, or inside a
sandbox.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..numerics.tolerances import exact_tolerance
from ..results import Verification
from .errors import EqdesignError, require

if TYPE_CHECKING:
    import torch

#: how far from orthogonal a stored representation matrix may be (float32 round-trips through JSON)
ORTHOGONALITY = 1e-4
#: the extras every artifact holds as JSON
_JSON_EXTRAS = ("report.json", "provenance.json", "layout.json", "representations.json")


class LoadError(EqdesignError, OSError):
    """A file that cannot be read as an eqdesign model (missing, not a regular file, not an artifact);
    ``reason`` says why."""

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, f"cannot read it as an eqdesign model: {reason}"
        super().__init__(f"{path}: {self.reason}")


@dataclass(frozen=True)
class Loaded:
    """A saved model and what its build stored beside it. ``module`` runs it (float32, ``(batch,
    input_dim) -> (batch, output_dim)``); ``layout`` names the fields of its input and output columns;
    ``representations`` holds the input and output representation matrices of the group elements its
    build tested (``input`` and ``output``: tensors of shape (elements, dim, dim)), with their names."""

    path: str
    module: Any
    extras: dict[str, str]
    fingerprint: dict[str, str]

    def _json(self, name: str) -> Any:
        return json.loads(self.extras.get(name) or "null")

    @property
    def layout(self) -> dict[str, Any]:
        return dict(self._json("layout.json") or {})

    @property
    def report(self) -> dict[str, Any]:
        return dict(self._json("report.json") or {})

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self._json("provenance.json") or {})

    @property
    def spec_text(self) -> str:
        return self.extras.get("spec.yaml", "")

    @property
    def representations(self) -> dict[str, Any]:
        import torch

        reps = dict(self._json("representations.json") or {})
        return {**reps, "input": torch.tensor(reps["input"]), "output": torch.tensor(reps["output"])}

    def __repr__(self) -> str:
        return f"Loaded(path={self.path!r}, input_dim={self.layout.get('input_dim')}, output_dim={self.layout.get('output_dim')})"


def load(path: str | os.PathLike[str]) -> Loaded:
    """A NAME.pt (TorchScript: trainable), NAME.pt2 (torch.export) or NAME.onnx (run by onnxruntime) file
    written by `eqdesign build` or `eqdesign export`, with its extra files; raises :class:`LoadError` for a
    file that is not one.

    >>> folder = tempfile.mkdtemp()
    >>> _ = build("specs/so2-gated.yaml", influence=False).save(folder)
    >>> loaded = load(f"{folder}/so2-gated.pt2")
    >>> [(field["field"], field["slice"]) for field in loaded.layout["output"]]
    [('0', [0, 1]), ('vector', [1, 3])]
    >>> tuple(loaded.representations["output"].shape)  # (elements tested, output_dim, output_dim)
    (40, 3, 3)
    """
    require("verify")  # torch loads the file
    name = os.fspath(path)
    if not os.path.isfile(name):  # torch would block on a FIFO, in C++, beyond the reach of signals
        raise LoadError(name, "no such file" if not os.path.lexists(name) else "not a regular file")
    if name.endswith(".onnx"):
        _require_onnx(name)
    try:
        from ..export.artifacts import open_artifact

        artifact = open_artifact(name)
        extras = {k: v.decode() if isinstance(v, bytes) else v for k, v in artifact.extras.items()}
        loaded = Loaded(name, artifact.module, extras, artifact.fingerprint)
        for key in _JSON_EXTRAS:
            loaded._json(key)
    except Exception as err:  # noqa: BLE001 - any unreadable or malformed file is "cannot read"
        raise LoadError(name, f"{type(err).__name__}: {err}") from None
    return loaded


def _require_onnx(name: str) -> None:
    from ..export.onnxfile import missing
    from ..extras import onnx_hint

    if missing():
        raise LoadError(name, onnx_hint(missing()))


def verify(model: str | os.PathLike[str] | Loaded, *, samples: int = 16, seed: int = 0) -> Verification:
    """Re-check a saved model as `eqdesign verify` does: its weights and code are the ones built, its extras
    agree, and it is equivariant within the tolerance its build judged by, on the stored matrices. The
    verdict is ``.ok``, with ``.message``; a file that cannot be read gives ``readable=False``.

    >>> folder = tempfile.mkdtemp()
    >>> _ = build("specs/so2-gated.yaml", influence=False).save(folder)
    >>> verify(f"{folder}/so2-gated.pt").ok
    True
    >>> verify(f"{folder}/missing.pt").message
    'cannot read it as an eqdesign model: no such file'
    """
    if not isinstance(model, Loaded):
        try:
            model = load(model)
        except LoadError as err:
            return Verification(err.path, False, None, None, 0, "", err.reason, readable=False)
    parsed = {k: model._json(k) for k in _JSON_EXTRAS}
    edited, problems = _binding(model.path, parsed["provenance.json"], model.fingerprint), _consistency(model.extras, parsed)
    if edited or problems:
        parts = ([f"the model is not the one built: {'; '.join(edited)}"] if edited else []) + (
            [f"the artifact's extras do not agree: {'; '.join(problems)}"] if problems else []
        )
        return Verification(model.path, False, None, None, 0, "", "; ".join(parts))
    verdict = _verify(model.path, model.module, parsed, samples, seed)
    return _with_agreement(verdict, model, seed) if model.path.endswith(".onnx") and verdict.ok else verdict


def _with_agreement(verdict: Verification, model: Loaded, seed: int) -> Verification:
    """An ONNX file's verdict, with its agreement with the NAME.pt2 beside it (the program it was exported
    from) on random inputs; where there is none, the verdict says it was not measured."""
    import dataclasses

    import torch

    from ..numerics.tolerances import AGREEMENT

    sibling = model.path[: -len(".onnx")] + ".pt2"
    reference = _sibling(sibling, model)
    if isinstance(reference, str):
        return dataclasses.replace(
            verdict, message=f"{verdict.message}; agreement with {os.path.basename(sibling)} not measured ({reference})"
        )
    x = torch.randn(64, int(model.layout["input_dim"]), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        want, got = reference.module(x), model.module(x)
    rel = float((got - want).norm() / want.norm().clamp_min(1e-30))
    if not rel <= AGREEMENT:  # written so that NaN fails too
        return dataclasses.replace(
            verdict,
            ok=False,
            message=f"onnxruntime's outputs differ from {os.path.basename(sibling)}'s by {rel:.1e} relative (> {AGREEMENT:.0e})",
        )
    return dataclasses.replace(verdict, message=f"{verdict.message}; agrees with {os.path.basename(sibling)} to {rel:.1e} relative")


def _sibling(path: str, model: Loaded) -> Loaded | str:
    """The NAME.pt2 written with an ONNX file (by the same build or export: the same weights exported), or
    why there is none to compare with."""
    if not os.path.isfile(path):
        return "no such file"
    try:
        reference = load(path)
    except LoadError as err:
        return err.reason
    mine, theirs = (m.provenance.get("exported", {}).get("weights_sha256") for m in (model, reference))
    if mine != theirs or reference.provenance.get("spec_sha256") != model.provenance.get("spec_sha256"):
        return "it holds the weights of another build or export"
    return reference


#: what each fingerprint covers, as a message names it
_PARTS = {"weights": "weights (its state-dict tensors)", "code": "code (its program, modules and their attributes)"}


def _binding(path: str, prov: Any, fingerprint: dict[str, str]) -> list[str]:
    """How the artifact's weights and code differ from those its build recorded in provenance.json."""
    from ..export.artifacts import FINGERPRINTS, artifact_kind

    kind = artifact_kind(path)
    recorded = (prov.get(FINGERPRINTS) if isinstance(prov, dict) else None) or {}
    mine = recorded.get(kind) if isinstance(recorded, dict) else None
    name = os.path.basename(path)
    if not isinstance(mine, dict):
        return [f"provenance.json holds no hashes of the weights and code of {name} (not written by this eqdesign, or edited): rebuild it"]
    return [
        f"the {_PARTS[part]} of {name} were changed after the build (their SHA-256 differs from provenance.json)"
        for part in ("weights", "code")
        if mine.get(part) != fingerprint[part]
    ]


def _consistency(extras: dict[str, str], parsed: dict[str, Any]) -> list[str]:
    from ..export.artifacts import HASHED_EXTRAS, OPTIONAL_EXTRAS, sha256

    prov, reps, layout, report = (parsed[k] or {} for k in ("provenance.json", "representations.json", "layout.json", "report.json"))
    hashes = prov.get("extras_sha256") if isinstance(prov, dict) else None
    if not isinstance(hashes, dict):
        return ["provenance.json holds no hashes of the other extras (not written by this eqdesign, or edited)"]
    problems = [
        f"{name} was changed after the build (its SHA-256 differs from provenance.json)"
        for name in HASHED_EXTRAS
        if hashes.get(name) != sha256(extras[name]) and not (name in OPTIONAL_EXTRAS and name not in hashes and not extras[name])
    ]
    if prov.get("spec_sha256") != sha256(extras["spec.yaml"]):
        problems.append("spec.yaml does not match the spec hash in provenance.json")
    return problems + _shape_problems(reps, layout) + _tolerance_problems(reps, report)


def _shape_problems(reps: dict[str, Any], layout: dict[str, Any]) -> list[str]:
    import torch

    try:
        rin, rout = torch.tensor(reps["input"], dtype=torch.float64), torch.tensor(reps["output"], dtype=torch.float64)
    except (KeyError, TypeError, ValueError) as err:
        return [f"representations.json has no usable matrices ({err})"]
    problems = []
    for label, rho, dim in (("input", rin, layout.get("input_dim")), ("output", rout, layout.get("output_dim"))):
        if not isinstance(dim, int) or rho.ndim != 3 or rho.shape[0] == 0 or rho.shape[1:] != (dim, dim):
            problems.append(f"the {label} representation has shape {tuple(rho.shape)}, the layout says {dim}x{dim} matrices")
        elif not bool(torch.isfinite(rho).all()):
            problems.append(f"the {label} representation holds NaN or infinite entries")
        elif float((rho @ rho.transpose(1, 2) - torch.eye(dim, dtype=rho.dtype)).abs().max()) > ORTHOGONALITY:
            problems.append(f"the {label} representation matrices are not orthogonal")
    return problems


def _tolerance_problems(reps: dict[str, Any], report: dict[str, Any]) -> list[str]:
    tol, exact = reps.get("tolerance"), reps.get("exact")
    spec_tol = (report.get("tests") or {}).get("tolerance")
    expected = exact_tolerance("float32") if exact is True else spec_tol  # as build's artifact_tolerance chose
    if not isinstance(tol, (int, float)) or not math.isfinite(tol) or tol <= 0:
        return [f"the stored tolerance {tol!r} is not a positive number"]
    if expected is None or not math.isclose(tol, expected, rel_tol=1e-12):
        return [f"the stored tolerance {tol:g} is not the one the build judged by ({expected})"]
    return []


def _inputs(parsed: dict[str, Any], dim: int, samples: int, seed: int) -> torch.Tensor:
    """Fresh random inputs for an exact model (it must be equivariant on any); for an approximate one, the
    inputs its build measured it on, since its tolerance is a bound measured there, not one for all inputs."""
    import torch

    from ..numerics.suite import probe_input

    build_seed = (parsed["report.json"].get("tests") or {}).get("seed")
    if parsed["representations.json"].get("exact") is False and isinstance(build_seed, int) and not isinstance(build_seed, bool):
        return probe_input(build_seed, 0, dim).float()
    return torch.randn(samples, dim, generator=torch.Generator().manual_seed(seed))


def _verify(path: str, module: Any, parsed: dict[str, Any], samples: int, seed: int) -> Verification:
    import torch

    from ..numerics.equivariance import Probe, measure

    reps = parsed["representations.json"]
    scales = (parsed["report.json"].get("tests") or {}).get("scales") or []
    rin, rout = torch.tensor(reps["input"], dtype=torch.float32), torch.tensor(reps["output"], dtype=torch.float32)
    r = measure(Probe("model", module, rin, rout), _inputs(parsed, rin.shape[1], samples, seed), scales)
    tol = float(reps["tolerance"])
    element = reps["elements"][r.worst_element] if reps.get("elements") else ""
    if not r.finite:
        return Verification(
            path,
            False,
            None,
            tol,
            rin.shape[0],
            element,
            "the equivariance error is not a finite number (NaN or infinite outputs, or no valid input scale)",
        )
    ok = r.passes(tol)
    verdict = "equivariant within tolerance" if ok else "equivariance error above tolerance"
    return Verification(
        path, ok, r.max_rel, tol, rin.shape[0], element, f"{verdict}: {r.max_rel:.2e} (tolerance {tol:.0e}) over {rin.shape[0]} elements"
    )
