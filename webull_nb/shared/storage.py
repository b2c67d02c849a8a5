"""The storage interface: what one account shares with every process that uses it.

An account's shared state is five things: the token record, a lock for short sections, a
lock held for one create (single flight), a ledger (request budget, waiting line, poll
lease, the service's clock offset) and change notification. ``Account`` reaches them only
through a ``Storage``; the file backend (``shared.files``) keeps them in a token directory,
``shared.memory`` in this process, ``shared.redisstore`` in a Redis server. Nothing
above ``shared`` knows which backend is in use.

The rules every backend applies alike live here too (``may_replace``), so that two backends
cannot disagree about when a stored token may be overwritten.
"""

from __future__ import annotations

import hashlib
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from webull_nb.core.secrets import mask_token
from webull_nb.core.status import progress

__all__ = [
    "SHORT_SECTION_TIMEOUT",
    "Ledger",
    "LedgerState",
    "Lock",
    "Records",
    "Storage",
    "StoredToken",
    "Watched",
    "fingerprint",
    "may_replace",
]


#: How long a short section (a read-modify-write of the record or the ledger) waits for its
#: lock before it reports who holds it.
SHORT_SECTION_TIMEOUT = 5.0


def fingerprint(text: str) -> str:
    """A short, one-way name for a token or app key, safe to keep beside it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, repr=False)
class StoredToken:
    """A token record: the official SDK's three fields (token, expiry, status) plus ours."""

    token: str
    expires: datetime | None
    status: str
    created: datetime | None = None
    last_used: datetime | None = None
    #: When the record was last written: the best guess of ``created`` for a token some
    #: other program (the official SDK) wrote without our fields.
    written: datetime | None = None
    #: When the service last answered NORMAL for this token (service time): a process
    #: starting shortly after may rely on it without a check of its own.
    confirmed: datetime | None = None

    def __repr__(self) -> str:
        """Show the token masked."""
        return f"StoredToken(token={mask_token(self.token)!r}, status={self.status})"


def may_replace(current: StoredToken | None, new: StoredToken, *, news_only: bool) -> bool:
    """Whether ``new`` may overwrite the stored ``current`` record.

    A stored NORMAL token is only ever replaced by a NORMAL one, or by news about itself
    (say, that it went INVALID): a create that never got verified must not cost the user a
    good token. News older than what is stored is dropped. ``news_only`` (an answer about a
    token, not a new one): only over that same token, so a late answer never brings back a
    token that another program replaced or forgot meanwhile. One exception: news that a
    token created after the stored NORMAL one is now NORMAL replaces it. Such a token ("Send
    a new code" on purpose) could not be stored while unverified, and its approval is what
    that create was for.
    """
    if news_only:
        if current is None:
            return False
        if current.token == new.token:
            return _not_older(current, new)
        return _verified_successor(current, new)
    if current is None:
        return True
    if current.token == new.token:
        return _not_older(current, new)
    return not (current.status == "NORMAL" and new.status != "NORMAL")


def _verified_successor(current: StoredToken, new: StoredToken) -> bool:
    """Whether ``new`` is a NORMAL token created after the stored NORMAL ``current``."""
    return (
        current.status == "NORMAL"
        and new.status == "NORMAL"
        and current.created is not None
        and new.created is not None
        and new.created > current.created
    )


def _not_older(current: StoredToken, new: StoredToken) -> bool:
    return progress(new.status) >= progress(current.status)


class Records(Protocol):
    """The account's token record. Reading never raises; ``problem`` says what was wrong."""

    problem: str

    def load(self) -> StoredToken | None:
        """The stored token, or None (a corrupt or unreadable record counts as none)."""

    def save(self, token: StoredToken, app_key_hint: str = "", *, news_only: bool = False) -> bool:
        """Store ``token`` if ``may_replace`` allows it; return whether it was written."""

    def touch(self, token: str, last_used: datetime, app_key_hint: str = "") -> None:
        """Record a use of ``token`` if it is the stored one."""

    def clear(self) -> None:
        """Remove the record everywhere it is kept."""

    def ensure_writable(self) -> None:
        """Raise ``StoreError`` unless a token can be kept: checked before any SMS goes out."""

    def signature(self) -> object:
        """A cheap value that changes on every write (compared, never interpreted)."""

    def seconds_since_write(self) -> float | None:
        """Seconds since the record last changed (None when there is none)."""

    def vacant(self) -> bool:
        """Whether the store lost the record altogether (restarted empty), unlike a forget."""


