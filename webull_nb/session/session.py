"""A session: credentials, the token lifecycle, signed requests and waiting, for later cells.

A ``Session`` is what every view (the notebook panel, the terminal status line) observes:
its traits (``model.TokenModel``) mirror its account's state (``webull_nb.shared.account``:
the token belongs to the account, shared by every Session, kernel and terminal that uses
it). Its calls start the token's lifecycle (create, check, wait) and sign later requests
(``signer.Signer``).
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import requests

from webull_nb.core import endpoints, env
from webull_nb.core.errors import CredentialsError, TokenStateError, WebullError
from webull_nb.core.secrets import Secret, mask_token
from webull_nb.core.tokens import TokenState
from webull_nb.http.auth import WebullAuth
from webull_nb.session import credentials, waiting
from webull_nb.session.model import TokenModel
from webull_nb.session.requestlog import RequestLog
from webull_nb.session.signer import Signer
from webull_nb.shared.account import Account
from webull_nb.shared.poller import POLL_INTERVAL
from webull_nb.shared.registry import open_account, release_account, storage_for
from webull_nb.shared.storage import Records

__all__ = ["Session", "current"]


log = logging.getLogger(__name__)

_current: Session | None = None
_current_lock = threading.Lock()
# Accounts whose storage warning was given: once per account, not again for every Session
# that joins it.
_warned: weakref.WeakSet[Account] = weakref.WeakSet()
_warned_lock = threading.Lock()


def current() -> Session:
    """Return the active session (the last one activated, or created by the panel)."""
    with _current_lock:
        if _current is None:
            raise LookupError(
                "no active webull-nb session: show one with webull_nb.panel(), "
                "or create Session(...) and call .activate()"
            )
        return _current


def _warn_once(account: Account) -> None:
    """Say the storage's warning (a token directory on NFS, say) once per account."""
    warning = account.storage.warning
    if not warning:
        return
    with _warned_lock:
        if account in _warned:
            return
        _warned.add(account)
    log.warning("webull-nb: %s", warning)
    if not account.state.error:
        # A problem found at start (an unreadable record) is more pressing: it stays, and
        # the log keeps the warning. Any later error or answer replaces the warning.
        account.note_error(warning)


