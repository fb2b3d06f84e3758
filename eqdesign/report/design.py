"""Reports of `eqdesign design`: the comparison and the rejected families (human, on stderr when the spec
goes to stdout), or one JSON document (``design_json``, versioned by ``SCHEMA_VERSION``)."""

from __future__ import annotations

from typing import Any, TextIO

from .. import __version__
from ..analysis.search import Candidate, DesignResult, comparison_lines, describe

SCHEMA_VERSION = 1  # `design --format json`


def candidate_json(rank: int, c: Candidate, tolerance: float) -> dict[str, Any]:
    return {
        "rank": rank,
        "family": c.family,
        "hidden": [h.nonlinearity for h in c.hidden],
        "band_limit": c.band_limit,
        "channels": c.channels,
        "params": c.params,
        "macs_per_sample": {
            "compiled": c.cost["compiled_macs"],
            "escnn_dense": c.cost["escnn_dense_macs"],
            "plain_mlp": c.cost["plain_mlp_macs"],
        },
        "activations_per_sample": c.cost["activations"],
        "elementwise_per_sample": c.cost["elementwise"],
        "time_units_per_sample": c.cost["time_units"],
        "exact": c.exact,
        "predicted_error": c.predicted_error(tolerance),
        "measured_error": c.measured_error,
        "seconds_per_batch_512": c.seconds_per_batch,
        "val_loss": c.val_loss,
    }


def design_json(result: DesignResult, file: str | None) -> dict[str, Any]:
    ask = result.ask
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "eqdesign", "version": __version__},
        "ask": {
            "group": ask.group,
            "input": ask.input,
            "output": ask.output,
            "params": ask.params,
            "tolerance": ask.tolerance,
            "layers": ask.layers,
            "from": ask.partial,
        },
        "exit_code": int(result.exit_code),
        "messages": result.messages,
        "measured": result.measured,
        "trained": result.trained or None,
        "seconds": result.seconds,
        "candidates": [candidate_json(k, c, ask.tolerance) for k, c in enumerate(result.ranked, 1)],
        "rejected": [{"family": f, "reason": why} for f, why in result.rejected],
        "chosen": 1 if result.ok else None,
        "spec": result.text or None,
        "file": file if result.ok else None,
    }


def human(result: DesignResult, out: TextIO) -> None:
    """The comparison, why the other families lost, and the choice."""
    for message in result.messages:
        out.write(f"error: {message}\n")
    if result.ranked:
        out.write(f"{len(result.ranked)} candidates pass the check ({result.seconds:.1f} s):\n")
        out.write("\n".join(comparison_lines(result)) + "\n")
    for family, why in result.rejected:
        out.write(f"rejected {family}: {why}\n")
    if result.ok:
        out.write(f"chosen: {describe(result.ranked[0])}\n")
