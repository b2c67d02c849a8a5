"""A backend in this process's memory: the storage interface with nothing on disk.

For accounts that live and die with one process (a class on one simulator, a test), and as
the second implementation that keeps the interface honest: ``Account`` runs on it unchanged.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from webull_nb.core.errors import StoreLockError
from webull_nb.core.status import valid_token_text
from webull_nb.shared.ledger import SharedLedger
from webull_nb.shared.storage import SHORT_SECTION_TIMEOUT, StoredToken, Watched, may_replace

__all__ = ["MemoryLock", "MemoryRecords", "MemoryStorage"]


class MemoryLock:
    """A lock of this process only (reentrant, bounded waits)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problem = ""
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def hold(
        self, timeout: float = SHORT_SECTION_TIMEOUT, *, required: bool = False
    ) -> Iterator[None]:
        """Hold the lock for a ``with`` block; ``StoreLockError`` after ``timeout`` seconds."""
        del required  # this lock can always be used
        if not self._lock.acquire(timeout=max(timeout, 0)):
            raise StoreLockError(f"the {self.name} lock has been held for over {timeout:.0f} s")
        try:
            yield
        finally:
            self._lock.release()


class MemoryRecords:
    """The token record as a value in memory; every write calls ``on_change``."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.problem = ""
        self._token: StoredToken | None = None
        self._version = 0
        self._written = 0.0
        self._on_change = on_change

    def load(self) -> StoredToken | None:
        """The stored token, or None."""
        return self._token

    def _write(self, token: StoredToken | None) -> None:
        self._token = token
        self._version += 1
        self._written = time.monotonic()
        self._on_change()

    def save(self, token: StoredToken, app_key_hint: str = "", *, news_only: bool = False) -> bool:
        """Store ``token`` where ``storage.may_replace`` allows; return whether it was."""
        del app_key_hint  # one process, one key: nothing to tell apart
        if not valid_token_text(token.token):
            raise ValueError("refusing to store a token that cannot go into a header")
        if not may_replace(self._token, token, news_only=news_only):
            return False
        self._write(replace(token, written=datetime.now(timezone.utc)))
        return True

    def touch(self, token: str, last_used: datetime, app_key_hint: str = "") -> None:
        """Record a use of ``token`` if it is the stored one."""
        if self._token is not None and self._token.token == token:
            self._write(replace(self._token, last_used=last_used))

    def clear(self) -> None:
        """Forget the token."""
        self._write(None)

    def ensure_writable(self) -> None:
        """Memory can always be written."""

    def signature(self) -> object:
        """The number of writes so far."""
        return self._version

    def seconds_since_write(self) -> float | None:
        """Seconds since the last write (None before the first)."""
        return time.monotonic() - self._written if self._version else None

    def vacant(self) -> bool:
        """Memory never loses a record by itself."""
        return False


class _LedgerState:
    def __init__(self, lock: MemoryLock) -> None:
        self.lock = lock
        self.where = "memory"
        self._data: dict[str, Any] = {}

    def read(self) -> dict[str, Any]:
        return copy.deepcopy(self._data)

    def write(self, data: dict[str, Any]) -> None:
        self._data = copy.deepcopy(data)


class MemoryStorage:
    """One account's shared state in memory; accounts on one instance share it like files."""

    #: Nothing to warn about: one process, no filesystem.
    warning: str | None = None

    def __init__(self, where: str = "memory") -> None:
        self.where = where
        self.records = MemoryRecords(self.wake)
        self.lock = MemoryLock("token")
        self.create_lock = MemoryLock("create")
        self.ledger = SharedLedger(_LedgerState(self.lock))
        self._targets: weakref.WeakSet[Any] = weakref.WeakSet()
        self._guard = threading.Lock()
        self._news = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        """Name it."""
        return f"MemoryStorage({self.where!r})"

    def housekeeping(self) -> None:
        """Nothing is ever left half written in memory."""

    def sdk_directory(self) -> None:
        """The official SDK reads files: memory has none to offer."""
        return None

    def watch(self, target: Watched) -> None:
        """Call ``target.reload()`` after writes, from this storage's own thread."""
        with self._guard:
            self._targets.add(target)
            if self._thread is None or not self._thread.is_alive():
                # A thread of its own: a writer holds its account's lock while it writes,
                # and must not run another account's reload inside it.
                self._thread = threading.Thread(
                    target=self._run, name="webull-nb-memory-watcher", daemon=True
                )
                self._thread.start()

    def unwatch(self, target: Watched) -> None:
        """Stop notifying ``target``."""
        with self._guard:
            self._targets.discard(target)

    def wake(self) -> None:
        """Deliver changes now."""
        self._news.set()

    def _run(self) -> None:
        while True:
            self._news.wait(0.5)
            self._news.clear()
            with self._guard:
                if not self._targets:
                    self._thread = None
                    return
            self._deliver()

    def _deliver(self) -> None:
        # In a call of its own: no account is held alive while the thread sleeps.
        with self._guard:
            targets = list(self._targets)
        for target in targets:
            if target.current_signature() != target.store_signature():
                target.reload()
