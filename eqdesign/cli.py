"""The command line. Each command parses its options, calls one core function, hands the result to a
reporter and exits with the result's code.

Exit codes (eqdesign.exitcodes): 0 clean; 1 error findings (or warnings under --strict), or a failed
build/verify; 2 usage or spec-loading problem; 3 internal error.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from . import __version__, interrupts
from .exitcodes import ExitCode

if TYPE_CHECKING:  # commands are imported when they run, so that `--help` stays fast
    from .commands.cache import CacheResult

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Design, check, build and export equivariant MLPs. Exit codes: 0 ok, 1 findings, 2 usage/spec error, 3 internal error.",
)


class Format(str, Enum):
    """The formats of the listings and of `verify`."""

    human = "human"
    json = "json"


class ReportFormat(str, Enum):
    """The formats of findings (`check` and `build`); none given: github under GitHub Actions, else human."""

    human = "human"
    concise = "concise"
    json = "json"
    github = "github"
    sarif = "sarif"
    junit = "junit"
    gitlab = "gitlab"


_FORMAT_HELP = "Report format: human, concise, json, github, sarif, junit or gitlab (default: github under GitHub Actions, else human)."


def _version(value: bool) -> None:
    if value:
        typer.echo(f"eqdesign {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version.")) -> None:
    """eqdesign: equivariant MLP design from YAML specs."""


_CONFIG = typer.Option(None, "--config", help="A configuration file (eqdesign.toml, or pyproject.toml with a tool.eqdesign table).")
_ISOLATED = typer.Option(False, "--isolated", help="Read no configuration file.")
_SPECS_ONLY = typer.Option(False, "--specs-only", help="Skip YAML files that declare no group (as the pre-commit hooks do).")
_EXIT_ZERO = typer.Option(False, "--exit-zero", help="Exit 0 even when there are findings (2 and 3 still mean what they mean).")
_STATISTICS = typer.Option(False, "--statistics", help="Print how many findings each rule reported, instead of the report.")


@app.command()
def check(
    paths: list[str] = typer.Argument(..., help="Spec files, directories or globs."),
    format: ReportFormat | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    output_file: str | None = typer.Option(
        None, "--output-file", "-o", help="Write the report here; a concise summary stays on the terminal."
    ),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors (exit 1)."),
    exit_zero: bool = _EXIT_ZERO,
    statistics: bool = _STATISTICS,
    config: str | None = _CONFIG,
    isolated: bool = _ISOLATED,
    specs_only: bool = _SPECS_ONLY,
    graph: str | None = typer.Option(
        None, "--graph", help="Draw the influence graph: FILE.mmd or .md (Mermaid), .dot, .svg or .png (Graphviz)."
    ),
) -> None:
    """Resolve field types and Schur blocks, analyse reachability, and report findings."""
    from .commands.check import check_paths
    from .report.graph import graph_path_problem
    from .results import CheckResult

    early = _present(
        [_report_file_problem(output_file, "--output-file", "check"), graph_path_problem(graph) if graph is not None else None]
    )
    if early:  # before any spec is read: the report (these usage errors) goes to stdout
        refused = CheckResult([], strict, early)
        _finish(refused.exit_code, _deliver("check", refused, format, None, statistics) + _on_stderr(early, format), exit_zero)
    result = check_paths(paths, strict=strict, config=config, isolated=isolated, specs_only=specs_only)
    problems = _deliver("check", result, format, output_file, statistics)
    if graph is not None:
        problems += _draw(result, graph)
    _finish(result.exit_code, problems, exit_zero)


@app.command()
def build(
    specs: list[str] = typer.Argument(..., help="Spec files, directories or globs to build."),
    out: str | None = typer.Option(None, "--out", "-o", help="Output directory (default: beside the spec)."),
    format: ReportFormat | None = typer.Option(None, "--format", "-f", help=_FORMAT_HELP),
    output_file: str | None = typer.Option(None, "--output-file", help="Write the report here; a concise summary stays on the terminal."),
    influence: bool = typer.Option(True, "--influence/--no-influence", help="Measure influence from Jacobians."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Build and test, but write no artifacts (a numerical gate)."),
    exit_zero: bool = _EXIT_ZERO,
    statistics: bool = _STATISTICS,
    config: str | None = _CONFIG,
    isolated: bool = _ISOLATED,
    specs_only: bool = _SPECS_ONLY,
) -> None:
    """Check, build with escnn, compile to plain torch, test equivariance, and export (only if all pass)."""
    _need_extra("build")
    from .commands.build import BuildOptions, build_specs
    from .outfiles import folder_problem
    from .report.progress import StepProgress
    from .results import BuildBatch

    early = _present(
        [
            folder_problem(out, "--out", example="out") if out is not None else None,
            _report_file_problem(output_file, "--output-file", "build"),
        ]
    )
    if early:  # before anything is built: the report (these usage errors) goes to stdout
        refused = BuildBatch([], early)
        _finish(refused.exit_code, _deliver("build", refused, format, None, statistics) + _on_stderr(early, format), exit_zero)
    options = BuildOptions(influence, not dry_run, config, isolated, specs_only)
    batch = build_specs(specs, out, StepProgress, options)
    _finish(batch.exit_code, _deliver("build", batch, format, output_file, statistics), exit_zero)


def _need_extra(command: str) -> None:
    """From the check-only install, a command that needs torch or escnn is a usage error (exit 2, in the format
    asked for) that gives the commands installing them, before any work starts."""
    from .extras import missing_extra

    problem = missing_extra(command)
    if problem is not None:
        raise typer.TyperException(problem)


def _report_file_problem(path: str | None, option: str, command: str) -> str | None:
    from .outfiles import file_problem

    return file_problem(path, option, overwrite=True, command=command, example="report.txt") if path is not None else None


def _present(problems: list[str | None]) -> list[str]:
    return [p for p in problems if p is not None]


def _on_stderr(problems: list[str], format: ReportFormat | None) -> list[str]:
    """Usage errors also for the person reading the log, where the report itself is for a machine."""
    from .report.deliver import chosen_format

    return [] if chosen_format(format.value if format else None) == "human" else problems


def _deliver(command: str, result: Any, format: ReportFormat | None, output_file: str | None, statistics: bool) -> list[str]:
    from .report.deliver import Delivery, deliver

    problem = deliver(command, result, Delivery(format.value if format else None, output_file, statistics))
    return [problem] if problem else []


def _draw(result: Any, file: str) -> list[str]:
    from .report.graph import render

    outcome = render(result.specs, file)  # specs that could not be loaded are left out, with a note each
    for note in outcome.notes:
        typer.echo(f"note: {note}", err=True)
    if outcome.ok:
        typer.echo(outcome.message, err=True)  # stdout carries the report alone (JSON, SARIF, ...)
    return [] if outcome.ok else [outcome.message]


def _finish(code: int, problems: list[str], exit_zero: bool) -> None:
    """Exit with the verdict's code: 2 where an output could not be written; 0 for findings under --exit-zero."""
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        code = max(code, ExitCode.SPEC)
    raise typer.Exit(ExitCode.OK if exit_zero and code == ExitCode.FINDINGS else code)


