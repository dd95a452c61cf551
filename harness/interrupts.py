"""Ctrl-C and SIGTERM: raise ``KeyboardInterrupt``, and remember that one came.

Python drops an exception raised while a finalizer runs ("Exception ignored in ..."): a signal
that lands during garbage collection would be lost, and a suite the user stopped would run on.
The handler therefore also records the signal, and :func:`check` raises it again where the
driver is between steps (before each batch of runs is planned, at the end of a command). Not
inside executor callbacks: those also run during an executor's own interrupt clean-up.
"""

from __future__ import annotations

import signal

_received: list[int] = []


def honour() -> None:
    """Install the handler for SIGINT and SIGTERM and forget earlier signals.

    SIGINT is taken even when it arrived ignored: a shell without job control starts background
    commands with SIGINT ignored, and `kill -INT` (or a test's Ctrl-C) would be lost.
    """
    forget()
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def forget() -> None:
    """Drop the signals recorded so far (a command has ended: they were acted on)."""
    _received.clear()


def requested() -> bool:
    """Whether a signal came since :func:`honour`, even one whose exception was swallowed."""
    return bool(_received)


def check() -> None:
    """Raise ``KeyboardInterrupt`` if a signal came (again, if something swallowed the first)."""
    if _received:
        raise KeyboardInterrupt


def _interrupt(signum: int, frame: object) -> None:
    _received.append(signum)
    raise KeyboardInterrupt
