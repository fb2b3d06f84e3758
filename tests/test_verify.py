"""`eqdesign verify` against hostile artifacts: no false pass. The artifacts are made with torch alone (a
model that is exactly equivariant under the rotations of a square, written the way `build` writes)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from conftest import run_cli

torch = pytest.importorskip("torch")

from eqdesign.export.artifacts import load_artifact, representations_payload, save_artifacts, with_hashes  # noqa: E402
from eqdesign.export.modules import CompiledModel  # noqa: E402


class Rotate(torch.nn.Module):
    """x -> 2x: commutes with every rotation. ``poison`` makes it output NaN."""

    def __init__(self, poison: float = 0.0) -> None:
        super().__init__()
        self.input_dim = 2
        self.poison = poison

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x + self.poison * x


def _rotations() -> torch.Tensor:
    angles = [k * math.pi / 2 for k in range(4)]
    return torch.tensor([[[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]] for a in angles])


def _extras(reps: torch.Tensor | None = None, tolerance: float = 1e-5, scales: list | None = None) -> dict[str, str]:
    reps = _rotations() if reps is None else reps
    report = {"tests": {"tolerance": 0.05, "scales": [0.1, 1.0] if scales is None else scales}}
    extras = {
        "spec.yaml": "name: square\n",
        "report.json": json.dumps(report),
        "layout.json": json.dumps({"input_dim": 2, "output_dim": 2}),
        "representations.json": representations_payload([f"r{k}" for k in range(4)], reps, reps, tolerance, True),
    }
    return with_hashes(extras, {"spec_sha256": __import__("hashlib").sha256(b"name: square\n").hexdigest()})


def _write(tmp_path: Path, name: str, module: torch.nn.Module, extras: dict[str, str]) -> Path:
    save_artifacts(tmp_path, name, CompiledModel([module], 2, 2), extras, {})
    return tmp_path / f"{name}.pt"


def _verify(*paths: Path) -> tuple[int, list[dict]]:
    """In-process (fast); the CLI's JSON is the same document (see the last test)."""
    from eqdesign.commands.verify import verify_paths
    from eqdesign.report.jsonfmt import verify_json

    batch = verify_paths([str(p) for p in paths])
    return int(batch.exit_code), verify_json(batch)["models"]


def _tamper(path: Path, name: str, edit) -> None:
    """Rewrite one extra of a .pt without touching the others (as an attacker would)."""
    module, extras = load_artifact(path)
    extras = {k: v.decode() if isinstance(v, bytes) else v for k, v in extras.items()}
    extras[name] = edit(extras[name])
    torch.jit.save(module, str(path), _extra_files=extras)


def test_a_genuine_artifact_passes_as_pt_and_pt2(tmp_path: Path):
    pt = _write(tmp_path, "good", Rotate(), _extras())
    code, models = _verify(pt, pt.with_suffix(".pt2"))
    assert code == 0 and [m["ok"] for m in models] == [True, True]


def test_identity_representations_fail(tmp_path: Path):
    pt = _write(tmp_path, "m", Rotate(), _extras())
    _tamper(
        pt,
        "representations.json",
        lambda t: json.dumps(dict(json.loads(t), input=[torch.eye(2).tolist()] * 4, output=[torch.eye(2).tolist()] * 4)),
    )
    code, (model,) = _verify(pt)
    assert code == 1 and not model["ok"] and "representations.json was changed" in model["message"]


def test_a_raised_tolerance_fails_even_with_fresh_hashes(tmp_path: Path):
    pt = _write(tmp_path, "m", Rotate(), _extras(tolerance=1e9))
    code, (model,) = _verify(pt)
    assert code == 1 and "not the one the build judged by" in model["message"]


@pytest.mark.parametrize("scales", [[], [float("nan")], [float("inf")]])
def test_nan_or_empty_scales_fail(tmp_path: Path, scales: list):
    pt = _write(tmp_path, "m", Rotate(), _extras(scales=scales))
    code, (model,) = _verify(pt)
    assert code == 1 and not model["ok"] and "not a finite number" in model["message"]


def test_a_model_that_outputs_nan_fails(tmp_path: Path):
    pt = _write(tmp_path, "m", Rotate(poison=float("nan")), _extras())
    code, (model,) = _verify(pt)
    assert code == 1 and not model["ok"] and model["max_rel"] is None


def test_nan_representations_fail(tmp_path: Path):
    reps = _rotations().clone()
    reps[1, 0, 0] = float("nan")
    pt = _write(tmp_path, "m", Rotate(), _extras(reps=reps))
    code, (model,) = _verify(pt)
    assert code == 1 and "NaN" in model["message"]


def test_non_orthogonal_representations_fail(tmp_path: Path):
    pt = _write(tmp_path, "m", Rotate(), _extras(reps=2 * _rotations()))
    code, (model,) = _verify(pt)
    assert code == 1 and "not orthogonal" in model["message"]


def test_unreadable_files_are_exit_2_and_do_not_hide_the_others(tmp_path: Path):
    good = _write(tmp_path, "good", Rotate(), _extras())
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a zip archive")
    malformed = _write(tmp_path, "malformed", Rotate(), _extras())
    _tamper(malformed, "report.json", lambda t: "{not json")
    proc = run_cli("verify", *map(str, (garbage, good, tmp_path / "missing.pt", malformed)), "--format", "json")
    assert "Traceback" not in proc.stderr
    code, models = proc.returncode, json.loads(proc.stdout)["models"]
    assert code == 2
    assert [m["ok"] for m in models] == [False, True, False, False]
    assert [m["readable"] for m in models] == [False, True, False, False]


