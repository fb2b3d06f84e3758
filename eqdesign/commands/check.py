"""`eqdesign check`: read, resolve and analyse specs; never imports torch or escnn."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..analysis.config import DEFAULT, Config, ConfigError, config_for
from ..analysis.dataflow import analyse
from ..analysis.resolve import resolve
from ..analysis.rules import run_checks
from ..analysis.suppress import apply_rules, suppressed
from ..findings import Finding
from ..results import CheckResult, SpecResult
from ..spec.discover import Discovery, discover, only_specs
from ..spec.load import load_spec


def check_file(path: str | Path, config: Config = DEFAULT) -> SpecResult:
    """One spec under one configuration (`build` checks through here too, so the two never disagree)."""
    result = SpecResult(str(path), disabled=config.disabled, strict=config.strict)
    try:
        _check_into(result, config)
        if result.loaded is not None:
            result.findings = apply_rules(result.loaded, config, result.findings)
            result.disabled |= suppressed(result.loaded)
    except Exception as err:  # noqa: BLE001 - "cannot continue" is reported, never shown as a traceback
        if os.environ.get("EQDESIGN_DEBUG"):
            raise
        result.internal_error = f"{type(err).__name__}: {err}"
    result.findings.sort(key=lambda f: (f.location.line, f.location.column, f.rule_id))
    return result


def _check_into(result: SpecResult, config: Config) -> None:
    loaded = load_spec(result.file, config.tests)
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


def check_paths(
    patterns: Sequence[str], strict: bool = False, config: str | None = None, isolated: bool = False, specs_only: bool = False
) -> CheckResult:
    """Check every spec the patterns name, each under the configuration nearest to it (or ``config``);
    ``specs_only``: YAML files that declare no group are skipped rather than reported."""
    found = spec_files(patterns, specs_only)
    skipped = [f"{s.path}: {s.reason}" for s in found.skipped]
    result = CheckResult([], strict, list(found.problems), skipped)
    broken: set[str] = set()
    for file in found.files:
        governing = configured(file, config, isolated)
        if isinstance(governing, Config):
            result.specs.append(check_file(file, governing))
        elif governing.location.file not in broken:  # one report per broken configuration, not one per spec
            broken.add(governing.location.file)
            result.specs.append(SpecResult(governing.location.file, [governing]))
    return result


def spec_files(patterns: Sequence[str], specs_only: bool) -> Discovery:
    """The spec files a command reads (``specs_only``: YAML files that declare no group are skipped); the
    configurations are read afresh by each command, since one may change between calls."""
    config_for.cache_clear()
    found = discover(patterns)
    return only_specs(found) if specs_only else found


def configured(spec_file: str, explicit: str | None, isolated: bool) -> Config | Finding:
    """The configuration governing a spec, or the finding that says why it cannot be read."""
    try:
        return config_for(str(Path(spec_file).parent), explicit, isolated)
    except ConfigError as err:
        return err.finding
