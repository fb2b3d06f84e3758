"""Which findings a spec reports: the configuration's select/ignore/severity, then the spec's own
``lint: {ignore: [...]}``. A suppression that silences nothing is itself a finding (unused-suppression)."""

from __future__ import annotations

from dataclasses import replace

from ..findings import MANDATORY, RULES, Finding, make
from ..spec.load import LoadedSpec
from .config import MANDATORY_HINT, Config, rule_names, unknown_rule_hint


def apply_rules(loaded: LoadedSpec, config: Config, findings: list[Finding]) -> list[Finding]:
    kept = [_with_severity(f, config) for f in findings if config.enabled(f.rule)]
    problems, ignored = _suppressions(loaded)
    out = [f for f in kept if f.rule not in ignored]
    return problems + out + _unused(loaded, config, ignored, {f.rule for f in kept})


def suppressed(loaded: LoadedSpec) -> set[str]:
    """The rules this spec's lint: silences (those named correctly)."""
    return set(_suppressions(loaded)[1])


def _with_severity(f: Finding, config: Config) -> Finding:
    level = config.severity.get(f.rule)
    return f if level is None else replace(f, severity=level)


def _suppressions(loaded: LoadedSpec) -> tuple[list[Finding], dict[str, int]]:
    """Findings for names that name no rule or a mandatory one, and each silenced rule's item index."""
    problems: list[Finding] = []
    ignored: dict[str, int] = {}
    for index, word in enumerate(loaded.spec.lint.ignore):
        where = loaded.at(("lint", "ignore", index))
        names = rule_names(word)
        if not names:
            problems.append(make("schema", f"lint.ignore names no rule: {word!r}", where, unknown_rule_hint(word)))
        elif set(names) & MANDATORY and len(names) == 1:
            problems.append(make("schema", f"{names[0]} ({RULES[names[0]].rule_id}) cannot be ignored", where, MANDATORY_HINT))
        for name in names:
            ignored.setdefault(name, index)
    return problems, {n: i for n, i in ignored.items() if n not in MANDATORY}


def _unused(loaded: LoadedSpec, config: Config, ignored: dict[str, int], reported: set[str]) -> list[Finding]:
    if not config.enabled("unused-suppression") or "unused-suppression" in ignored:
        return []
    items: dict[int, list[str]] = {}
    for name, index in ignored.items():
        items.setdefault(index, []).append(name)
    return [
        make(
            "unused-suppression",
            f"lint.ignore names {loaded.spec.lint.ignore[index]!r}, but this spec has no such finding",
            loaded.at(("lint", "ignore", index)),
            "remove it: a stale suppression would hide the next real finding",
        )
        for index, names in sorted(items.items())
        if not set(names) & reported
    ]