@app.command()
def verify(
    models: list[str] = typer.Argument(..., help="NAME.pt, NAME.pt2 or NAME.onnx files written by eqdesign build or export."),
    format: Format = typer.Option(Format.human, "--format", "-f"),
) -> None:
    """Re-verify the equivariance of saved models with torch alone, from their own extra files.

    Loading a TorchScript or torch.export file runs code stored in it: verify only files you trust, or run
    verify inside a sandbox."""
    _need_extra("verify")
    from .commands.verify import verify_paths
    from .report import reporter

    batch = verify_paths(models)
    reporter(format.value, sys.stdout).verify(batch)
    raise typer.Exit(batch.exit_code)


class ExportTarget(str, Enum):
    pt2 = "pt2"
    onnx = "onnx"


@app.command("export")
def export_command(
    model: str = typer.Argument(..., help="A NAME.pt written by eqdesign build, trained (fine-tuned) or not."),
    to: ExportTarget = typer.Option(..., "--to", help="pt2 (torch.export) or onnx (needs onnx, onnxscript, onnxruntime)."),
    output: str | None = typer.Option(None, "--output", "-o", help="The file to write (default: MODEL with the suffix of --to)."),
    build: str | None = typer.Option(
        None, "--build", help="The artifact MODEL was trained from, whose extra files apply (torch.jit.save drops them unless given them)."
    ),
) -> None:
    """Re-verify a trained NAME.pt on its build's representation matrices and write it as NAME.pt2 or NAME.onnx,
    with fresh provenance that `eqdesign verify` passes. Exit 0 written, 1 refused (not equivariant with its
    new weights, or its code or extras edited), 2 unreadable model or unwritable output.

    Loading a TorchScript file runs code stored in it: export only files you trust."""
    _need_extra("export")
    from .commands.export import export_path

    outcome = export_path(model, to.value, output, build)
    typer.echo(f"{model}: {outcome.message}", err=not outcome.ok)
    raise typer.Exit(outcome.exit_code)