class Session(TokenModel):
    """A Webull OpenAPI session: credentials, the token lifecycle, and signing for later cells."""

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
        store: str | None = None,
        credentials_later: bool = False,
        poll_interval: float = POLL_INTERVAL,
        clock: Callable[[], float] = time.time,
        timeout: float | tuple[float, float] = (5.0, 15.0),
    ) -> None:
        # Boxed at once: a failing call below (a typo in the region, say) must not show the
        # secret among this frame's locals in a verbose traceback.
        app_key, secret = credentials.find(app_key, app_secret)
        del app_secret
        super().__init__(clock)
        self._signer: Signer | None = None
        # The session's, not the account's: it outlives a change of credentials.
        self._request_log = RequestLog()
        self._store: Records | None = None
        self._listener: Callable[[TokenState], None] | None = None
        self._algorithm = algorithm
        self._token_dir = token_dir
        self._store_url = store
        self._endpoint = endpoint
        self._timeout = timeout
        self.poll_interval = max(0.0, float(poll_interval))
        region = region or env.get(env.REGION) or "us"
        environment = environment or env.get(env.ENVIRONMENT) or "prod"
        # Validate early so a typo fails here, not at the first request.
        resolved = endpoints.resolve(region, environment, api, endpoint)
        self._set(
            region=resolved.region,
            environment=resolved.environment,
            api=resolved.profile.name,
            guide_url=resolved.guide_url,
        )
        if app_key and secret:
            self.set_credentials(app_key, secret)
        elif not credentials_later:
            raise CredentialsError(credentials.MISSING)

    # --- plumbing -----------------------------------------------------------------------------

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
    def store(self) -> Records | None:
        """Where this session keeps its token (None until credentials are set; kept on close)."""
        return self._store

    @property
    def store_warning(self) -> str | None:
        """A caution about where the token is kept (a token directory on NFS, say), or None."""
        return self._account.storage.warning if self._account is not None else None

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
        secret = credentials.boxed(app_secret)
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
            app_key,
            resolved,
            self._token_dir,
            explicit_endpoint=bool(self._endpoint),
            store=self._store_url,
            app_secret=secret,
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
            self._signer = Signer(account, self.note_error, self._check_config, self._request_log)
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
        _warn_once(account)

    def _leave_account(self) -> None:
        old, self._account, self._signer = self._account, None, None
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

    # --- signed requests for later cells (see ``signer.Signer``) ----------------------------

    def _require_signer(self) -> Signer:
        self._require_account()
        assert self._signer is not None
        return self._signer

    def headers(
        self,
        method: str,
        path: str,
        params: Any = None,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        *,
        host: str | None = None,
        version: str | None = None,
    ) -> dict[str, str]:
        """Return fresh signed headers for exactly this request, with the token if any.

        ``body`` must be the exact bytes you send; a dict or list is encoded compactly, so
        send it as ``data=webull_nb.client.compact_json(body)`` (or use ``session.auth``).
        ``x-version`` is the one the path needs (the endpoint catalog's), unless ``version``.
        """
        return self._require_signer().headers(
            method, path, params, body, host=host, version=version
        )

    @property
    def request_log(self) -> RequestLog:
        """The last 200 requests this session sent (no headers, no token): a table in a
        notebook; ``session.request_log[-1].as_code()`` repeats the latest."""
        return self._request_log

    def note_response(self, response: requests.Response) -> None:
        """Log an answer to a request signed by ``session.auth``."""
        if self._signer is not None:
            self._signer.note_response(response)

    @property
    def auth(self) -> WebullAuth:
        """A ``requests`` auth hook that signs each request at send time (follows this
        session through a change of credentials)."""
        return WebullAuth(self)

    def note_use(self) -> None:
        """Record a successful use of the token (Webull's 15-day idle clock)."""
        self._require_signer().note_use()

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Any = None,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send a signed API request with the active token; failures raise ``WebullError``.

        The ``x-version`` header is the one the path needs (the endpoint catalog's); one in
        ``headers`` wins. Each request is kept in ``request_log``.
        """
        return self._require_signer().request(
            method, path_or_url, params=params, json=json, data=data, headers=headers
        )

    def get(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        """Send a signed GET (``params=``, ``headers=``)."""
        return self.request("GET", path_or_url, **kwargs)

    def post(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        """Send a signed POST (``json=`` or ``data=``, ``headers=``)."""
        return self.request("POST", path_or_url, **kwargs)

    # --- waiting ------------------------------------------------------------------------------

    def wait(self, timeout: float = 300, *, progress: bool | None = None) -> str:
        """Block until the token is NORMAL, EXPIRED or INVALID (or timeout); return the status.

        Ctrl-C or a kernel interrupt ends the wait cleanly; checking goes on in the
        background. In a terminal a one-line live status is printed meanwhile; in a notebook
        the panel keeps updating, but the kernel holds its clicks (the phone's Confirm too)
        until the cell ends: to approve from the panel while waiting, ``await
        session.wait_async()``.
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

    # --- later cells --------------------------------------------------------------------------

    def activate(self) -> Session:
        """Make this the session ``webull_nb.current()`` returns; returns self."""
        global _current
        with _current_lock:
            _current = self
        return self

    def sdk_api_client(self) -> Any:
        """The official SDK's ``ApiClient`` on this session's token (needs ``webull-nb[sdk]``).

        ``TradeClient(api)`` and ``DataClient(api)`` then reuse the NORMAL token with no new
        SMS; while the token is not NORMAL this raises ``TokenStateError`` rather than let
        the SDK block a cell for 5 minutes.
        """
        from webull_nb.session.sdk import sdk_api_client

        return sdk_api_client(self._require_account())

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
