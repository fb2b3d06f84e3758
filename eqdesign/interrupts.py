"""SIGTERM and SIGINT, remembered: a signal ends the command as interrupted (128 + the signal's number),
even where third-party code swallowed the exception raised for it.

The handlers raise (SystemExit for SIGTERM, KeyboardInterrupt for SIGINT), so that artifact writers remove
their temporary files on the way out. But escnn 1.0.11 has a bare ``except:`` (so3_utils._check_param) that
swallows either, and the build then fails further on as if eqdesign had a defect. The handlers therefore
also record the signal, and the code that catches exceptions asks ``pending()`` before calling anything an
internal error.
"""

from __future__ import annotations

import signal
from types import FrameType

_RECEIVED: list[int] = []


def install() -> None:
    """Handle SIGTERM, and SIGINT unless the parent ignored it (a background job started with ``&``)."""
    signal.signal(signal.SIGTERM, _terminate)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)


def _terminate(signum: int, frame: FrameType | None) -> None:
    _RECEIVED.append(signum)
    raise SystemExit(exit_code(signum))


def _interrupt(signum: int, frame: FrameType | None) -> None:
    _RECEIVED.append(signum)
    raise KeyboardInterrupt


def pending() -> int | None:
    """The first signal received, if any."""
    return _RECEIVED[0] if _RECEIVED else None


def exit_code(signum: int) -> int:
    """The shell's convention: 128 + the signal's number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + signum


def stop_if_pending() -> None:
    """Re-raise a signal that arrived but whose exception someone swallowed."""
    signum = pending()
    if signum is not None:
        raise SystemExit(exit_code(signum))


def describe(signum: int) -> str:
    return signal.Signals(signum).name