@app.command()
def groups(
    group: str | None = typer.Argument(None, help="A group such as so3, o3, c8, d6, ico."),
    n: int | None = typer.Option(None, "--n", help="Order for cyclic/dihedral."),
    max_freq: int = typer.Option(4, "--max-freq", min=0, max=64, help="Highest frequency listed for continuous groups (at most 64)."),
    format: Format = typer.Option(Format.human, "--format", "-f"),
) -> None:
    """List the supported groups, or the irreps of one group."""
    from .api.listings import describe_group, group_list, lookup_group
    from .report import reporter

    out = reporter(format.value, sys.stdout)
    if group is None:
        rows = group_list()
        _emit(out, format, rows, "Groups", ["name", "description"])
        raise typer.Exit(0)
    found = lookup_group(group, n, order_option="--n")
    if isinstance(found, str):
        _refuse(out, format, found)
    info = describe_group(found, max_freq)
    if format is Format.json:
        out.data(info)
    else:
        out.table(
            f"Irreps of {info['label']}",
            ["name", "escnn id", "dim", "type", "frequency"],
            [[i["name"], i["escnn_id"], i["dim"], i["type"], i["frequency"]] for i in info["irreps"]],
        )
        out.text(f"vector (standard representation): {info['vector'] or 'none'}")
        out.text(f"quotients: {', '.join(info['quotients']) or 'none'}")
        if info["parity_fields"]:
            out.text(f"fields with a declared parity under x -> -x: {', '.join(info['parity_fields'])}, ... (N_even, N_odd)")
    raise typer.Exit(0)


@app.command()
def rules(
    rule: str | None = typer.Argument(None, help="A rule id or name (EQ202, unused-input): explain that rule."),
    format: Format = typer.Option(Format.human, "--format", "-f"),
) -> None:
    """List every rule, or explain one: what it means, a spec that triggers it, and the fix."""
    from .commands.rules import all_rules, explain, find_rule
    from .report import reporter

    out = reporter(format.value, sys.stdout)
    if rule is None:
        rows = [
            {"rule_id": r.rule_id, "rule": r.name, "severity": r.severity.value, "summary": r.summary, "doc": r.doc} for r in all_rules()
        ]
        _emit(out, format, rows, "Rules (eqdesign rules ID explains one)", ["rule_id", "rule", "severity", "summary"])
        raise typer.Exit(0)
    found = find_rule(rule)
    if found is None:
        from .analysis.config import unknown_rule_hint

        _refuse(out, format, f"no rule is called {rule!r}: {unknown_rule_hint(rule)}")
    if format is Format.json:
        out.data(explain(found))
    else:
        out.rule_doc(explain(found))
    raise typer.Exit(0)


