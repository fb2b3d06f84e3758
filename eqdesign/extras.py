"""What the check-only install (`pip install eqdesign`) leaves out. The commands that build or load models
need the `build` extra (torch, escnn); run without it, they say so with the commands that install it,
instead of failing on an import deep inside."""

from __future__ import annotations

import importlib.util
import shlex
import sys

#: what each command imports beyond the check-only install (verify loads models with torch alone)
NEEDS: dict[str, tuple[str, ...]] = {
    "build": ("torch", "escnn"),
    "cache warm": ("torch", "escnn"),
    "design --measure": ("torch", "escnn"),
    "design --data": ("torch", "escnn"),
    "train": ("torch", "escnn"),
    "verify": ("torch",),
    "export": ("torch",),
}
#: what writing and reading NAME.onnx imports (optional: without them build writes no NAME.onnx)
ONNX_MODULES = ("onnx", "onnxscript", "onnxruntime")


def onnx_missing() -> list[str]:
    """The ONNX exporter's modules that are not installed here."""
    return [name for name in ONNX_MODULES if importlib.util.find_spec(name) is None]


#: torch goes in first, from the CPU index, so that the build extra does not pull a multi-GB CUDA build
TORCH_INDEX_URL = "https://download.pytorch.org/whl/cpu"


def missing_extra(command: str) -> str | None:
    """None where ``command`` can run here; otherwise what it lacks and the commands that install it."""
    needed = NEEDS[command]
    absent = [name for name in needed if importlib.util.find_spec(name) is None]
    if not absent:
        return None
    return (
        f"`eqdesign {command}` needs {' and '.join(needed)}, which the check-only install leaves out "
        f"(not installed: {', '.join(absent)}); {_install_hint(absent)}"
    )


def _install_hint(absent: list[str]) -> str:
    pip = f"{shlex.quote(sys.executable)} -m pip install"  # this interpreter's pip: the environment eqdesign runs in
    steps = [f"{pip} torch --index-url {TORCH_INDEX_URL}"] if "torch" in absent else []
    if "escnn" not in absent:
        return f"install it with: {steps[0]} (or the CUDA build you want)"
    if sys.version_info >= (3, 13):  # lie_learn, which escnn imports, declares numpy<2: no wheel for 3.13
        return "the build extra needs numpy<2 (escnn's lie_learn), which has no wheel for this Python: install it under Python 3.11 or 3.12"
    steps.append(f"{pip} {shlex.quote('eqdesign[build]')}")
    return (
        f"install the build extra with: {' && '.join(steps)} "
        "(escnn's py3nj compiles with gfortran: apt-get install gfortran first; in a clone, bash scripts/bootstrap.sh does it all)"
    )


def onnx_hint(absent: list[str]) -> str:
    """What writing and reading NAME.onnx lacks here (``absent``), and the command that adds it."""
    pip = f"{shlex.quote(sys.executable)} -m pip install"
    return f"the ONNX exporter and onnxruntime are not installed ({', '.join(absent)}); add them with: {pip} onnx onnxscript onnxruntime {shlex.quote('numpy<2')}"
