"""One account's state, kept in step with its shared token record.

The ``Mirror`` holds the account's current ``TokenState`` (immutable; replaced only by
``publish``, under ``lock``, each replacement bumping ``version``) and its listeners. It
turns what the storage's record says into state (``reload_locked``), and a token API
answer into state and a record (``adopt_locked``). Which thread calls it, and when, is
``account``'s business (see its threading model); the mirror asks the service nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from webull_nb.core import messages
from webull_nb.core.errors import StoreError
from webull_nb.core.secrets import Secret, mask_token
from webull_nb.core.status import TokenStatus, verification_deadline
from webull_nb.core.timefmt import utc
from webull_nb.core.tokens import NO_TOKEN, TokenInfo, TokenState, idle_deadline
from webull_nb.shared.storage import Storage, StoredToken

__all__ = ["Mirror"]

log = logging.getLogger(__name__)

# A PENDING answer past the deadline this clock computed: look again this much later.
DEADLINE_RECHECK = 10.0


class Mirror:
    """An account's ``TokenState`` and its listeners, in step with the shared record."""

    def __init__(
        self,
        storage: Storage,
        now: Callable[[], float],
        problems: Callable[[], str],
        app_key_hint: str = "",
    ) -> None:
        """``now``: the service's time; ``problems``: why coordination is degraded, or ""."""
        self.records = storage.records
        self.records_lock = storage.lock
        self.where = storage.where
        self.now = now
        self.problems = problems
        self.app_key_hint = app_key_hint
        self.lock = threading.RLock()
        self.state = TokenState()
        #: The record's signature when last read or written here.
        self.seen: object = None
        self._listeners: list[Callable[[TokenState], None]] = []

    def update(self, **changes: Any) -> TokenState:
        """Publish ``changes`` and tell the listeners (for callers not holding ``lock``)."""
        with self.lock:
            state = self.publish(**changes)
        self.notify(state)
        return state

    def guarded(self, token: Secret, **changes: Any) -> None:
        """Publish ``changes`` only while ``token`` is still the PENDING one."""
        with self.lock:
            state = self.state
            if state.status != TokenStatus.PENDING or not token.matches(state.token):
                return  # about a token that is gone
            state = self.publish(**changes)
        self.notify(state)

    def forget_locked(self, problem: str) -> TokenState:
        """Clear the record (unless ``problem`` says its lock was not held); no token here."""
        if not problem:
            self.records.clear()
        self.seen = self.records.signature()
        return self.publish(**NO_TOKEN, error=problem)

    def subscribe(self, listener: Callable[[TokenState], None]) -> TokenState:
        """Call ``listener(state)`` after every change; return the state now."""
        with self.lock:
            self._listeners.append(listener)
            return self.state

    def unsubscribe(self, listener: Callable[[TokenState], None]) -> None:
        """Stop calling ``listener``."""
        with self.lock, contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def publish(self, **changes: Any) -> TokenState:
        # Callers hold self.lock: this is the one place the state changes.
        self.state = replace(self.state, version=self.state.version + 1, **changes)
        return self.state

    def notify(self, state: TokenState) -> None:
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # a broken view must not break the account for the others
                log.exception("webull-nb: a token state listener failed")

    def reload_locked(self, force: bool = False) -> TokenState | None:
        """``reload`` for a caller holding ``_lock``: the new state, or None if unchanged."""
        signature = self.records.signature()
        if signature == self.seen and not force:
            return None
        stored = self.records.load()
        current = self.state
        if stored is None and current.token is not None and self.records.vacant():
            # The store lost everything (a Redis restarted empty), which is not a forget:
            # every process that knows the token writes it back, and keeps it.
            self._write_back(current)
            return None
        if stored is None and current.token is not None and self._just_written():
            # Probably a write in progress (the official SDK rewrites token.txt in place):
            # look again next round rather than drop a good token for a moment.
            return None
        self.seen = signature
        fields = self._fields_from_store(stored)
        same_token = (
            current.token.matches(fields["token"])
            if current.token is not None
            else fields["token"] is None
        )
        if same_token and all(
            getattr(current, name) == fields[name]
            for name in ("status", "expires", "last_used", "error", "confirmed", "inferred")
        ):
            return None
        return self.publish(**fields)

    def _write_back(self, state: TokenState) -> None:
        """Store ``state``'s token again in a store that lost it (never an inferred verdict)."""
        if state.token is None or state.inferred or state.status not in ("PENDING", "NORMAL"):
            return
        stored = StoredToken(
            state.token.reveal(),
            state.expires,
            state.status,
            state.created,
            state.last_used,
            confirmed=state.confirmed,
        )
        try:
            if self.records.save(stored, self.app_key_hint):
                log.info("webull-nb: wrote the %s token back into %s", state.status, self.where)
        except (OSError, ValueError, StoreError) as exc:
            log.info("webull-nb: could not write the token back into %s: %s", self.where, exc)
        self.seen = self.records.signature()

    def _just_written(self) -> bool:
        age = self.records.seconds_since_write()
        return age is not None and age < 1

    def _fields_from_store(self, stored: StoredToken | None) -> dict[str, Any]:
        problem = self.records.problem
        if stored is None:
            return {**NO_TOKEN, "error": problem}
        # A token the official SDK wrote has no sidecar: its file's age is the best guess.
        fields = self._token_fields(
            stored.token,
            stored.status,
            stored.created or stored.written,
            stored.expires,
            stored.last_used,
            restored=True,
            error=problem,
            confirmed=stored.confirmed,
        )
        # No verdict of this clock alone stands as the service's word: a PENDING token past
        # its deadline stays PENDING (the poller asks the service), and a NORMAL one past its
        # idle deadline shows INVALID but ``inferred``, so a create confirms it first.
        idle_end = idle_deadline(stored.expires, stored.last_used)
        if stored.status == TokenStatus.NORMAL and idle_end and idle_end.timestamp() <= self.now():
            fields.update(
                status=TokenStatus.INVALID.value,
                inferred=True,
                error=problem or messages.idle_passed(idle_end),
            )
        return fields

    def _token_fields(
        self,
        token: str,
        status: str,
        created: datetime | None,
        expires: datetime | None,
        last_used: datetime | None,
        *,
        restored: bool,
        error: str,
        confirmed: datetime | None = None,
    ) -> dict[str, Any]:
        """The state fields of one token; a PENDING one gets its verification deadline."""
        deadline = None
        if status == TokenStatus.PENDING:
            start = created.timestamp() if created else self.now()
            deadline = verification_deadline(start, expires)
        return dict(
            status=status,
            token=Secret(token),
            token_hint=mask_token(token),
            created=created,
            deadline=deadline,
            expires=expires,
            last_used=last_used,
            restored=restored,
            error=error,
            confirmed=confirmed,
            inferred=False,
        )

    @contextlib.contextmanager
    def store_lock_or_note(self) -> Iterator[list[str]]:
        # An answer from the service must never be lost to a stuck lock: without the lock
        # it is still shown, just not stored.
        problems: list[str] = []
        held = contextlib.ExitStack()
        try:
            held.enter_context(self.records_lock.hold())
        except StoreError as exc:
            problems.append(str(exc))
        with held:
            yield problems

    def adopt_locked(
        self, info: TokenInfo, previous: TokenState | None, problems: list[str], fresh: bool
    ) -> TokenState:
        now = utc(self.now())
        created = previous.created if previous else now
        last_used = previous.last_used if previous else None
        normal = info.status == TokenStatus.NORMAL
        confirmed = now if normal else None
        unchanged = (
            previous is not None
            and not normal  # a NORMAL answer is news for every process starting soon
            and previous.status == info.status.value
            and previous.expires == info.expires
            and not previous.error
            and self.records.signature() == self.seen
        )
        if unchanged:
            # The store already says this (a PENDING check every 3 s, say): writing it again
            # would cost two fsyncs and make every other process re-read the files.
            problems.append("")
        elif not problems:
            outcome = self._persist(info, created, last_used, confirmed, fresh)
            if outcome is None:
                # The store holds another token now (another program wrote it meanwhile):
                # this answer is shown, and the watcher adopts what the store holds next.
                problems.append("")
                return self.publish(**self._answer_fields(info, created, last_used, "", confirmed))
            problems.append(outcome)
        self.seen = self.records.signature()
        fields = self._answer_fields(info, created, last_used, problems[0], confirmed)
        return self.publish(**fields)

    @staticmethod
    def _status_error(status: str) -> str:
        """What an EXPIRED or INVALID answer means, for every view of the account."""
        if status in ("EXPIRED", "INVALID"):
            return messages.plain(messages.not_usable(status, messages.NEUTRAL))
        return ""

    def _answer_fields(
        self,
        info: TokenInfo,
        created: datetime | None,
        last_used: datetime | None,
        problem: str,
        confirmed: datetime | None,
    ) -> dict[str, Any]:
        """The state fields of a token API answer."""
        status = info.status.value
        fields = self._token_fields(
            info.token,
            status,
            created,
            info.expires,
            last_used,
            restored=False,
            error=problem or self._status_error(status) or self.problems(),
            confirmed=confirmed,
        )
        deadline = fields["deadline"]
        if deadline is not None and deadline.timestamp() <= self.now():
            # The service still waits for approval, so the window is open: when it began was
            # guessed wrong (a file's age), or this clock is off. Its own expiry decides.
            later = info.expires.timestamp() if info.expires else 0.0
            fields["deadline"] = utc(max(later, self.now() + DEADLINE_RECHECK))
        return fields

    def _persist(
        self,
        info: TokenInfo,
        created: datetime | None,
        last_used: datetime | None,
        confirmed: datetime | None,
        fresh: bool,
    ) -> str | None:
        """Store the answer (a new token, or news only about the stored one); return a
        user-facing problem, empty, or None when the store now holds another token."""
        stored = StoredToken(
            info.token,
            info.expires,
            info.status.value,
            created,
            last_used,
            confirmed=confirmed,
        )
        try:
            saved = self.records.save(stored, self.app_key_hint, news_only=not fresh)
            if not saved and not fresh:
                return None  # the store holds another token, or none: not this answer's
        except (OSError, ValueError) as exc:
            return f"could not save the token in {self.where}: {exc}"
        return "" if saved else self.records.problem