def _refuse(out: Any, format: Format, message: str) -> NoReturn:
    """A usage error of a listing command: exit 2, as JSON under --format json."""
    if format is Format.json:
        out.error(message, ExitCode.SPEC)
    else:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(ExitCode.SPEC)


@app.command()
def init(
    group: str = typer.Option("so3", "--group", help="The group: so3, o3, so2, o2, c8, d6, ico, octa, cylinder, ..."),
    input: str | None = typer.Option(None, "--input", help="Input irreps, e.g. '1x0 + 1x1' (default: the group's scalar and vector)."),
    output: str | None = typer.Option(None, "--output", help="Output irreps (default: as the input)."),
    name: str | None = typer.Option(None, "--name", help="The spec's name."),
    file: str | None = typer.Option(None, "-o", "--file", help="Write the spec to this new file (never overwrites); default: stdout."),
) -> None:
    """Write a commented starter spec that passes `eqdesign check`."""
    from .commands.init import starter, write_new
    from .outfiles import file_problem

    problem = file_problem(file, "-o", overwrite=False, command="init", example="spec.yaml") if file is not None else None
    if problem is not None:
        _finish(ExitCode.OK, [problem], False)
    result = starter(group, input, output, name)
    for message in result.messages:
        typer.echo(f"error: {message}", err=True)
    if result.exit_code != ExitCode.OK:
        raise typer.Exit(result.exit_code)
    if file is None:
        typer.echo(result.text, nl=False)
        raise typer.Exit(0)
    problem = write_new(file, result.text)
    if problem is not None:
        _finish(ExitCode.OK, [problem], False)
    typer.echo(f"wrote {file}; next: eqdesign check {file}")


@app.command()
def design(
    group: str | None = typer.Option(None, "--group", help="The group (default so3): so3, o3, so2, o2, c8, d6, ico, octa, cylinder, ..."),
    input: str | None = typer.Option(None, "--input", help="Input irreps, e.g. '1x vector + 1x 0'."),
    output: str | None = typer.Option(None, "--output", help="Output irreps, e.g. '2x vector + 1x 0'."),
    partial: str | None = typer.Option(
        None,
        "--from",
        help="A partial spec: its group, input and output (not with --group, --input, --output), and its hidden layers kept in front of the searched ones.",
    ),
    params: int = typer.Option(50_000, "--params", help="The parameter budget."),
    tolerance: float = typer.Option(0.02, "--tolerance", help="Largest relative equivariance error allowed."),
    layers: int | None = typer.Option(None, "--layers", min=1, max=8, help="Exactly this many hidden layers."),
    measure: bool = typer.Option(False, "--measure", help="Build the top K and rank them by measured error and speed."),
    data: str | None = typer.Option(
        None, "--data", help="Train the top K briefly on this data (as eqdesign train reads it) and rank them by validation loss."
    ),
    top: int | None = typer.Option(None, "--top", min=1, max=20, help="How many candidates --measure builds (default 3)."),
    jobs: int | None = typer.Option(None, "-j", "--jobs", min=1, max=64, help="Processes --measure builds in (default 1)."),
    name: str | None = typer.Option(None, "--name", help="The spec's name."),
    file: str | None = typer.Option(None, "-o", "--file", help="Write the spec to this new file (never overwrites); default: stdout."),
    format: Format = typer.Option(Format.human, "--format", "-f"),
) -> None:
    """Search architectures for an input, an output and a budget; write the best spec that passes `check`."""
    if measure:
        _need_extra("design --measure")
    if data is not None:
        _need_extra("design --data")
    from .commands.design import Ask
    from .commands.design import design as run_design
    from .outfiles import file_problem
    from .report.design import design_json, human

    ask = Ask("so3" if group is None else group, input or "", output or "", params, tolerance, layers, name, partial)
    problems = _design_conflicts(partial, group, input, output, measure or data is not None, top, jobs)
    if measure and data is not None:
        problems.append("--measure and --data: choose one ranking (measured error and speed, or validation loss on the data)")
    if file is not None:
        problems.append(file_problem(file, "-o", overwrite=False, command="design", example="designed.yaml"))
    result = run_design(ask, _present(problems), (top or 3, jobs or 1) if measure or data is not None else None, file, data)
    if format is Format.json:
        from .report import reporter

        reporter("json", sys.stdout).data(design_json(result, file))
    else:
        human(result, sys.stderr if file is None else sys.stdout)
        if result.ok and file is None:
            typer.echo(result.text, nl=False)
        elif result.ok:
            typer.echo(f"wrote {file}; next: eqdesign check {file} && eqdesign build {file}")
    raise typer.Exit(result.exit_code)


