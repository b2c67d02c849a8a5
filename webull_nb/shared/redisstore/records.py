"""The token record in Redis: a hash per account, the token sealed, every write a fenced CAS.

Fields: ``status``, ``expires``, ``created``, ``last_used``, ``written`` and ``confirmed``
(epoch seconds), ``sealed`` (the token, ``seal.Sealer``), ``key`` (a hash of the app key)
and ``stamp`` (new on every write: the record's signature, and what a write compares
against). A forgotten token leaves a record with ``cleared`` set, so that an account whose
record is missing altogether (a Redis restarted empty) can be told apart: there, a process
that holds a token writes it back (``vacant``), and news about that token may be stored.

Reading never raises: when Redis cannot be reached, the last record read stands (a good
token is never dropped because a server paused) and ``problem`` says why.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from webull_nb.core.errors import StoreError
from webull_nb.core.status import valid_token_text
from webull_nb.shared.redisstore.connect import guarded
from webull_nb.shared.redisstore.keys import Keys
from webull_nb.shared.redisstore.scripts import SAVE
from webull_nb.shared.redisstore.seal import Sealer
from webull_nb.shared.storage import StoredToken, may_replace

__all__ = ["RECORD_LIFETIME", "Fence", "RedisRecords"]

log = logging.getLogger(__name__)

# A record untouched this long belongs to a token that went INVALID long ago (15 days idle).
RECORD_LIFETIME = 30 * 24 * 3600
_CAS_ATTEMPTS = 8
_FIELDS = ("expires", "created", "last_used", "written", "confirmed")


class Fence(threading.local):
    """The poll lease epoch this thread holds (set by the ledger, checked by every write)."""

    epoch: str = ""


def _when(value: object) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), timezone.utc) if value else None  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _epoch(value: datetime | None) -> str:
    return repr(value.timestamp()) if value is not None else ""


class RedisRecords:
    """One account's token record in Redis (see the module's docstring)."""

    def __init__(
        self, client: Any, keys: Keys, sealer: Sealer, key_hash: str, fence: Fence
    ) -> None:
        self.client = client
        self.keys = keys
        self.problem = ""
        self._sealer = sealer
        self._key_hash = key_hash
        self._fence = fence
        self._save = client.register_script(SAVE)
        self._last: StoredToken | None = None
        self._signature: object = None
        self._vacant = False

    def __repr__(self) -> str:
        """Name where the record lives."""
        return f"RedisRecords({self.keys.where!r})"

    # --- reading --------------------------------------------------------------------------------

    def _read(self) -> tuple[dict[str, str], StoredToken | None]:
        """The raw hash and the token it holds (None: none, cleared or not ours to open)."""
        with guarded(self.keys.where):
            raw = self.client.hgetall(self.keys.record)
        if not raw.get("stamp") or raw.get("cleared"):
            return raw, None
        token = self._sealer.open(raw.get("sealed", ""))
        if token is None or not valid_token_text(token):
            self._report(
                f"the token in {self.keys.where} does not open with this app secret "
                "(was the secret changed?): a new token will replace it"
            )
            return raw, None
        times = {name: _when(raw.get(name)) for name in _FIELDS}
        return raw, StoredToken(token, status=raw.get("status", ""), **times)

    def _report(self, message: str) -> None:
        if message != self.problem:
            log.warning("%s", message)
        self.problem = message

    def load(self) -> StoredToken | None:
        """The stored token, or None; when Redis is out of reach, the last one read."""
        try:
            raw, token = self._read()
        except StoreError as exc:
            self._report(f"{exc}; showing the token as last read")
            return self._last
        self.problem = "" if token is not None or not raw.get("sealed") else self.problem
        self._vacant = not raw
        self._signature = raw.get("stamp")
        self._last = token
        return token

    def signature(self) -> object:
        """The record's stamp (new on every write); unchanged while Redis is out of reach."""
        try:
            with guarded(self.keys.where):
                stamp = self.client.hget(self.keys.record, "stamp")
        except StoreError:
            return self._signature  # no news is better than a token dropped in a pause
        if stamp is None:
            # Missing altogether (restarted empty, or expired): "vacant", not "forgotten".
            self._vacant = True
        return stamp

    def vacant(self) -> bool:
        """Whether the store holds nothing at all for the account, not even a forget."""
        return self._vacant

    def seconds_since_write(self) -> float | None:
        """Writes are atomic here: never a half-written record to wait out."""
        return None

    # --- writing --------------------------------------------------------------------------------

    def _fields(self, token: StoredToken, stamp: str) -> list[str]:
        fields = {
            "stamp": stamp,
            "status": token.status,
            "sealed": self._sealer.seal(token.token),
            "key": self._key_hash,
            **{name: _epoch(getattr(token, name)) for name in _FIELDS},
        }
        return [item for pair in fields.items() for item in pair]

    def _cas(self, expected: str, fields: list[str], fenced: bool = True) -> int:
        args = [expected, self._fence.epoch if fenced else "", self.keys.channel]
        with guarded(self.keys.where):
            return int(
                self._save(
                    keys=[self.keys.record, self.keys.epoch],
                    args=[*args, RECORD_LIFETIME * 1000, *fields],
                )
            )

    def save(self, token: StoredToken, app_key_hint: str = "", *, news_only: bool = False) -> bool:
        """Store ``token`` where ``storage.may_replace`` allows; return whether it was written.

        Raises ``StoreUnavailableError`` (an ``OSError``) when Redis cannot be reached.
        """
        del app_key_hint  # the record names its account by the key's hash
        if not valid_token_text(token.token):
            raise ValueError("refusing to store a token that cannot go into a header")
        token = replace(token, written=datetime.now(timezone.utc))
        for _ in range(_CAS_ATTEMPTS):
            raw, current = self._read()
            # News about a token may land on a store that lost everything (restarted empty):
            # nobody forgot the token, and every process that knows it writes it back.
            allowed = (news_only and not raw) or may_replace(current, token, news_only=news_only)
            if not allowed:
                return False
            stamp = uuid.uuid4().hex
            outcome = self._cas(raw.get("stamp", ""), self._fields(token, stamp))
            if outcome == -2:
                log.info("a newer poller holds the lease: this answer is not stored")
                return False
            if outcome == 1:
                self._last, self._signature, self._vacant = token, stamp, False
                self.problem = ""
                return True
        raise StoreError(f"the token record in {self.keys.where} changed too often to update")

    def touch(self, token: str, last_used: datetime, app_key_hint: str = "") -> None:
        """Record a use of ``token`` if it is the stored one."""
        for _ in range(_CAS_ATTEMPTS):
            raw, current = self._read()
            if current is None or current.token != token:
                return
            stamp = uuid.uuid4().hex
            fields = self._fields(replace(current, last_used=last_used), stamp)
            if self._cas(raw["stamp"], fields, fenced=False) == 1:
                self._signature = stamp
                return

    def clear(self) -> None:
        """Forget the token for every host (a record that says so, not an empty store)."""
        stamp = uuid.uuid4().hex
        fields = ["stamp", stamp, "cleared", repr(time.time())]
        self._cas("*", fields, fenced=False)
        self._last, self._signature, self._vacant = None, stamp, False

    def ensure_writable(self) -> None:
        """Raise ``StoreUnavailableError`` unless Redis answers: checked before any SMS."""
        with guarded(self.keys.where):
            self.client.ping()
