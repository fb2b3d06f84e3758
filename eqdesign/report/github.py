"""GitHub Actions workflow commands: one annotation per finding, a summary line, and a job summary.

An annotation reads ``::error file=F,line=L,col=C,title=ID name::message`` (``::warning`` for warnings,
``::notice`` for info), with the hint on a second line of the message. GitHub shows at most 10 error and 10
warning annotations per step, so when ``GITHUB_STEP_SUMMARY`` names a file the whole report is appended to
it as Markdown: every finding is there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TextIO

from ..findings import Finding, Severity, printable
from ..results import BuildBatch, CheckResult
from .concise import summary_line
from .entries import Entry, build_entries, check_entries
from .sarif import relative_path

COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
#: GitHub shows this many annotations of each kind per step; the rest are only in the job summary
ANNOTATION_LIMIT = 10
#: GitHub refuses a step summary over 1 MiB; the findings table stops short of it
SUMMARY_BUDGET = 900_000
VERDICT = {0: "ok", 1: "fails", 2: "spec error", 3: "internal error"}


def _visible(text: str) -> str:
    """Control characters other than line breaks escaped (line breaks are the commands' own escapes)."""
    return "".join(c if c in "\r\n" else printable(c) for c in text)


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, CR and LF percent-encoded."""
    return _visible(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: as data, and ``:`` and ``,`` too."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def escape_file(path: str) -> str:
    """A file property exactly as the runner unescapes it (``%``, CR, LF, ``:`` and ``,``; nothing else), so
    that a name holding any other control character still names its file."""
    for c, code in (("%", "%25"), ("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C")):
        path = path.replace(c, code)
    return path


def workflow_command(kind: str, message: str, **properties: str | int) -> str:
    props = ",".join(f"{k}={escape_file(str(v)) if k == 'file' else escape_property(str(v))}" for k, v in properties.items())
    return f"::{kind}{' ' + props if props else ''}::{escape_data(message)}"


def annotation(f: Finding) -> str:
    loc = f.location
    message = f"{f.message}\nhint: {f.hint}" if f.hint else f.message
    file = relative_path(loc.file) or loc.file
    return workflow_command(COMMAND[f.severity], message, file=file, line=loc.line, col=loc.column, title=f"{f.rule_id} {f.rule}")


# -- the job summary (Markdown) ------------------------------------------------------------------------


def md(text: str) -> str:
    """Text for a Markdown table cell: one line, no HTML, no table or emphasis syntax."""
    text = printable(text)
    for c in "\\`*_[]|":
        text = text.replace(c, "\\" + c)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows), ""]


def _finding_row(f: Finding) -> list[str]:
    file = relative_path(f.location.file) or f.location.file
    message = md(f.message) + (f"<br>hint: {md(f.hint)}" if f.hint else "")
    return [f"{md(file)}:{f.location.line}", f.severity.value, f"{f.rule_id} {md(f.rule)}", message]


def _findings_table(findings: Sequence[Finding]) -> list[str]:
    rows: list[list[str]] = []
    size = 0
    for f in findings:
        row = _finding_row(f)
        size += len(_row(row).encode("utf-8", "backslashreplace")) + 1
        if size > SUMMARY_BUDGET:
            break
        rows.append(row)
    lines = _table(["location", "severity", "rule", "message"], rows)
    if len(rows) < len(findings):
        lines += [f"{len(findings) - len(rows)} more findings are left out (GitHub limits a job summary to 1 MiB); see the log.", ""]
    return lines


def step_summary(entries: Sequence[Entry], *, command: str = "check", usage_errors: Sequence[str] = (), extra: Sequence[str] = ()) -> str:
    """The job summary of one command: counts, one row per spec, every finding, the usage errors, then
    ``extra``: further Markdown sections (each a complete block), appended in order."""
    exit_code = max([int(e.exit_code) for e in entries] + [2] * bool(usage_errors), default=0)
    lines = [f"## eqdesign {command}", "", f"**{md(summary_line(entries, usage_errors))}** (exit {exit_code})", ""]
    if entries:
        specs = [
            [md(relative_path(e.file) or e.file), VERDICT.get(int(e.exit_code), str(int(e.exit_code))), str(e.errors), str(e.warnings)]
            for e in entries
        ]
        lines += _table(["spec", "result", "errors", "warnings"], specs)
    findings = [f for e in entries for f in e.findings]
    if findings:
        lines += ["### Findings", "", *_findings_table(findings)]
    if usage_errors:
        lines += ["### Usage errors", "", *(f"- {md(p)}" for p in usage_errors), ""]
    for section in extra:
        lines += [section.rstrip("\n"), ""]
    return "\n".join(lines)


#: influence graphs drawn in one job summary
MAX_GRAPHS = 20


def _code(text: str) -> str:
    return printable(text).replace("`", "'")


class GithubReporter:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def check(self, result: CheckResult) -> None:
        self.report("check", check_entries(result), result.usage_errors, lambda: self.summary_extra(result))

    def build(self, batch: BuildBatch) -> None:
        self.report("build", build_entries(batch), batch.usage_errors, lambda: self.summary_extra(batch))

    def summary_extra(self, result: CheckResult | BuildBatch) -> list[str]:
        """The influence graph of each analysed spec, as Mermaid (GitHub renders it in the job summary):
        specs with errors first, at most MAX_GRAPHS of them, so that a large gallery stays readable."""
        from .graph import mermaid_markdown

        specs = [b.check for b in result.builds] if isinstance(result, BuildBatch) else result.specs
        drawn = sorted((s for s in specs if s.design is not None and s.flow is not None), key=lambda s: -s.errors)[:MAX_GRAPHS]
        return [f"### Influence graph of `{_code(s.file)}`\n\n{mermaid_markdown(s)}" for s in drawn]

    def report(self, command: str, entries: Sequence[Entry], usage_errors: Sequence[str], extra: Callable[[], Sequence[str]]) -> None:
        """Annotations on stdout; the job summary (with ``extra``, drawn only then) where one is asked for."""
        lines = [workflow_command("error", problem, title="eqdesign") for problem in usage_errors]
        lines += [annotation(f) for e in entries for f in e.findings]
        summary = summary_line(entries, usage_errors)
        if self.write_step_summary(lambda: step_summary(entries, command=command, usage_errors=usage_errors, extra=extra())):
            errors, warnings = sum(e.errors for e in entries), sum(e.warnings for e in entries)
            if errors > ANNOTATION_LIMIT or warnings > ANNOTATION_LIMIT:
                summary += f" (GitHub annotates at most {ANNOTATION_LIMIT} of each per step: all are in the job summary)"
        lines.append(summary)
        self.out.write("\n".join(lines) + "\n")

    def error(self, message: str, code: int) -> None:
        self.out.write(workflow_command("error", message, title="eqdesign") + "\n")
        self.write_step_summary(lambda: f"## eqdesign\n\n**error** (exit {code}): {md(message)}\n")

    def write_step_summary(self, markdown: Callable[[], str]) -> bool:
        """Append to the file GITHUB_STEP_SUMMARY names, if any (the Markdown is made only then); True when
        written."""
        path = os.environ.get("GITHUB_STEP_SUMMARY")
        if not path:
            return False
        try:
            with open(path, "a", encoding="utf-8", errors="backslashreplace") as fh:
                if fh.tell() > 0:
                    fh.write("\n")  # a blank line after what earlier steps wrote
                fh.write(markdown())
        except OSError as err:
            self.out.write(workflow_command("warning", f"cannot write the job summary {path}: {err.strerror}", title="eqdesign") + "\n")
            return False
        return True