class Lock(Protocol):
    """A lock shared by every process of the account; ``problem`` once it cannot be used."""

    problem: str

    def hold(
        self, timeout: float = SHORT_SECTION_TIMEOUT, *, required: bool = False
    ) -> AbstractContextManager[None]:
        """Hold the lock for a ``with`` block; ``StoreLockError`` after ``timeout`` seconds.

        ``required``: raise ``StoreError`` rather than go on alone when the lock cannot be
        used at all (for sections that must never run twice at once, such as a create).
        """


class LedgerState(Protocol):
    """Where a backend keeps the ledger: one JSON-shaped object, read and written whole."""

    lock: Lock
    #: Where the ledger lives, for messages.
    where: str

    def read(self) -> dict[str, Any]:
        """The ledger as last written ({} when absent or unreadable); never raises."""

    def write(self, data: dict[str, Any]) -> None:
        """Replace the ledger (callers hold ``lock``); raises ``OSError`` when it cannot."""


class Ledger(Protocol):
    """The account's request budget, waiting line, poll lease and service clock offset."""

    problem: str

    def try_acquire(self, kind: str, owner: str | None = None) -> float:
        """Take a slot for one ``kind`` request and return 0, or take none and return the wait."""

    def leave_queue(self, kind: str, owner: str) -> None:
        """Give up ``owner``'s place in line."""

    def wait_time(self, kind: str) -> float:
        """Seconds until a ``kind`` request would be allowed."""

    def timing(self, kind: str) -> tuple[float, float]:
        """(seconds since the last ``kind`` request, seconds until one is allowed)."""

    def claim_lease(self, owner: str, duration: float) -> float:
        """Take or renew the poll lease: 0 if ``owner`` holds it now, else its seconds left."""

    def release_lease(self, owner: str) -> None:
        """Give up the poll lease if ``owner`` holds it."""

    def service_offset(self) -> float | None:
        """The service's clock minus this host's, as another process last learned it."""

    def record_offset(self, offset: float) -> None:
        """Share the service's clock offset learned here."""

    def limiter(self, kind: str) -> Any:
        """A ``http.ratelimit.Limiter`` for one kind of request, backed by this ledger."""


class Watched(Protocol):
    """What change notification needs of an account."""

    def store_signature(self) -> object:
        """The record's signature as last adopted."""

    def current_signature(self) -> object:
        """The record's signature now."""

    def reload(self) -> None:
        """Adopt what the record holds now."""

    def watch_fast(self) -> bool:
        """Whether a change is expected soon (a token is PENDING, polled elsewhere)."""


class Storage(Protocol):
    """One account's shared state, in one backend."""

    records: Records
    #: Short read-modify-write sections of the record and the ledger.
    lock: Lock
    #: Held for one create (or one confirming check): single flight across processes.
    create_lock: Lock
    ledger: Ledger
    #: Where the token lives, for messages ("/home/u/.local/state/webull-nb/prod-us-1a2b").
    where: str

    @property
    def warning(self) -> str | None:
        """A sentence to show once at start when this storage may not do its job (a token
        directory on a filesystem several machines share), else None."""

    def housekeeping(self) -> None:
        """Remove what interrupted writes left behind (best effort, skipped when busy)."""

    def watch(self, target: Watched) -> None:
        """Call ``target.reload()`` when the record changes, from a background thread."""

    def unwatch(self, target: Watched) -> None:
        """Stop notifying ``target``."""

    def wake(self) -> None:
        """Look for changes now (a token just went PENDING: changes are due soon)."""

    def sdk_directory(self) -> Path | None:
        """A directory whose ``token.txt`` the official SDK may read (None: no such place)."""