def _design_conflicts(
    partial: str | None, group: str | None, input: str | None, output: str | None, measure: bool, top: int | None, jobs: int | None
) -> list[str | None]:
    """Options that would otherwise be ignored: never silently."""
    problems: list[str | None] = []
    given = [flag for flag, value in (("--group", group), ("--input", input), ("--output", output)) if value is not None]
    if partial is not None and given:
        problems.append(
            f"{', '.join(given)}: --from takes the group, input and output from the partial spec; "
            f"leave out {' and '.join(given)}, or change them in {partial}"
        )
    if partial is None and (input is None or output is None):
        missing = [flag for flag, value in (("--input", input), ("--output", output)) if value is None]
        problems.append(f"{' and '.join(missing)}: needed without --from, e.g. --input '1x vector + 1x 0' --output '2x vector + 1x 0'")
    unused = [flag for flag, value in (("--top", top), ("--jobs", jobs)) if value is not None]
    if unused and not measure:
        them = "them" if len(unused) > 1 else "it"
        problems.append(f"{' and '.join(unused)}: only --measure and --data use {them}; add --measure, or leave {them} out")
    return problems


class Baseline(str, Enum):
    none = "none"
    mlp = "mlp"
    mlp_augmented = "mlp-augmented"


@app.command()
def train(
    spec: str = typer.Argument(..., help="The spec file to build and train."),
    data: str = typer.Option(..., "--data", help="Training data: a .npz with arrays x and y, or a .csv with columns x0.., y0.."),
    out: str = typer.Option(..., "--out", "-o", help="The run's folder (made if missing)."),
    val: float | None = typer.Option(None, "--val", help="The fraction of --data held out for validation (default 0.1)."),
    val_data: str | None = typer.Option(None, "--val-data", help="Validation data in a file of its own (instead of --val)."),
    test: str | None = typer.Option(None, "--test", help="Test data: the errors and ratios are reported on it."),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Training steps (default 1000)."),
    epochs: int | None = typer.Option(None, "--epochs", min=1, help="Passes over the training data (instead of --steps)."),
    batch: int = typer.Option(64, "--batch", min=1, help="Rows per batch."),
    lr: float = typer.Option(3e-3, "--lr", min=0.0, help="AdamW's peak learning rate."),
    weight_decay: float = typer.Option(1e-4, "--weight-decay", min=0.0, help="AdamW's weight decay."),
    patience: int = typer.Option(10, "--patience", min=1, help="Validation checks (50 per run) without improvement before stopping."),
    seed: int = typer.Option(0, "--seed", help="Seeds the weights, the split, the batches and the augmentation."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA where available), cpu or cuda."),
    baseline: Baseline = typer.Option(
        Baseline.none,
        "--baseline",
        help="none, mlp (same parameter count) or mlp-augmented (and that MLP on randomly transformed batches).",
    ),
    sizes: str | None = typer.Option(
        None, "--sizes", help="Also train on growing subsets of the training rows, e.g. 100,300,1000: error against data size."
    ),
    format: Format = typer.Option(Format.human, "--format", "-f"),
) -> None:
    """Train a spec's model on data, against plain MLPs; export the trained model and the learning curves."""
    _need_extra("train")
    from .commands.train import TrainAsk, run_train
    from .report.progress import TrainBar

    problems: list[str] = []
    if steps is not None and epochs is not None:
        problems.append("--steps and --epochs: give one of them")
    if val_data is not None and val is not None:
        problems.append("--val and --val-data: give one of them")
    counts = [c.strip() for c in (sizes or "").split(",") if c.strip()]
    if sizes is not None and (not counts or not all(c.isdigit() for c in counts)):
        problems.append(f"--sizes {sizes}: give numbers of training rows separated by commas, such as --sizes 100,300,1000")
    if problems:
        _train_report(format, ExitCode.SPEC, problems, None)
    options: dict[str, Any] = {
        "val": 0.1 if val is None else val,
        "val_data": val_data,
        "test": test,
        "steps": steps,
        "epochs": epochs,
        "batch": batch,
        "lr": lr,
        "weight_decay": weight_decay,
        "patience": patience,
        "seed": seed,
        "device": device,
        "baseline": baseline.value,
        "sizes": [int(c) for c in counts],
    }
    with TrainBar(format is Format.human and sys.stdout.isatty()) as bar:
        outcome = run_train(TrainAsk(spec, data, out, options), bar)
    _train_report(format, outcome.exit_code, outcome.errors, outcome)


