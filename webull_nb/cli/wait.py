"""Waiting in a terminal for a PENDING token to be approved, with a countdown on stderr."""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from webull_nb.core import messages

if TYPE_CHECKING:
    from webull_nb.session.session import Session

__all__ = ["wait_for_approval"]


def _tick(session: Session, stop: threading.Event) -> None:
    """Redraw a one-line countdown on stderr every second until ``stop`` is set."""
    while True:
        line = messages.ticker(session.status, session.seconds_left())
        sys.stderr.write("\r\x1b[2K" + line)
        sys.stderr.flush()
        if stop.wait(1.0):
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            return


def wait_for_approval(session: Session, timeout: float) -> str:
    """Wait up to ``timeout`` seconds for the PENDING token to settle; return its status.

    Not ``session.wait()``: that one swallows Ctrl-C and says checks go on in the background,
    true in a kernel, but this process exits; here Ctrl-C reaches the caller, which says so.
    """
    if timeout <= 0 or session.status != "PENDING":
        return session.status
    settled = threading.Event()

    def on_change(change: Any) -> None:
        if session.status != "PENDING":
            settled.set()

    session.observe(on_change, "status")
    stop = threading.Event()
    ticker = None
    if sys.stderr.isatty():
        ticker = threading.Thread(target=_tick, args=(session, stop), daemon=True)
        ticker.start()
    try:
        end = time.monotonic() + timeout
        while session.status == "PENDING":
            left = end - time.monotonic()
            if left <= 0:
                break
            # Short slices: a long lock wait is not interruptible by Ctrl-C everywhere.
            settled.wait(min(left, 0.5))
        return session.status
    finally:
        session.unobserve(on_change, "status")
        stop.set()
        if ticker is not None:
            ticker.join()
