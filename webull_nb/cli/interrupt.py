"""Ctrl-C in a terminal command: the first press interrupts, later presses are ignored."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

__all__ = ["one_interrupt"]


@contextlib.contextmanager
def one_interrupt() -> Iterator[list[bool]]:
    """Turn the first Ctrl-C into ``KeyboardInterrupt`` and ignore every later one.

    A second Ctrl-C while the first one is handled (or while the session closes and releases
    its file locks) would otherwise print a traceback from deep inside the cleanup. Yields a
    flag list: set ``[0]`` to True once only cleanup is left, so that a Ctrl-C then is ignored.
    After an interrupt SIGINT stays ignored: the process exits next, and Python would restore
    the default action while it shuts down, so a late press would kill it mid-exit.
    """
    done = [False]
    if threading.current_thread() is not threading.main_thread():
        yield done
        return
    interrupted = []

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if not done[0]:
            done[0] = True
            interrupted.append(signum)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield done
    finally:
        if not interrupted:
            signal.signal(signal.SIGINT, previous)
