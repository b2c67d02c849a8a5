"""The Redis backend: one account's shared state for every host that can reach one server.

``records`` (the token record, sealed), ``locks`` (single flight for a create across hosts),
``ledger`` (budget, line and lease in the server's clock) and change notification here:
every write publishes on the account's channel, and a thread per storage listens and has
its accounts re-read at once; a slow fallback read covers a message lost in a reconnect.
The short-section lock is this process's only: every shared write is one atomic script.

Threading: the watcher thread is the only one that reads the subscription and calls
``reload`` on watched accounts; any thread may call ``wake``. Redis clients are thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from webull_nb.core.errors import StoreError
from webull_nb.core.secrets import Secret
from webull_nb.core.status import TokenStatus
from webull_nb.shared.memory import MemoryLock
from webull_nb.shared.redisstore.connect import client_for, describe, guarded
from webull_nb.shared.redisstore.keys import Keys
from webull_nb.shared.redisstore.ledger import RedisLedger
from webull_nb.shared.redisstore.locks import RedisLock
from webull_nb.shared.redisstore.records import Fence, RedisRecords
from webull_nb.shared.redisstore.seal import Sealer
from webull_nb.shared.storage import Records, Watched, fingerprint

__all__ = ["FALLBACK_FAST", "FALLBACK_SLOW", "RedisStorage"]

log = logging.getLogger(__name__)

#: A fallback read this often while a token is PENDING and polled on another host.
FALLBACK_FAST = 3.0
#: ... and this often otherwise: an idle host costs Redis one read a minute.
FALLBACK_SLOW = 60.0
# How long the watcher listens before it looks at its accounts' pace again.
_TICK = 0.5
_MAX_RECONNECT_PAUSE = 5.0


class RedisStorage:
    """An account's shared state in Redis (see the module's docstring)."""

    #: Nothing to warn about: Redis is what the file backend's warning recommends.
    warning: str | None = None

    def __init__(
        self,
        url: str,
        account: str,
        app_key: str,
        app_secret: Secret,
        *,
        local_directory: Path | None = None,
    ) -> None:
        """``account`` names it (environment, endpoint, app key hash); ``local_directory`` is
        where the official SDK finds a copy of the NORMAL token (``sdk_directory``)."""
        self.url = url
        self.keys = Keys(account, describe(url))
        self.where = self.keys.where
        self.client = client_for(url)
        fence = Fence()
        sealer = Sealer(app_secret, account)
        self.records = RedisRecords(self.client, self.keys, sealer, fingerprint(app_key), fence)
        self.lock = MemoryLock(f"token ({self.where}, this process)")
        self.create_lock = RedisLock(self.client, self.keys.create_lock, self.where)
        self.ledger = RedisLedger(self.client, self.keys, fence)
        self.local_directory = local_directory
        self._targets: weakref.WeakSet[Any] = weakref.WeakSet()
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        """Name the server and the account's keys; never a password."""
        return f"RedisStorage({self.where!r})"

    def housekeeping(self) -> None:
        """Nothing is ever left half written: every write is one script."""

    def move_in(self, local: Records) -> bool:
        """Upload the token of ``local`` (a token directory) into an empty store; no SMS.

        Only a NORMAL or PENDING token moves, and only when Redis holds nothing at all for
        the account (not even a forget): a host joining a store never overrides it.
        """
        self.records.signature()
        if not self.records.vacant():
            return False
        stored = local.load()
        if stored is None or stored.status not in (TokenStatus.NORMAL, TokenStatus.PENDING):
            return False
        moved = self.records.save(stored)
        if moved:
            log.info("webull-nb: moved the %s token from %s into %s", stored.status, local, self)
        return moved

    def sdk_directory(self) -> Path | None:
        """A local token directory whose ``token.txt`` holds the NORMAL token, for the SDK."""
        from webull_nb.shared.files.locks import AccountLock
        from webull_nb.shared.files.store import TokenStore

        if self.local_directory is None:
            return None
        stored = self.records.load()
        if stored is not None and stored.status == TokenStatus.NORMAL:
            # The directory's own lock, as every writer of token.txt holds it (the SDK aside).
            with AccountLock(self.local_directory).hold():
                TokenStore(self.local_directory).save(stored)
        return self.local_directory

    # --- change notification --------------------------------------------------------------------

    def watch(self, target: Watched) -> None:
        """Have ``target`` re-read on every change of the record (the storage's thread)."""
        with self._guard:
            self._targets.add(target)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="webull-nb-redis-watcher", daemon=True
                )
                self._thread.start()

    def unwatch(self, target: Watched) -> None:
        """Stop notifying ``target``."""
        with self._guard:
            self._targets.discard(target)
        self._wake.set()

    def wake(self) -> None:
        """Look for changes now."""
        self._wake.set()

    def _live_targets(self) -> list[Any]:
        with self._guard:
            targets = list(self._targets)
            if not targets:
                self._thread = None
            return targets

    def _run(self) -> None:
        subscription = None
        last_read = 0.0
        failures = 0
        try:
            while self._live_targets():
                try:
                    if subscription is None:
                        subscription = self._subscribe()
                        last_read = 0.0  # news may have gone by while unsubscribed
                    message = subscription.get_message(timeout=_TICK)
                    fast = any(target.watch_fast() for target in self._live_targets())
                    due = time.monotonic() - last_read >= (FALLBACK_FAST if fast else FALLBACK_SLOW)
                    if message is not None or due or self._wake.is_set():
                        self._wake.clear()
                        last_read = time.monotonic()
                        self._deliver()
                    failures = 0
                except (StoreError, OSError, ValueError) as exc:
                    failures += 1
                    subscription = self._close(subscription)
                    pause = min(_MAX_RECONNECT_PAUSE, 0.25 * 2**failures)
                    log.info("webull-nb: %s; listening again in %.1f s", exc, pause)
                    self._wake.wait(pause)
        finally:
            self._close(subscription)

    def _subscribe(self) -> Any:
        with guarded(self.where):
            subscription = self.client.pubsub(ignore_subscribe_messages=True)
            subscription.subscribe(self.keys.channel)
        return _Guarded(subscription, self.where)

    @staticmethod
    def _close(subscription: Any) -> None:
        if subscription is not None:
            try:
                subscription.close()
            except Exception:  # the connection is already gone: nothing to close cleanly
                log.debug("closing a subscription failed", exc_info=True)

    def _deliver(self) -> None:
        for target in self._live_targets():
            if target.current_signature() != target.store_signature() or self.records.vacant():
                target.reload()


class _Guarded:
    """A subscription whose redis-py errors arrive as ``StoreError``."""

    def __init__(self, subscription: Any, where: str) -> None:
        self._subscription = subscription
        self._where = where

    def get_message(self, timeout: float) -> Any:
        with guarded(self._where):
            return self._subscription.get_message(timeout=timeout)

    def close(self) -> None:
        self._subscription.close()