def _train_report(format: Format, code: int, errors: list[str], outcome: Any) -> NoReturn:
    from .report.training import train_human, train_json

    if format is Format.json:
        from .report import reporter

        reporter("json", sys.stdout).data(train_json(code, errors, outcome))
    else:
        for error in errors:
            typer.echo(f"error: {error}", err=True)
        if outcome is not None and outcome.trained is not None:
            train_human(outcome.trained, outcome.written, sys.stdout)
    raise typer.Exit(code)


cache_app = typer.Typer(no_args_is_help=True, help="The cache folder (EQDESIGN_CACHE_DIR, default ~/.cache/eqdesign).")
app.add_typer(cache_app, name="cache")


@cache_app.command("info")
def cache_info(format: Format = typer.Option(Format.human, "--format", "-f")) -> None:
    """Where the cache is and how large it is."""
    from .commands import cache

    _cache_report(cache.info(), format)


@cache_app.command("clear")
def cache_clear(format: Format = typer.Option(Format.human, "--format", "-f")) -> None:
    """Delete the cache folder (it is rebuilt on demand)."""
    from .commands import cache

    _cache_report(cache.clear(), format)


@cache_app.command("warm")
def cache_warm(
    specs: list[str] = typer.Argument(..., help="Spec files whose escnn models to build once."),
    format: Format = typer.Option(Format.human, "--format", "-f"),
) -> None:
    """Fill the cache by building the escnn model of every spec (what CI can run before caching the folder)."""
    _need_extra("cache warm")
    from .commands import cache

    _cache_report(cache.warm(specs), format)


