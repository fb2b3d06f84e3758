"""The exit codes of every command, in one place (they match actionlint's and ruff's conventions)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # clean (warnings allowed unless --strict)
    FINDINGS = 1  # error findings, or a failed build or verification
    SPEC = 2  # usage error, or a file that cannot be read as a spec or an artifact
    INTERNAL = 3  # a defect in eqdesign: rerun with EQDESIGN_DEBUG=1 for the traceback
    INTERRUPTED = 130  # SIGINT
