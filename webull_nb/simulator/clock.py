"""A clock that moves only when told to, so tests and demos can skip minutes or days."""

from __future__ import annotations

import threading
import time

__all__ = ["ManualClock"]


class ManualClock:
    """A clock that moves only when told to: pass it to Simulator and Session to skip time."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """Return the current (manual) epoch seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new time."""
        with self._lock:
            self._now += seconds
            return self._now

    def __repr__(self) -> str:
        """Show the time it reads."""
        return f"ManualClock({time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(self()))})"
