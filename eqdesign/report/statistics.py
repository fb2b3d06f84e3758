"""``--statistics``: how many findings each rule reported, most frequent first (as text, or JSON)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, TextIO

from ..results import BuildBatch, CheckResult
from .entries import Entry, build_entries, check_entries


def counts(entries: list[Entry]) -> list[dict[str, Any]]:
    tally = Counter((f.rule_id, f.rule, f.severity.value) for e in entries for f in e.findings)
    rows = sorted(tally.items(), key=lambda item: (-item[1], item[0][0]))
    return [{"rule_id": rid, "rule": name, "severity": level, "count": n} for (rid, name, level), n in rows]


class StatisticsReporter:
    def __init__(self, out: TextIO, as_json: bool = False) -> None:
        self.out, self.as_json = out, as_json

    def check(self, result: CheckResult) -> None:
        self._emit(check_entries(result))

    def build(self, batch: BuildBatch) -> None:
        self._emit(build_entries(batch))

    def _emit(self, entries: list[Entry]) -> None:
        rows = counts(entries)
        if self.as_json:
            self.out.write(json.dumps(rows, indent=2) + "\n")
            return
        for row in rows:
            self.out.write(f"{row['count']:>5}  {row['rule_id']}  {row['rule']} ({row['severity']})\n")
        total = sum(row["count"] for row in rows)
        self.out.write(f"{total} finding(s) in {len(entries)} spec(s)\n")
