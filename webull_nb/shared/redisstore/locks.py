"""The create lock across hosts: ``SET NX PX`` with an owner, kept alive while it is held.

redis-py's ``Lock`` does the server side (an owner value, a TTL, compare-and-delete release,
``extend``); ``thread_local=False`` because the thread that renews it is not the one that
took it. A thread of ours renews the TTL while the ``with`` block runs, for at most
``MAX_HOLD`` seconds: a holder that hangs forever, or a process that is stopped or killed,
loses the lock within ``TTL`` and another host takes over. In front sits one
``threading.RLock`` per lock, so this process's threads queue without polling Redis and a
thread may nest sections.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from webull_nb.core.errors import StoreError, StoreLockError
from webull_nb.shared.redisstore.connect import guarded, import_redis
from webull_nb.shared.storage import SHORT_SECTION_TIMEOUT

__all__ = ["MAX_HOLD", "TTL", "RedisLock"]

log = logging.getLogger(__name__)

#: A holder that vanishes frees the lock this many seconds later at most.
TTL = 10.0
#: No section holds the lock longer (a create, or a check waiting its turn, is far shorter).
MAX_HOLD = 180.0
# How often a waiting host looks again; a create takes a second, so this costs little.
_RETRY = 0.05


class RedisLock:
    """A lock shared by every host of the account (see the module's docstring)."""

    def __init__(self, client: Any, name: str, where: str, *, ttl: float = TTL) -> None:
        self.problem = ""
        self.where = where
        self._ttl = ttl
        self._lock = client.lock(name, timeout=ttl, sleep=_RETRY, thread_local=False)
        self._local = threading.RLock()
        self._depth = 0
        self._released = threading.Event()
        self._lapsed = import_redis().exceptions.LockError

    def __repr__(self) -> str:
        """Name the lock."""
        return f"RedisLock({self.where!r})"

    @contextlib.contextmanager
    def hold(
        self, timeout: float = SHORT_SECTION_TIMEOUT, *, required: bool = False
    ) -> Iterator[None]:
        """Hold the lock for a ``with`` block; ``StoreLockError`` after ``timeout`` seconds.

        Redis out of reach raises ``StoreUnavailableError`` whether ``required`` or not: a
        lock that cannot be taken is never skipped silently here.
        """
        del required
        # One deadline for both waits: a thread behind another of this process's threads
        # must not then wait the whole timeout again for the hosts.
        deadline = time.monotonic() + max(timeout, 0.0)
        if not self._local.acquire(timeout=max(timeout, 0)):
            raise StoreLockError(f"another thread held the lock {self.where} for {timeout:.0f} s")
        try:
            if self._depth == 0:
                self._take(max(deadline - time.monotonic(), 0.0), timeout)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._give_back()
        finally:
            self._local.release()

    def _take(self, left: float, timeout: float) -> None:
        # redis-py gives up as soon as its next try would fall past ``blocking_timeout``, up
        # to one retry step early: one step more makes its last try come after ``left``.
        with guarded(self.where):
            taken = self._lock.acquire(blocking=True, blocking_timeout=left + _RETRY)
        if not taken:
            raise StoreLockError(
                f"another host has held the lock {self.where} for over {timeout:.0f} s; "
                f"if it died, the lock frees itself within {self._ttl:.0f} s"
            )
        self.problem = ""
        self._released.clear()
        threading.Thread(target=self._renew, name="webull-nb-redis-lock", daemon=True).start()

    def _renew(self) -> None:
        held = 0.0
        step = self._ttl / 3
        while not self._released.wait(step):
            held += step
            if held > MAX_HOLD:
                log.warning("%s held for over %.0f s: no longer renewed", self.where, MAX_HOLD)
                return
            try:
                with guarded(self.where):
                    try:
                        self._lock.extend(self._ttl, replace_ttl=True)
                    except self._lapsed:  # someone else holds it now: nothing to renew
                        self.problem = f"the lock {self.where} lapsed while it was held"
                        log.warning("%s", self.problem)
                        return
            except StoreError as exc:
                self.problem = str(exc)  # out of reach for now: try again next step

    def _give_back(self) -> None:
        self._released.set()
        try:
            with guarded(self.where):
                try:
                    self._lock.release()
                except self._lapsed:
                    log.info("%s had lapsed before it was released", self.where)
        except StoreError as exc:
            self.problem = str(exc)  # out of reach: it frees itself within its TTL