def _cache_report(result: CacheResult, format: Format) -> None:
    from .report import reporter

    reporter(format.value, sys.stdout).cache(result)
    raise typer.Exit(result.exit_code)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the spec language (for editors: yaml-language-server)."""
    import json

    from .api.listings import editor_schema

    typer.echo(json.dumps(editor_schema(), indent=2))


def _emit(out: Any, format: Format, rows: list[dict[str, str]], title: str, columns: list[str]) -> None:
    """Rows as data (JSON) or as a table (human); ``out`` is the reporter of that format."""
    if format is Format.json:
        out.data(rows)
    else:
        out.table(title, columns, [[row[c] for c in columns] for row in rows])


def _calm_threads() -> None:
    """Threads, unless the user chose otherwise; set before torch is imported, which reads them once.

    OpenMP threads that spin while they wait can slow torch a hundredfold on a busy machine: they wait
    passively. And one thread: a build or a verify runs thousands of small operations (batches of 8 to 64
    rows), whose parallel regions cost more to start than they save. On 2 cores one thread built the
    flagship in 8.8 s against 10.3 s, and under load each parallel region waits for a worker that the
    neighbours keep off the CPU."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _safe_streams() -> None:
    """Output never fails on the terminal's account: a closed stdout is replaced by the null device (the
    exit code still reports the verdict), and characters an ASCII-only stream cannot show are replaced."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the process
        elif hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def _machine_format(argv: list[str]) -> str | None:
    """The machine-readable format a command line asks for (even one that fails to parse), if any."""
    pairs = [a.split("=", 1)[1] for a in argv if a.startswith("--format=")] + [a[2:] for a in argv if a.startswith("-f") and len(a) > 2]
    pairs += [b for a, b in zip(argv, argv[1:], strict=False) if a in ("--format", "-f")]
    return next((f for f in pairs if f in ("json", "sarif", "junit", "gitlab", "github")), None)


def _usage_error(err: typer.TyperException, argv: list[str]) -> int:
    """A usage error, in the format asked for, so that a CI consumer of that format still reads a document."""
    name = _machine_format(argv)
    if name is not None:
        from .report import reporter

        reporter(name, sys.stdout).error(err.format_message(), ExitCode.SPEC)
    if name != "json":  # a JSON document says it all; the other formats also tell the person reading the log
        _show(err)
    return ExitCode.SPEC


def _show(err: typer.TyperException) -> None:
    if hasattr(err, "show"):
        err.show()
    else:
        print(f"error: {err.format_message()}", file=sys.stderr)


def main() -> None:
    _calm_threads()
    interrupts.install()
    _safe_streams()
    argv = sys.argv[1:]
    try:
        code = app(args=argv, prog_name="eqdesign", standalone_mode=False)
    except typer.Exit as done:
        code = done.exit_code
    except typer.TyperException as err:  # a usage error: unknown option, missing argument, bad value
        code = _usage_error(err, argv)
    except (KeyboardInterrupt, typer.Abort):
        code = ExitCode.INTERRUPTED
    except SystemExit:  # raised by the SIGTERM handler (interrupts): reported below
        if interrupts.pending() is None:
            raise
        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - nothing more can be shown; exit quietly
        code = ExitCode.SPEC
    except Exception as err:  # noqa: BLE001 - never show a traceback unless asked to
        code = _internal_error(err)
    _warn_cache_faults()
    sys.exit(_interrupted(int(code or 0)))


def _internal_error(err: Exception) -> int:
    if interrupts.pending() is not None:  # the exception of a signal was swallowed on the way: not a defect
        return ExitCode.INTERRUPTED
    if os.environ.get("EQDESIGN_DEBUG"):
        raise err
    print(f"eqdesign: internal error: {type(err).__name__}: {err} (rerun with EQDESIGN_DEBUG=1 for details)", file=sys.stderr)
    return ExitCode.INTERNAL


def _interrupted(code: int) -> int:
    """The exit code once a signal arrived, whatever became of its exception: 128 + its number."""
    signum = interrupts.pending()
    if signum is None and code != ExitCode.INTERRUPTED:
        return code
    print(f"eqdesign: interrupted ({interrupts.describe(signum or 2)})", file=sys.stderr)
    return interrupts.exit_code(signum) if signum is not None else code


def _warn_cache_faults() -> None:
    """The cache folder is only an accelerator: what could not be stored there is said once, at the end."""
    from .paths import cache_faults

    for fault in cache_faults():
        print(
            f"eqdesign: warning: {fault}; went on without it (it only saves time): set EQDESIGN_CACHE_DIR to a writable folder",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