# -- the model itself: its weights and its code are bound to provenance.json ----------------------------------


class Scale(torch.nn.Module):
    """x -> w * gain * x: commutes with every rotation whatever the weight w; ``gain`` is a plain attribute
    (code, not a weight) that forward reads."""

    def __init__(self) -> None:
        super().__init__()
        self.input_dim = 2
        self.weight = torch.nn.Parameter(torch.tensor(2.0))
        self.gain = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * self.gain * x


def _plain(extras: dict) -> dict[str, str]:
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in extras.items()}


def _resave_pt(path: Path, dst: Path, edit) -> Path:
    module, extras = load_artifact(path)
    with torch.no_grad():
        edit(module)
    torch.jit.save(module, str(dst), _extra_files=_plain(extras))
    return dst


def _resave_pt2(path: Path, dst: Path, edit) -> Path:
    extras = dict.fromkeys(("spec.yaml", "report.json", "provenance.json", "layout.json", "representations.json"), "")
    program = torch.export.load(str(path), extra_files=extras)
    with torch.no_grad():
        edit(program)
    torch.export.save(program, str(dst), extra_files=_plain(extras))
    return dst


def _zero_parameters(module) -> None:
    for p in module.parameters():
        p.zero_()


def _zero_state(program) -> None:
    for t in program.state_dict.values():
        t.zero_()


def _gain_off(module) -> None:
    getattr(module.layers, "0").gain = 0.0  # an attribute of the TorchScript module: the weights stay as they were


def _multiplications_to_additions(program) -> None:
    """x * w -> x + w in the exported graph (an edit of its code; the weights stay as they were)."""
    edited = 0
    for node in program.graph.nodes:
        if node.target == torch.ops.aten.mul.Tensor:
            node.target = torch.ops.aten.add.Tensor
            edited += 1
    assert edited
    program.graph_module.recompile()


@pytest.mark.parametrize(
    "suffix, edit, part",
    [
        (".pt", _zero_parameters, "weights"),
        (".pt", _gain_off, "code"),
        (".pt2", _zero_state, "weights"),
        (".pt2", _multiplications_to_additions, "code"),
    ],
)
def test_an_edited_model_fails_and_says_what_was_edited(tmp_path: Path, suffix: str, edit, part: str):
    """The issue's case: every parameter zeroed, the extras kept byte for byte, verify said "equivariant
    within tolerance: 0.00e+00" (the zero map commutes with everything). Now the weights (or the code) no
    longer match the fingerprint the build recorded, whichever artifact was edited."""
    pt = _write(tmp_path, "m", Scale(), _extras())
    resave = _resave_pt if suffix == ".pt" else _resave_pt2
    edited = resave(pt.with_suffix(suffix), tmp_path / f"edited{suffix}", edit)
    kept = resave(pt.with_suffix(suffix), tmp_path / f"kept{suffix}", lambda m: None)  # saved again, unedited
    code, (bad, good) = _verify(edited, kept)
    assert code == 1 and not bad["ok"] and good["ok"], (bad, good)
    assert "not the one built" in bad["message"] and f"edited{suffix}" in bad["message"]
    other = {"weights": "code", "code": "weights"}[part]
    assert f"the {part} (" in bad["message"] and f"the {other} (" not in bad["message"], bad["message"]


def test_an_artifact_without_fingerprints_fails(tmp_path: Path):
    """An artifact whose provenance.json holds no fingerprint (an older build, or one stripped) is not
    vouched for."""
    pt = _write(tmp_path, "m", Scale(), _extras())

    def strip(text: str) -> str:
        provenance = json.loads(text)
        del provenance["artifacts_sha256"]
        return json.dumps(provenance)

    _tamper(pt, "provenance.json", strip)
    code, (model,) = _verify(pt)
    assert code == 1 and "holds no hashes of the weights and code of m.pt" in model["message"]


def _rezipped(data: bytes, edit) -> bytes:
    """The archive with every entry's bytes passed through edit(name, bytes)."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, edit(info.filename, src.read(info.filename)))
    return out.getvalue()


def test_the_code_fingerprint_ignores_debug_records_but_not_the_program(tmp_path: Path):
    """Stack traces name the build machine's source files; they do not change what runs, so two machines'
    builds of one model agree. The operators of the graph do."""
    from eqdesign.export.fingerprint import code_sha256

    pt = _write(tmp_path, "m", Scale(), _extras())
    data = pt.with_suffix(".pt2").read_bytes()

    here = str(Path(__import__("eqdesign").__file__).parent).encode()  # where this machine keeps eqdesign
    assert here in data

    def moved(name: str, content: bytes) -> bytes:
        return content.replace(here, b"/elsewhere/eqdesign") if name.endswith("models/model.json") else content

    def program(name: str, content: bytes) -> bytes:
        return content.replace(b"aten.mul.Tensor", b"aten.add.Tensor") if name.endswith("models/model.json") else content

    original = code_sha256(data, torchscript=False)
    assert b"aten.mul.Tensor" in data
    assert code_sha256(_rezipped(data, moved), torchscript=False) == original
    assert code_sha256(_rezipped(data, program), torchscript=False) != original
