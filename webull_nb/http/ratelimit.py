"""The client's side of the 10-per-30 s limit: one sliding window per app key and call type."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from webull_nb.core.status import RATE_LIMIT, RATE_WINDOW

__all__ = ["Limiter", "RateLimiter", "limiter_for"]


class Limiter(Protocol):
    """What the client asks of a rate limiter (``RateLimiter``, or an account's shared ledger)."""

    def try_acquire(self) -> float:
        """Take a slot and return 0, or take nothing and return the seconds to wait."""

    def wait_time(self) -> float:
        """Return the seconds until a call would be allowed."""


class RateLimiter:
    """At most ``limit`` calls in any ``period`` seconds (a sliding window, thread-safe).

    A sliding window rather than a refilling bucket: a bucket of 10 refilling at 1 per
    3 s admits 11 calls in some 30 s windows, which the service would refuse.
    """

    def __init__(
        self,
        limit: int = RATE_LIMIT,
        period: float = RATE_WINDOW,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.period = period
        self._monotonic = monotonic
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def _prune(self, now: float) -> None:
        while self._calls and now - self._calls[0] >= self.period:
            self._calls.popleft()

    def _wait(self, now: float) -> float:
        return (
            0.0 if len(self._calls) < self.limit else max(0.0, self._calls[0] + self.period - now)
        )

    def wait_time(self) -> float:
        """Return the seconds until a call would be allowed (0 when one is allowed now)."""
        with self._lock:
            now = self._monotonic()
            self._prune(now)
            return self._wait(now)

    def try_acquire(self) -> float:
        """Take a slot and return 0, or take nothing and return the seconds to wait."""
        with self._lock:
            now = self._monotonic()
            self._prune(now)
            wait = self._wait(now)
            if wait == 0.0:
                self._calls.append(now)
            return wait


_LIMITERS: dict[tuple[str, str], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(app_key: str, kind: str) -> RateLimiter:
    """Return the process-wide limiter of one app key and call type ('create' or 'check')."""
    # Shared by every Client of the same key, because the service counts per key.
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get((app_key, kind))
        if limiter is None:
            limiter = _LIMITERS[(app_key, kind)] = RateLimiter()
        return limiter


def forget_limiters() -> None:
    """Drop every process-wide limiter (tests start each case with a fresh budget)."""
    with _LIMITERS_LOCK:
        _LIMITERS.clear()
