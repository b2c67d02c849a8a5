"""The account's request budget, waiting line and poll lease in Redis, in the server's clock.

Each call is one script (``scripts``): the same rules as ``shared.ledger.SharedLedger``,
with times from Redis's ``TIME`` so hosts whose clocks disagree share one budget, and with
TTLs where the file ledger asks whether a pid still runs (a pid means nothing on another
host). The poll lease carries a fencing epoch: the thread that claims it records the epoch
in a ``records.Fence``, and every record write from that thread is refused once a newer
poller took over (a holder that was paused and came back cannot overwrite newer news).

When Redis cannot be reached, calls raise ``StoreUnavailableError``: nothing is sent without
a slot, so a pause costs waiting, never a 429 or an SMS. ``problem`` says so until Redis
answers again.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from webull_nb.core.errors import StoreError
from webull_nb.core.status import RATE_LIMIT, RATE_WINDOW
from webull_nb.shared.host import HOST
from webull_nb.shared.ledger import WAITER_GRACE, LedgerLimiter
from webull_nb.shared.redisstore.connect import guarded
from webull_nb.shared.redisstore.keys import Keys
from webull_nb.shared.redisstore.records import Fence
from webull_nb.shared.redisstore.scripts import ACQUIRE, CLAIM_LEASE, RELEASE_LEASE, TIMING

__all__ = ["RedisLedger"]

T = TypeVar("T")


class RedisLedger:
    """The ``storage.Ledger`` of one account in Redis (see the module's docstring)."""

    def __init__(
        self,
        client: Any,
        keys: Keys,
        fence: Fence,
        *,
        limit: int = RATE_LIMIT,
        period: float = RATE_WINDOW,
        host: str = HOST,
    ) -> None:
        self.client = client
        self.keys = keys
        self.limit = limit
        self.period = period
        self.problem = ""
        self._fence = fence
        self._host = host
        self._acquire = client.register_script(ACQUIRE)
        self._timing = client.register_script(TIMING)
        self._claim = client.register_script(CLAIM_LEASE)
        self._release = client.register_script(RELEASE_LEASE)

    def __repr__(self) -> str:
        """Name where the ledger lives."""
        return f"RedisLedger({self.keys.where!r})"

    @contextlib.contextmanager
    def _noting(self) -> Iterator[None]:
        try:
            with guarded(self.keys.where):
                yield
        except StoreError as exc:
            self.problem = f"the shared rate budget is out of reach: {exc}"
            raise
        self.problem = ""

    def _call(self, fn: Callable[..., T], kind: str, *args: object) -> T:
        with self._noting():
            return fn(keys=self.keys.ledger(kind), args=[self.limit, self.period, *args])

    def try_acquire(self, kind: str, owner: str | None = None) -> float:
        """Take a slot for one ``kind`` request and return 0, or take none and return the wait."""
        slot = uuid.uuid4().hex
        return float(self._call(self._acquire, kind, owner or "", slot, WAITER_GRACE))

    def leave_queue(self, kind: str, owner: str) -> None:
        """Give up ``owner``'s place in line."""
        line, until = self.keys.ledger(kind)[1:]
        with contextlib.suppress(StoreError), self._noting():
            self.client.pipeline().zrem(line, owner).hdel(until, owner).execute()

    def wait_time(self, kind: str) -> float:
        """Seconds until a ``kind`` request would be allowed (behind every waiter)."""
        return self.timing(kind)[1]

    def timing(self, kind: str) -> tuple[float, float]:
        """(seconds since the last ``kind`` request of any host, inf when none is recent;
        seconds until one is allowed, behind every waiter)."""
        since, wait = self._call(self._timing, kind)
        return (math.inf if since == "inf" else float(since)), float(wait)

    def claim_lease(self, owner: str, duration: float) -> float:
        """Take or renew the poll lease: 0 if ``owner`` holds it now, else its seconds left."""
        with self._noting():
            taken, value = self._claim(
                keys=[self.keys.lease, self.keys.epoch], args=[owner, max(1, int(duration * 1000))]
            )
        if int(taken) == 0:
            self._fence.epoch = str(value)
            return 0.0
        self._fence.epoch = ""
        return min(max(int(value), 0) / 1000, duration)

    def release_lease(self, owner: str) -> None:
        """Give up the poll lease if ``owner`` holds it."""
        self._fence.epoch = ""
        with contextlib.suppress(StoreError), self._noting():
            self._release(keys=[self.keys.lease], args=[owner])

    def service_offset(self) -> float | None:
        """The service's clock minus this host's, as another process of this host learned it."""
        try:
            with self._noting():
                value = self.client.hget(self.keys.offsets, self._host)
            return float(value) if value is not None else None
        except (StoreError, ValueError):
            return None

    def record_offset(self, offset: float) -> None:
        """Share the service's clock offset with the processes of this host that start later."""
        with contextlib.suppress(StoreError), self._noting():
            self.client.hset(self.keys.offsets, self._host, repr(offset))

    def limiter(self, kind: str) -> LedgerLimiter:
        """A view of one kind of request, shaped like ``http.ratelimit.RateLimiter``."""
        return LedgerLimiter(self, kind)  # type: ignore[arg-type]
