"""`eqdesign build`: the specs the arguments name, each checked under its configuration, built and tested
(api.building), and written where all passed. A spec that escnn cannot build fails alone (exit 1,
located); the rest of the batch goes on."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from ..analysis.config import DEFAULT, Config
from ..api.building import Progress, run_build, write_artifacts
from ..api.checking import SpecResult, check_file
from ..exitcodes import ExitCode
from ..findings import Finding
from ..results import BuildBatch, BuildResult
from .check import configured, spec_files

ProgressFactory = Callable[[str], AbstractContextManager[Progress]]


@dataclass(frozen=True)
class BuildOptions:
    influence: bool = True  # measure influence from Jacobians
    write: bool = True  # False: build and test, write nothing (a gate, such as the pre-commit hook)
    config: str | None = None  # an explicit configuration file (else the nearest to each spec)
    isolated: bool = False  # read no configuration
    specs_only: bool = False  # skip YAML files that declare no group


def build_specs(patterns: Sequence[str], out: str | None, progress: ProgressFactory, options: BuildOptions = BuildOptions()) -> BuildBatch:
    found = spec_files(patterns, options.specs_only)
    batch = BuildBatch([], list(found.problems))
    blocked = _blocked_folder(out) if out is not None else None
    if blocked is not None:
        batch.usage_errors.append(f"{out}: the output folder (-o) cannot be made: {blocked} is a file; name a folder")
        return batch
    seen: dict[tuple[str, str], str] = {}
    for path in found.files:
        governing = configured(path, options.config, options.isolated)
        with progress(path) as step:
            result = build_spec(path, out, step, options, governing)
        _claim_name(result, out, seen)
        batch.builds.append(result)
    return batch


def _blocked_folder(out: str) -> str | None:
    """The file that stands where the output folder, or one of the folders above it, would be."""
    for folder in (Path(out), *Path(out).parents):
        if folder.exists():
            return None if folder.is_dir() else str(folder)
    return None


def _claim_name(result: BuildResult, out: str | None, seen: dict[tuple[str, str], str]) -> None:
    """Two specs of one name would write the same artifacts: the second one is refused (before writing)."""
    design = result.check.design
    if design is None:
        return
    key = (os.path.abspath(out or os.path.dirname(result.check.file) or "."), design.spec.name)
    if key in seen and result.ok:
        result.fail(f"another spec of this command, {seen[key]}, has the same name {design.spec.name!r}; rename one", ExitCode.SPEC)
    seen.setdefault(key, result.check.file)


def build_spec(
    path: str,
    out_dir: str | None,
    progress: Progress = lambda s: None,
    options: BuildOptions = BuildOptions(),
    config: Config | Finding = DEFAULT,
) -> BuildResult:
    """Check (under the same configuration `check` would use), build, test, and write if all passed."""
    check = check_file(path, config) if isinstance(config, Config) else SpecResult(path, [config])
    result, made = run_build(check, progress, options.influence)
    if made is not None and options.write:
        write_artifacts(result, made, Path(out_dir) if out_dir else Path(path).parent, progress)
    return result
