"""The state a session shows, as traits: what every view observes, and nothing secret.

``TokenModel`` mirrors one account's ``TokenState`` into read-only traits (the app secret and
the full token are never traits) and derives what views show from them: the seconds left to
approve, the idle deadline, the terminal's status line.

Threading: the mirrored traits are set on whichever thread the account published from (the
caller's, the account's poller thread, or the storage's watcher thread; see
``webull_nb.shared.account``), one snapshot at a time under ``_mirror_lock``, newest wins.
``busy`` is set by the calling thread around its own calls. Observers must therefore be
thread-safe and quick.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import traitlets

from webull_nb.core import messages
from webull_nb.core.status import STATUSES
from webull_nb.core.timefmt import utc
from webull_nb.core.tokens import TokenState, idle_deadline
from webull_nb.http.client import Client
from webull_nb.shared.account import Account

__all__ = ["TokenModel"]

#: The ``TokenState`` fields a model shows as traits of the same names.
_MIRRORED = (
    "status",
    "token_hint",
    "deadline",
    "expires",
    "last_used",
    "restored",
    "error",
    "checks_made",
)


class TokenModel(traitlets.HasTraits):
    """Read-only traits mirroring one account's token state, and what views derive from them."""

    status = traitlets.Enum(STATUSES, default_value="NONE", read_only=True)
    deadline = traitlets.Instance(datetime, allow_none=True, read_only=True)
    expires = traitlets.Instance(datetime, allow_none=True, read_only=True)
    last_used = traitlets.Instance(datetime, allow_none=True, read_only=True)
    token_hint = traitlets.Unicode("", read_only=True)
    error = traitlets.Unicode("", read_only=True)
    checks_made = traitlets.Int(0, read_only=True)
    busy = traitlets.Bool(False, read_only=True)
    has_credentials = traitlets.Bool(False, read_only=True)
    app_key_hint = traitlets.Unicode("", read_only=True)
    region = traitlets.Unicode("us", read_only=True)
    environment = traitlets.Unicode("prod", read_only=True)
    api = traitlets.Unicode("v2", read_only=True)
    token_check_enabled = traitlets.Bool(None, allow_none=True, read_only=True)
    restored = traitlets.Bool(False, read_only=True)
    guide_url = traitlets.Unicode("", read_only=True)

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self._account: Account | None = None
        self._clock = clock
        self._mirror_lock = threading.RLock()
        self._mirrored_version = -1
        #: (server time, status) of every status change, oldest first: for teaching and logs.
        self.history: list[tuple[datetime, str]] = [(utc(clock()), "NONE")]

    def _set(self, **values: Any) -> None:
        """Set read-only traits together."""
        with self.hold_trait_notifications():
            for name, value in values.items():
                self.set_trait(name, value)

    def _mirror(self, account: Account, state: TokenState) -> None:
        """Show a snapshot of this session's account, unless a newer one is already shown."""
        with self._mirror_lock:
            if account is not self._account or state.version <= self._mirrored_version:
                return  # late news from an account this session has left, or old news
            self._mirrored_version = state.version
            if state.status != self.status:
                self.history.append((utc(self.now()), state.status))
            self._set(**{name: getattr(state, name) for name in _MIRRORED})

    def now(self) -> float:
        """Return the server's estimated time in epoch seconds."""
        return self._account.now() if self._account else self._clock()

    def seconds_left(self) -> float | None:
        """Return the seconds left in the verification window, or None when not PENDING."""
        deadline = self.deadline
        if deadline is None or self.status != "PENDING":
            return None
        return max(0.0, deadline.timestamp() - self.now())

    def status_line(self) -> str:
        """Return a one-line summary of the state, as the terminal shows it."""
        return messages.status_line(
            self.status, self.seconds_left(), self.token_hint, self.idle_days_left(), self.error
        )

    def valid_until(self) -> datetime | None:
        """Return when a NORMAL token goes INVALID if unused (15 days after its last use)."""
        if self.status != "NORMAL":
            return None
        return idle_deadline(self.expires, self.last_used)

    def idle_days_left(self) -> float | None:
        """Days until a NORMAL token goes INVALID if unused from now on (None if unknown)."""
        until = self.valid_until()
        if until is None:
            return None
        return max(0.0, (until.timestamp() - self.now()) / 86400)

    @property
    def _client(self) -> Client | None:
        return self._account.client if self._account else None

    @property
    def account(self) -> Account | None:
        """The account whose token this session shows (None until credentials are set)."""
        return self._account

    def next_check_in(self) -> float:
        """Return the seconds until a check would be within the account's shared rate limit."""
        return self._account.rate_wait() if self._account else 0.0

    @property
    def base_url(self) -> str | None:
        """The API's base URL (None until credentials are set)."""
        return self._client.endpoint.base_url if self._client else None

    @property
    def last_canonical_string(self) -> str | None:
        """What the last request the service refused with INCORRECT_SIGN signed (no secret)."""
        return self._client.last_canonical_string if self._client else None
