"""What every user of one account shares through its token directory: locks, a rate ledger, a
poll lease, and a watcher that notices when the store changes.

The token is the account's, not one object's: several notebooks, the terminal command and the
official SDK use one ``token.txt``. Beside it live

* ``token.lock``: held for short read-modify-write sections of the store and the ledger;
* ``token.create.lock``: held for the duration of one token create, so that at most one is in
  flight per account (single flight), across threads and processes;
* ``token.ledger.json``: when each create and check request of the last 30 s was sent, by any
  process, and which process currently polls a PENDING token (its lease).

Locks are ``filelock`` locks (an OS lock on a file, released by the OS when a process dies)
behind a per-process ``threading.RLock`` per path, so threads of one process queue without
polling and nested sections in one thread do not deadlock. On network filesystems whose
locks do not hold, this degrades to what each process does alone (see the README).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import filelock

from .errors import StoreLockError
from .store import TokenStore

__all__ = ["AccountLock", "RateLedger", "StoreWatcher", "watcher"]

log = logging.getLogger(__name__)

LOCK_FILE = "token.lock"
CREATE_LOCK_FILE = "token.create.lock"
LEDGER_FILE = "token.ledger.json"
# The service allows 10 create and 10 check requests per 30 s per app key; half a second of
# margin keeps network jitter from squeezing 11 arrivals into the server's window.
RATE_LIMIT = 10
RATE_PERIOD = 30.5
SHORT_SECTION_TIMEOUT = 10.0

_process_locks: dict[str, tuple[threading.RLock, filelock.FileLock]] = {}
_process_locks_guard = threading.Lock()


def _locks_for(path: Path) -> tuple[threading.RLock, filelock.FileLock]:
    key = str(path)
    with _process_locks_guard:
        pair = _process_locks.get(key)
        if pair is None:
            # thread_local=False: the RLock in front already serialises this process's
            # threads, and the file lock's own counter then makes nesting in one thread safe.
            pair = (threading.RLock(), filelock.FileLock(key, mode=0o600, thread_local=False))
            _process_locks[key] = pair
        return pair


class AccountLock:
    """One named lock of a token directory, across the threads and processes that use it."""

    def __init__(self, directory: Path, name: str = LOCK_FILE) -> None:
        self.directory = directory
        self.path = directory / name
        self._thread_lock, self._file_lock = _locks_for(self.path)
        self._degraded = False

    def __repr__(self) -> str:
        """Name the lock file."""
        return f"AccountLock({str(self.path)!r})"

    @contextlib.contextmanager
    def hold(self, timeout: float = SHORT_SECTION_TIMEOUT):  # type: ignore[no-untyped-def]
        """Hold the lock for a ``with`` block; ``StoreLockError`` if it stays taken too long."""
        if not self._thread_lock.acquire(timeout=timeout):
            raise self._timeout_error(timeout)
        try:
            locked = self._lock_file(timeout)
            try:
                yield
            finally:
                if locked:
                    self._file_lock.release()
        finally:
            self._thread_lock.release()

    def _lock_file(self, timeout: float) -> bool:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._file_lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise self._timeout_error(timeout) from None
        except OSError as exc:
            # A read-only or vanished directory: there is no store to protect either, so
            # carry on with this process's own lock rather than fail every call.
            if not self._degraded:
                self._degraded = True
                log.warning(
                    "cannot lock %s (%s): coordinating within this process only",
                    self.path,
                    exc.strerror or exc,
                )
            return False
        return True

    def _timeout_error(self, timeout: float) -> StoreLockError:
        return StoreLockError(
            f"the token lock {self.path} stayed taken for over {timeout:.0f} s: another "
            "process may be stuck; try again, or remove the lock file if no other process "
            "uses this token directory"
        )


class RateLedger:
    """The account's request budget and poll lease, shared by every process in one file."""

    def __init__(
        self,
        store: TokenStore,
        lock: AccountLock,
        *,
        limit: int = RATE_LIMIT,
        period: float = RATE_PERIOD,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.lock = lock
        self.limit = limit
        self.period = period
        # Wall-clock time: it is the only clock that processes share.
        self._clock = clock

    @property
    def path(self) -> Path:
        """The ledger file."""
        return self.store.directory / LEDGER_FILE

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, RecursionError):
            log.warning("the rate ledger %s is unreadable; starting a new one", self.path)
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # a read-only store: the budget is then per process
            self.store.write_private(LEDGER_FILE, json.dumps(data).encode("utf-8"))

    def _recent(self, data: dict[str, Any], kind: str, now: float) -> list[float]:
        raw = data.get(kind)
        values = raw if isinstance(raw, list) else []
        # Entries from the future mean the wall clock jumped back; they cannot be trusted.
        return sorted(
            v
            for v in values
            if isinstance(v, (int, float)) and math.isfinite(v) and now - self.period < v <= now + 1
        )

    def _wait(self, recent: list[float], now: float) -> float:
        if len(recent) < self.limit:
            return 0.0
        return max(0.0, recent[-self.limit] + self.period - now)

    def try_acquire(self, kind: str) -> float:
        """Take a slot for one ``kind`` request and return 0, or take none and return the wait."""
        with self.lock.hold():
            data = self._read()
            now = self._clock()
            recent = self._recent(data, kind, now)
            wait = self._wait(recent, now)
            if wait <= 0:
                data[kind] = [*recent, now]
                self._write(data)
            return wait

    def wait_time(self, kind: str) -> float:
        """Seconds until a ``kind`` request would be allowed (0 when one is allowed now)."""
        now = self._clock()
        return self._wait(self._recent(self._read(), kind, now), now)

    def timing(self, kind: str) -> tuple[float, float]:
        """(seconds since the last ``kind`` request of any process, inf when none is recent;
        seconds until one is allowed), from one read of the ledger."""
        now = self._clock()
        recent = self._recent(self._read(), kind, now)
        return (now - recent[-1] if recent else math.inf), self._wait(recent, now)

    def claim_lease(self, owner: str, duration: float) -> float:
        """Take or renew the poll lease: 0 if ``owner`` holds it now, else its seconds left."""
        with self.lock.hold():
            data = self._read()
            now = self._clock()
            lease = data.get("poller")
            if isinstance(lease, dict) and lease.get("owner") != owner:
                until = lease.get("until")
                if isinstance(until, (int, float)) and now < until <= now + 10 * duration:
                    return until - now
            data["poller"] = {"owner": owner, "pid": os.getpid(), "until": now + duration}
            self._write(data)
            return 0.0

    def release_lease(self, owner: str) -> None:
        """Give up the poll lease if ``owner`` holds it."""
        with contextlib.suppress(StoreLockError), self.lock.hold():
            data = self._read()
            lease = data.get("poller")
            if isinstance(lease, dict) and lease.get("owner") == owner:
                del data["poller"]
                self._write(data)

    def limiter(self, kind: str) -> LedgerLimiter:
        """A view of one kind of request, shaped like ``client.RateLimiter``."""
        return LedgerLimiter(self, kind)


