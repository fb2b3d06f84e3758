"""`eqdesign check`: read, resolve and analyse specs; never imports torch or escnn."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..analysis.config import Config, ConfigError, config_for
from ..api.checking import SpecResult, check_file
from ..findings import Finding
from ..results import CheckResult
from .discover import Discovery, discover, only_specs

__all__ = ["check_file", "check_paths", "configured", "spec_files"]


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
