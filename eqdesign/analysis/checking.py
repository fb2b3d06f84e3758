"""The check of one spec: read, resolve, analyse, apply the rules. Pure (never torch or escnn); `check`,
`build`, `init` and `design` all judge specs through here, so they never disagree."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..findings import Finding
from ..spec.load import LoadedSpec, load_spec, load_text
from .checked import SpecResult
from .config import DEFAULT, Config
from .dataflow import analyse
from .resolve import resolve
from .rules import run_checks
from .suppress import apply_rules, suppressed

__all__ = ["SpecResult", "check_file", "check_loaded", "check_text"]


def check_file(path: str | Path, config: Config = DEFAULT) -> SpecResult:
    """One spec file under one configuration."""
    return _checked(SpecResult(str(path), disabled=config.disabled, strict=config.strict), config, lambda: load_spec(path, config.tests))


def check_text(text: str, name: str, config: Config = DEFAULT) -> SpecResult:
    """A spec given as text; ``name`` stands for its file in the findings' locations."""
    result = SpecResult(name, disabled=config.disabled, strict=config.strict)
    return _checked(result, config, lambda: load_text(text, name, config.tests))


def check_loaded(loaded: LoadedSpec, config: Config = DEFAULT) -> SpecResult:
    """A spec already read (the public API's Spec)."""
    return _checked(SpecResult(loaded.file, disabled=config.disabled, strict=config.strict), config, lambda: loaded)


def _checked(result: SpecResult, config: Config, read: Callable[[], LoadedSpec | list[Finding]]) -> SpecResult:
    try:
        _check_into(result, read())
        if result.loaded is not None:
            result.findings = apply_rules(result.loaded, config, result.findings)
            result.disabled |= suppressed(result.loaded)
    except Exception as err:  # noqa: BLE001 - "cannot continue" is reported, never shown as a traceback
        if os.environ.get("EQDESIGN_DEBUG"):
            raise
        result.internal_error = f"{type(err).__name__}: {err}"
    result.findings.sort(key=lambda f: (f.location.line, f.location.column, f.rule_id))
    return result


def _check_into(result: SpecResult, loaded: LoadedSpec | list[Finding]) -> None:
    if isinstance(loaded, list):
        result.findings = loaded
        return
    result.loaded = loaded
    resolution = resolve(loaded)
    result.findings.extend(resolution.findings)
    if resolution.design is None:
        return
    design = result.design = resolution.design
    flow = result.flow = analyse(design)
    result.findings.extend(run_checks(loaded, design, flow))
