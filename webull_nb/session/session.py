"""The token lifecycle as a traitlets model, and signed headers for later cells.

A ``Session`` is what every view (the notebook panel, the terminal status line) observes. It
mirrors its account's state (``account.Account``: the token belongs to the account, shared by
every Session, kernel and terminal that uses it) into traits that hold only what is safe to
show; the app secret and the full token are never traits.

Threading: the mirrored traits are set on whichever thread the account published from (the
caller's, the account's poller thread, or the process's store-watcher thread; see
``webull_nb.account``), one snapshot at a time under ``Session._mirror_lock``, newest wins.
``busy`` is set by the calling thread around its own calls. Observers must therefore be
thread-safe and quick.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import traitlets

from webull_nb.core import endpoints
from webull_nb.core.errors import CredentialsError, TokenStateError, WebullError
from webull_nb.core.secrets import Secret, mask_token
from webull_nb.core.status import IDLE_WARNING_DAYS, STATUSES, VERIFICATION_WINDOW
from webull_nb.core.timefmt import countdown, utc
from webull_nb.core.tokens import TokenState, idle_deadline
from webull_nb.http.auth import WebullAuth
from webull_nb.http.client import Client
from webull_nb.session import waiting
from webull_nb.session.signer import SignedRequests
from webull_nb.shared.account import Account
from webull_nb.shared.poller import POLL_INTERVAL
from webull_nb.shared.registry import open_account, release_account, storage_for
from webull_nb.shared.storage import Records

# VERIFICATION_WINDOW and format_countdown stay importable from here for the views.
__all__ = [
    "IDLE_WARNING_DAYS",
    "STATUSES",
    "VERIFICATION_WINDOW",
    "Session",
    "WebullAuth",
    "current",
]


_current: Session | None = None
_current_lock = threading.Lock()

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


def current() -> Session:
    """Return the active session (the last one activated, or created by the panel)."""
    with _current_lock:
        if _current is None:
            raise LookupError(
                "no active webull-nb session: show one with webull_nb.panel(), "
                "or create Session(...) and call .activate()"
            )
        return _current


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _boxed(secret: str | Secret | None) -> Secret:
    """``secret`` in a box, stripped of surrounding blanks (an empty box when missing)."""
    if isinstance(secret, Secret):
        return secret
    return Secret((secret or "").strip())


class Session(SignedRequests, traitlets.HasTraits):
    """A Webull OpenAPI session: credentials, the token lifecycle, and signing for later cells."""

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

    def __init__(
        self,
        app_key: str | None = None,
        app_secret: str | Secret | None = None,
        *,
        region: str | None = None,
        environment: str | None = None,
        api: str = "v2",
        algorithm: str = "HMAC-SHA1",
        endpoint: str | None = None,
        token_dir: str | os.PathLike[str] | None = None,
        credentials_later: bool = False,
        poll_interval: float = POLL_INTERVAL,
        clock: Callable[[], float] = time.time,
        timeout: float | tuple[float, float] = (5.0, 15.0),
    ) -> None:
        # Boxed at once: a failing call below (a typo in the region, say) must not show the
        # secret among this frame's locals in a verbose traceback.
        secret = _boxed(app_secret or _env("WEBULL_APP_SECRET"))
        del app_secret
        super().__init__()
        self._account: Account | None = None
        self._store: Records | None = None
        self._mirror_lock = threading.RLock()
        self._mirrored_version = -1
        self._listener: Callable[[TokenState], None] | None = None
        self._algorithm = algorithm
        self._token_dir = token_dir
        self._endpoint = endpoint
        self._timeout = timeout
        self._clock = clock
        self.poll_interval = max(0.0, float(poll_interval))
        #: (server time, status) of every status change, oldest first: for teaching and logs.
        self.history: list[tuple[datetime, str]] = [(utc(clock()), "NONE")]
        region = region or _env("WEBULL_REGION") or "us"
        environment = environment or _env("WEBULL_ENVIRONMENT") or "prod"
        # Validate early so a typo fails here, not at the first request.
        resolved = endpoints.resolve(region, environment, api, endpoint)
        self._set(
            region=resolved.region,
            environment=resolved.environment,
            api=resolved.profile.name,
            guide_url=resolved.guide_url,
        )
        app_key = app_key or _env("WEBULL_APP_KEY")
        if app_key and secret:
            self.set_credentials(app_key, secret)
        elif not credentials_later:
            raise CredentialsError(
                "no Webull app key and secret: pass Session(app_key, app_secret), set the "
                "WEBULL_APP_KEY and WEBULL_APP_SECRET environment variables, or enter them "
                "in webull_nb.panel()"
            )

    # --- plumbing -----------------------------------------------------------------------------

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

    def __repr__(self) -> str:
        """Show the state; never the secret or the full token."""
        where = self.base_url or "(no credentials)"
        return (
            f"<webull_nb.Session {self.status} token={self.token_hint or '(none)'} "
            f"app_key={self.app_key_hint or '(none)'} endpoint={where}>"
        )

    def _require_account(self) -> Account:
        if self._account is None:
            raise CredentialsError(
                "this session has no app key and secret yet: call set_credentials(), set "
                "WEBULL_APP_KEY / WEBULL_APP_SECRET, or enter them in the panel"
            )
        return self._account

    @property
    def _client(self) -> Client | None:
        return self._account.client if self._account else None

    @property
    def account(self) -> Account | None:
        """The account whose token this session shows (None until credentials are set)."""
        return self._account

    @property
    def store(self) -> Records | None:
        """Where this session keeps its token (None until credentials are set; kept on close)."""
        return self._store

    def now(self) -> float:
        """Return the server's estimated time in epoch seconds."""
        return self._account.now() if self._account else self._clock()

    def seconds_left(self) -> float | None:
        """Return the seconds left in the verification window, or None when not PENDING."""
        deadline = self.deadline
        if deadline is None or self.status != "PENDING":
            return None
        return max(0.0, deadline.timestamp() - self.now())

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

    def note_error(self, message: str) -> None:
        """Show a user-facing message (views display it; it never holds secrets)."""
        if self._account is not None:
            self._account.note_error(message)
        else:
            self._set(error=str(message))

    def check_soon(self) -> None:
        """Have the poller check at the earliest moment the rate limit allows."""
        if self._account is not None:
            self._account.check_soon()

    # --- credentials --------------------------------------------------------------------------

    def set_credentials(
        self,
        app_key: str,
        app_secret: str | Secret,
        *,
        region: str | None = None,
        environment: str | None = None,
        api: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        """Set (or replace) the app key and secret, and adopt the account's stored token."""
        app_key = (app_key or "").strip()
        secret = _boxed(app_secret)
        del app_secret  # see __init__
        if not app_key or not secret:
            raise CredentialsError("both the app key and the app secret are needed")
        resolved = endpoints.resolve(
            region or self.region,
            environment or self.environment,
            api or self.api,
            endpoint if endpoint is not None else self._endpoint,
        )
        self._endpoint = endpoint if endpoint is not None else self._endpoint
        storage = storage_for(
            app_key, resolved, self._token_dir, explicit_endpoint=bool(self._endpoint)
        )
        account = open_account(
            app_key,
            secret,
            resolved,
            storage,
            algorithm=self._algorithm,
            timeout=self._timeout,
            clock=self._clock,
            poll_interval=self.poll_interval,
        )
        self._leave_account()
        with self._mirror_lock:
            self._account = account
            self._store = account.store
            self._mirrored_version = -1
        self._set(
            has_credentials=True,
            app_key_hint=mask_token(app_key),
            region=resolved.region,
            environment=resolved.environment,
            api=resolved.profile.name,
            guide_url=resolved.guide_url,
            token_check_enabled=account.token_check_enabled,
        )
        self._listener = functools.partial(self._mirror, account)
        self._mirror(account, account.subscribe(self._listener))

    def _leave_account(self) -> None:
        old, self._account = self._account, None
        if old is not None and self._listener is not None:
            old.unsubscribe(self._listener)
            release_account(old)

    # --- the token lifecycle ------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """Run one user-initiated API call: busy flag on, error shown on failure."""
        self._set(busy=True)
        try:
            return fn(*args)
        except WebullError as exc:
            self.note_error(f"{what} failed: {exc}")
            raise
        finally:
            self._set(busy=False)

    def _check_config(self) -> bool:
        account = self._require_account()
        enabled = account.token_check()
        self._set(token_check_enabled=enabled)
        return enabled

    def create_token(self, force: bool = False) -> str:
        """Create a token (an SMS goes to the phone), or join the account's current one.

        While a token of this account is PENDING (in any kernel or terminal) or NORMAL, this
        joins it: no new SMS. ``force=True`` asks for a new token even while one is PENDING.
        """
        account = self._require_account()
        self._call("Creating a token", account.create, force)
        return self.status

    def check_token(self, wait: bool = False, timeout: float | None = None) -> str:
        """Check the current token now and return its status (shares the account's budget).

        ``wait``: when the budget is spent, wait for a fair turn (up to ``timeout`` s)
        rather than raise ``RateLimitError``.
        """
        account = self._require_account()
        if account.state.token is None:
            raise TokenStateError("there is no token to check: create one first")
        self._call("Checking the token", account.check, wait, timeout)
        return self.status

    def forget_token(self) -> None:
        """Drop the token here, in the store and in every session of this account."""
        self._require_account().forget()

    def ensure_token(self, timeout: float = 300) -> str:
        """Reuse the account's token if it still checks NORMAL, else create one and wait.

        The store is read first, so a token another kernel, the terminal command or the
        official SDK created is joined rather than replaced.
        """
        account = self._require_account()
        if not self._check_config() and self.status != "PENDING":
            # Tokens are not required here (test environment): one is NORMAL at once.
            return self.create_token()
        account.reload()
        if self.status == "NORMAL":
            # One check between all processes starting now (a NORMAL answer from another
            # process within the last minute counts).
            self._call("Checking the token", account.confirm_normal, timeout)
            if self.status == "NORMAL":
                return "NORMAL"
        if self.status != "PENDING":
            self.create_token()
        return self.wait(timeout) if self.status == "PENDING" else self.status

    # --- waiting ------------------------------------------------------------------------------

    def wait(self, timeout: float = 300, *, progress: bool | None = None) -> str:
        """Block until the token is NORMAL, EXPIRED or INVALID (or timeout); return the status.

        Ctrl-C or a kernel interrupt ends the wait cleanly; checking goes on in the
        background. In a terminal a one-line live status is printed meanwhile; in a notebook
        the panel keeps updating and its buttons keep working.
        """
        return waiting.block(self, lambda: self.status != "PENDING", timeout, progress)

    def wait_until_normal(self, timeout: float = 600, *, progress: bool | None = None) -> str:
        """Block until the token is NORMAL, through any number of create attempts (or timeout).

        In a notebook prefer ``await session.wait_until_normal_async()``: a cell blocked in
        plain Python cannot receive the panel's button clicks until it ends.
        """
        if waiting.in_kernel() and self.status not in ("PENDING", "NORMAL"):
            # Nothing is in progress and this cell would block the very click that starts it.
            print(
                "webull-nb: no token is being verified, and a blocked cell cannot receive the "
                "panel's clicks: use `await session.wait_until_normal_async()` in notebooks",
                file=sys.stderr,
            )
            return self.status
        return waiting.block(self, lambda: self.status == "NORMAL", timeout, progress)

    async def wait_async(self, timeout: float = 300) -> str:
        """Like ``wait`` but without blocking the event loop."""
        await waiting.until(self, lambda: self.status != "PENDING", timeout)
        return self.status

    async def wait_until_normal_async(self, timeout: float = 600) -> str:
        """Like ``wait_until_normal`` without blocking: in a notebook, ``await`` it in a cell.

        While the cell awaits, the panel's buttons and the simulated phone keep working, and
        cells queued by "Run All" run after it, in order.
        """
        await waiting.until(self, lambda: self.status == "NORMAL", timeout)
        return self.status

    def status_line(self) -> str:
        """Return a one-line summary of the state, as the terminal shows it."""
        line = f"Webull token: {self.status}"
        left = self.seconds_left()
        if left is not None:
            line += f" | {countdown(left)} left to approve it in the Webull App"
        elif self.status == "NORMAL" and self.token_hint:
            line += f" | {self.token_hint}"
            idle = self.idle_days_left()
            if idle is not None:
                line += f" | valid {idle:.1f} more days if unused"
                if idle < IDLE_WARNING_DAYS:
                    line += " (use it soon, or it becomes INVALID)"
        if self.error:
            line += f" | {self.error}"
        return line

    # --- later cells --------------------------------------------------------------------------

    def activate(self) -> Session:
        """Make this the session ``webull_nb.current()`` returns; returns self."""
        global _current
        with _current_lock:
            _current = self
        return self

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

    def sdk_api_client(self) -> Any:
        """The official SDK's ``ApiClient`` on this session's token (needs ``webull-nb[sdk]``).

        ``TradeClient(api)`` and ``DataClient(api)`` then reuse the NORMAL token with no new
        SMS; while the token is not NORMAL this raises ``TokenStateError`` rather than let
        the SDK block a cell for 5 minutes.
        """
        from webull_nb.session.sdk import sdk_api_client

        return sdk_api_client(self)

    # --- teardown -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop showing the account (its last session stops its checks); the token stays."""
        global _current
        self._leave_account()
        with _current_lock:
            if _current is self:
                _current = None

    def __enter__(self) -> Session:
        """Use the session as a context manager that closes it."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the session."""
        self.close()
