"""The shared request budget, waiting line and poll lease of one account, over any backend.

The rules live here once; a backend only keeps the ledger, one JSON-shaped object, behind a
lock (``storage.LedgerState``): a file in the token directory, or this process's memory.

Times are this host's monotonic clock (``host.HOST`` names it), so a wall clock that steps
either way neither frees nor blocks the budget; a ledger written under another clock's name
(another boot, another machine on a shared folder) is ignored. Every slot this process
takes is also kept in memory, so when the ledger cannot be written (a read-only or full
disk) the process still keeps to the limit on its own, and ``problem`` says the budget is no
longer shared. Waiters (``try_acquire(kind, owner)``) queue in the ledger and are served
oldest first; callers that do not wait go behind every waiter.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from webull_nb.core.errors import StoreError
from webull_nb.core.status import RATE_LIMIT, RATE_WINDOW
from webull_nb.shared.host import HOST, process_gone
from webull_nb.shared.storage import SHORT_SECTION_TIMEOUT, LedgerState

__all__ = ["WAITER_GRACE", "LedgerLimiter", "SharedLedger"]

log = logging.getLogger(__name__)

# A waiter that neither takes its slot nor renews its place this long after its turn has gone.
WAITER_GRACE = 3.0


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class SharedLedger:
    """The account's budget, line and lease, kept in a backend's ``LedgerState``."""

    def __init__(
        self,
        state: LedgerState,
        *,
        limit: int = RATE_LIMIT,
        period: float = RATE_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        host: str = HOST,
    ) -> None:
        self.state = state
        self.lock = state.lock
        self.limit = limit
        self.period = period
        self.problem = ""
        self._clock = clock
        self._host = host
        self._local: dict[str, list[float]] = {}

    def __repr__(self) -> str:
        """Name where the ledger lives."""
        return f"SharedLedger({self.state.where!r})"

    def _read(self) -> dict[str, Any]:
        data = self.state.read()
        if not isinstance(data, dict) or data.get("host") != self._host:
            return {}  # another boot or machine: its clock is not ours
        return data

    def _write(self, data: dict[str, Any]) -> None:
        data["host"] = self._host
        try:
            self.state.write(data)
        except OSError as exc:
            if not self.problem:
                self.problem = (
                    f"cannot write the rate ledger {self.state.where} ({exc.strerror or exc}): "
                    f"this process keeps to {self.limit} checks per {self.period:.0f} s on its "
                    "own, but the budget is no longer shared with other processes"
                )
                log.warning("%s", self.problem)
        else:
            self.problem = ""

    def _recent(self, data: dict[str, Any], kind: str, now: float) -> list[float]:
        raw = data.get(kind)
        shared = Counter(
            v
            for v in (raw if isinstance(raw, list) else [])
            if _number(v) and now - self.period < v <= now + 1
        )
        # Our own slots count even when the ledger lost them (it could not be written); the
        # ones it holds count once.
        mine = Counter(v for v in self._local.get(kind, []) if v > now - self.period)
        return sorted((shared | mine).elements())

    def _queue(self, data: dict[str, Any], kind: str, now: float) -> list[list[Any]]:
        """The live waiters for ``kind``, oldest first: [since, owner, pid, until]."""
        waiting = data.get("waiting")
        raw = waiting.get(kind) if isinstance(waiting, dict) else None
        queue = [
            entry
            for entry in (raw if isinstance(raw, list) else [])
            if isinstance(entry, list)
            and len(entry) == 4
            and _number(entry[0])
            and _number(entry[3])
            and entry[3] > now
            and not process_gone(entry[2])
        ]
        return sorted(queue, key=lambda entry: entry[0])

    def _wait(self, recent: list[float], now: float, position: int = 0) -> float:
        """Seconds until the slot for the ``position``-th caller in line opens."""
        free = self.limit - len(recent)
        if position < free:
            return 0.0
        if not recent:
            return self.period
        rounds, index = divmod(position - max(free, 0), len(recent))
        return max(0.0, recent[index] + (rounds + 1) * self.period - now)

    def try_acquire(self, kind: str, owner: str | None = None) -> float:
        """Take a slot for one ``kind`` request and return 0, or take none and return the wait.

        ``owner`` names a caller that will come back after the wait: it keeps its place in
        line, so a waiter is never overtaken by later ones.
        """
        with self.lock.hold():
            data = self._read()
            now = self._clock()
            recent = self._recent(data, kind, now)
            queue = self._queue(data, kind, now)
            mine = next((entry for entry in queue if entry[1] == owner), None)
            position = queue.index(mine) if mine is not None else len(queue)
            wait = self._wait(recent, now, position)
            if wait <= 0:
                if mine is not None:
                    queue.remove(mine)
                recent.append(now)
                # Pruned and extended under the lock only: no thread loses another's slot.
                kept = [v for v in self._local.get(kind, []) if v > now - self.period]
                self._local[kind] = [*kept, now]
            elif owner is not None:
                if mine is None:
                    mine = [now, owner, os.getpid(), 0.0]
                    queue.append(mine)
                mine[3] = now + wait + WAITER_GRACE
            else:
                return wait  # nothing to record: no write, no wake-up for other processes
            data[kind] = recent
            if not isinstance(data.get("waiting"), dict):
                data["waiting"] = {}
            data["waiting"][kind] = queue
            self._write(data)
            return wait

    def leave_queue(self, kind: str, owner: str) -> None:
        """Give up ``owner``'s place in line (it stopped waiting)."""
        with contextlib.suppress(StoreError), self.lock.hold():
            data = self._read()
            waiting = data.get("waiting")
            raw = waiting.get(kind) if isinstance(waiting, dict) else None
            if isinstance(raw, list) and any(
                isinstance(e, list) and len(e) > 1 and e[1] == owner for e in raw
            ):
                waiting[kind] = [e for e in raw if not (isinstance(e, list) and e[1:2] == [owner])]
                self._write(data)

    def wait_time(self, kind: str) -> float:
        """Seconds until a ``kind`` request would be allowed (0 when one is allowed now)."""
        return self.timing(kind)[1]

    def timing(self, kind: str) -> tuple[float, float]:
        """(seconds since the last ``kind`` request of any process, inf when none is recent;
        seconds until one is allowed, behind every waiter), from one read of the ledger."""
        data = self._read()
        now = self._clock()
        recent = self._recent(data, kind, now)
        wait = self._wait(recent, now, len(self._queue(data, kind, now)))
        return (now - recent[-1] if recent else math.inf), wait

    def claim_lease(self, owner: str, duration: float) -> float:
        """Take or renew the poll lease: 0 if ``owner`` holds it now, else its seconds left.

        A lease never counts for longer than ``duration`` from now, and one whose holder no
        longer runs on this host is free at once.
        """
        with self.lock.hold(timeout=min(SHORT_SECTION_TIMEOUT, duration / 3)):
            data = self._read()
            now = self._clock()
            lease = data.get("poller")
            if isinstance(lease, dict) and lease.get("owner") != owner:
                until = lease.get("until")
                if _number(until) and now < until and not process_gone(lease.get("pid")):
                    return min(until - now, duration)
            data["poller"] = {"owner": owner, "pid": os.getpid(), "until": now + duration}
            self._write(data)
            return 0.0

    def release_lease(self, owner: str) -> None:
        """Give up the poll lease if ``owner`` holds it."""
        with contextlib.suppress(StoreError), self.lock.hold(timeout=1.0):
            data = self._read()
            lease = data.get("poller")
            if isinstance(lease, dict) and lease.get("owner") == owner:
                del data["poller"]
                self._write(data)

    def service_offset(self) -> float | None:
        """The service's clock minus this host's, as another process last learned it."""
        value = self._read().get("service_offset")
        return float(value) if _number(value) else None

    def record_offset(self, offset: float) -> None:
        """Share the service's clock offset learned here with the processes that start later."""
        with contextlib.suppress(StoreError), self.lock.hold(timeout=1.0):
            data = self._read()
            if data.get("service_offset") != offset:
                data["service_offset"] = offset
                self._write(data)

    def limiter(self, kind: str) -> LedgerLimiter:
        """A view of one kind of request, shaped like ``http.ratelimit.RateLimiter``."""
        return LedgerLimiter(self, kind)


class LedgerLimiter:
    """``try_acquire`` / ``wait_time`` for one kind of request, backed by the shared ledger.

    A thread inside ``waiting_as(owner)`` queues as that waiter; other calls do not queue.
    """

    def __init__(self, ledger: SharedLedger, kind: str) -> None:
        self.ledger = ledger
        self.kind = kind
        self.limit = ledger.limit
        self.period = ledger.period
        self._waiter = threading.local()

    @contextlib.contextmanager
    def waiting_as(self, owner: str) -> Iterator[None]:
        """Within the block, this thread's requests keep ``owner``'s place in line."""
        self._waiter.owner = owner
        try:
            yield
        finally:
            self._waiter.owner = None

    def try_acquire(self) -> float:
        """Take a slot and return 0, or take nothing and return the seconds to wait."""
        return self.ledger.try_acquire(self.kind, getattr(self._waiter, "owner", None))

    def wait_time(self) -> float:
        """Return the seconds until a call would be allowed (0 when one is allowed now)."""
        return self.ledger.wait_time(self.kind)
