"""``check``: what `eqdesign check` reports about one spec, as an object."""

from __future__ import annotations

import io
from typing import Any

from ..analysis.checking import SpecResult, check_file
from ..exitcodes import ExitCode
from ..findings import Finding, Severity
from ..report.human import HumanReporter
from ..report.jsonfmt import spec_json
from ..results import CheckResult
from .spec import SpecSource, load_spec

__all__ = ["CheckReport", "SpecResult", "check", "check_file"]


class CheckReport:
    """The check of one spec: its findings, and (where the spec resolves) its field types, Schur blocks,
    mixing, influence, ideal influence and cost. ``ok`` is the verdict of `eqdesign check` (warnings fail
    it only when ``strict``). ``as_dict()`` is the spec's entry of `eqdesign check --format json`, and
    ``str()`` the human report.

    >>> report = check("specs/so3-vector-mlp.yaml")
    >>> report.ok, report.errors, report.warnings
    (True, 0, 1)
    >>> report.influence  # output irrep -> the input irreps it can depend on
    {'0': ['0', '1'], '1': ['0', '1']}
    """

    def __init__(self, result: SpecResult, strict: bool = False) -> None:
        self._result, self.strict = result, strict

    @property
    def findings(self) -> list[Finding]:
        return self._result.all_findings()

    @property
    def exit_code(self) -> int:
        return int(self._result.exit_code(self.strict))

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK

    @property
    def errors(self) -> int:
        return sum(f.severity == Severity.ERROR for f in self.findings)

    @property
    def warnings(self) -> int:
        return self._result.warnings

    def as_dict(self) -> dict[str, Any]:
        return spec_json(self._result, self.strict)

    @property
    def field_types(self) -> list[dict[str, Any]]:
        """Each layer's input and output field types: irreps, fields and dimension (``kind``: linear, or the
        nonlinearity's kind)."""
        return [{"kind": x["kind"], "in": x["in"], "out": x["out"]} for x in self.as_dict()["layers"]]

    @property
    def schur_blocks(self) -> list[list[dict[str, Any]]]:
        """Each linear layer's Schur blocks (one per irrep the two sides share): multiplicities and parameters."""
        return [x["blocks"] for x in self.as_dict()["layers"] if x["kind"] == "linear"]

    @property
    def mixing(self) -> list[dict[str, Any]]:
        return list(self.as_dict().get("mixing", []))

    @property
    def influence(self) -> dict[str, list[str]]:
        """Output field -> the input fields it can depend on, through this architecture."""
        return self._result.influence

    @property
    def ideal_influence(self) -> dict[str, list[str]]:
        """Output field -> the input fields some equivariant network could make it depend on."""
        return self._result.ideal_influence

    @property
    def cost(self) -> dict[str, Any]:
        """Parameters, MACs and activations per sample, per layer and in total."""
        return dict(self.as_dict().get("cost", {}))

    @property
    def hidden_symmetry(self) -> dict[str, Any] | None:
        return self._result.hidden_symmetry

    def __str__(self) -> str:
        out = io.StringIO()
        HumanReporter(out).check(CheckResult([self._result], self.strict))
        return out.getvalue()

    def __repr__(self) -> str:
        return f"CheckReport(file={self._result.file!r}, ok={self.ok}, errors={self.errors}, warnings={self.warnings})"


def check(spec: SpecSource, *, strict: bool = False) -> CheckReport:
    """Check a spec (a :class:`Spec`, or anything :func:`load_spec` reads) as `eqdesign check` does.

    Raises :class:`SpecError` for a spec that cannot be read; every other finding is in the report.

    >>> report = check("name: zero\\ngroup: so3\\ninput: 1x 0\\noutput: 1x vector\\nhidden: []\\n")
    >>> report.ok
    False
    >>> [f.rule for f in report.findings if f.severity == "error"]
    ['empty-linear', 'unreachable-output']
    """
    return CheckReport(load_spec(spec)._checked, strict)  # checked when loaded: the findings do not change