class LedgerLimiter:
    """``try_acquire`` / ``wait_time`` for one kind of request, backed by the shared ledger."""

    def __init__(self, ledger: RateLedger, kind: str) -> None:
        self.ledger = ledger
        self.kind = kind
        self.limit = ledger.limit
        self.period = ledger.period

    def try_acquire(self) -> float:
        """Take a slot and return 0, or take nothing and return the seconds to wait."""
        return self.ledger.try_acquire(self.kind)

    def wait_time(self) -> float:
        """Return the seconds until a call would be allowed (0 when one is allowed now)."""
        return self.ledger.wait_time(self.kind)


class Watched(Protocol):
    """What the store watcher needs of an account."""

    def store_signature(self) -> object:
        """The signature of the store as last adopted."""

    def current_signature(self) -> object:
        """The signature of the store on disk now."""

    def reload(self) -> None:
        """Adopt what the store holds now."""

    def watch_fast(self) -> bool:
        """Whether a change is expected soon (a token is PENDING)."""


class StoreWatcher:
    """One thread per process that notices when any watched account's store changes on disk.

    It only stats two files per account per round (0.05 s apart while a token is PENDING,
    0.5 s otherwise) and reads them only when they changed: no API calls, so another
    kernel's NORMAL shows here within about a second for free.
    """

    FAST = 0.05
    SLOW = 0.5

    def __init__(self) -> None:
        self._targets: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, target: Watched) -> None:
        """Start watching ``target`` (weakly: a collected account drops out by itself)."""
        with self._lock:
            self._targets.add(target)
            if self._thread is not None and self._thread.is_alive():
                self._wake.set()
                return
            self._thread = threading.Thread(
                target=self._run, name="webull-nb-store-watcher", daemon=True
            )
        self._thread.start()

    def discard(self, target: Watched) -> None:
        """Stop watching ``target``."""
        with self._lock:
            self._targets.discard(target)

    def wake(self) -> None:
        """Look again now (say, a token just went PENDING and wants the fast pace)."""
        self._wake.set()

    def _run(self) -> None:
        while True:
            with self._lock:
                targets = list(self._targets)
                if not targets:
                    self._thread = None
                    return
            fast = False
            for target in targets:
                try:
                    if target.current_signature() != target.store_signature():
                        target.reload()
                    fast = fast or target.watch_fast()
                except Exception:  # one broken account must not stop watching the others
                    log.exception("webull-nb: watching a token store failed")
            del targets  # no strong references while sleeping: closed accounts may go
            self._wake.wait(self.FAST if fast else self.SLOW)
            self._wake.clear()


watcher = StoreWatcher()
