"""The token lifecycle as a traitlets model, and signed headers for later cells.

A ``Session`` is the single source of truth that every view (the notebook panel, the
terminal status line) observes. Its traits hold only what is safe to show; the app secret
and the full token are private attributes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import requests
import traitlets
from requests.auth import AuthBase

from . import endpoints
from .client import Client, TokenInfo, body_bytes
from .errors import (
    AuthenticationError,
    CredentialsError,
    InvalidTokenError,
    RateLimitError,
    Secret,
    TokenStateError,
    WebullError,
    mask_token,
)
from .signing import query_pairs
from .store import StoredToken, TokenStore

__all__ = ["STATUSES", "Session", "WebullAuth", "current"]

STATUSES = ("NONE", "PENDING", "NORMAL", "INVALID", "EXPIRED")
FINAL = frozenset({"NORMAL", "INVALID", "EXPIRED"})
VERIFICATION_WINDOW = 300.0
IDLE_LIFETIME = timedelta(days=15)
# 10 checks per 30 s is the service's limit; the limiter adds its safety margin on top.
POLL_INTERVAL = 3.0
MAX_BACKOFF = 30.0
# After the deadline, one last check confirms EXPIRED; past this grace we stop asking.
DEADLINE_GRACE = 10.0
TOUCH_EVERY = 60.0

_STATUS_ERRORS = {
    "EXPIRED": "the token expired before it was approved: create a new one",
    "INVALID": "the token is no longer valid (unused for 15 days, or replaced): create a new one",
}

_current: Session | None = None
_current_lock = threading.Lock()


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


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=timezone.utc)


def _kernel_loop() -> asyncio.AbstractEventLoop | None:
    """Return the event loop running this cell, when inside an IPython kernel."""
    if "ipykernel" not in sys.modules:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _verification_deadline(start: float, expires: datetime | None) -> datetime:
    """End of the window to approve a token created at ``start``, never past its ``expires``."""
    end = start + VERIFICATION_WINDOW
    if expires is not None:
        end = min(end, expires.timestamp())
    return _utc(end)


def _in_terminal() -> bool:
    stream = sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and "ipykernel" not in sys.modules


def format_countdown(seconds: float) -> str:
    """Format seconds left as ``m:ss`` (never negative)."""
    seconds = max(0, int(seconds + 0.999))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Session(traitlets.HasTraits):
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
        app_secret: str | None = None,
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
        super().__init__()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._client: Client | None = None
        self._store: TokenStore | None = None
        self._token_box: Secret | None = None
        self._created_at: datetime | None = None
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._poller: threading.Thread | None = None
        self._generation = 0
        #: (server time, status) of every status change, oldest first: for teaching and logs.
        self.history: list[tuple[datetime, str]] = [(_utc(clock()), "NONE")]
        self._last_check = -1e9  # monotonic time of the last check, by anyone
        self._last_touch = -1e9
        self._algorithm = algorithm
        self._token_dir = token_dir
        self._endpoint = endpoint
        self._timeout = timeout
        self._clock = clock
        self.poll_interval = max(0.0, float(poll_interval))
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
        app_secret = app_secret or _env("WEBULL_APP_SECRET")
        if app_key and app_secret:
            self.set_credentials(app_key, app_secret)
        elif not credentials_later:
            raise CredentialsError(
                "no Webull app key and secret: pass Session(app_key, app_secret), set the "
                "WEBULL_APP_KEY and WEBULL_APP_SECRET environment variables, or enter them "
                "in webull_nb.panel()"
            )

    @property
    def _token(self) -> str | None:
        # Boxed so that vars(session), debuggers' dumps and pickles cannot show it.
        return self._token_box.reveal() if self._token_box else None

    @_token.setter
    def _token(self, value: str | None) -> None:
        self._token_box = Secret(value) if value else None

    # --- plumbing -----------------------------------------------------------------------------

    def _set(self, **values: Any) -> None:
        """Set read-only traits, then wake anyone waiting for a change."""
        new_status = values.get("status")
        if new_status is not None and new_status != self.status:
            self.history.append((_utc(self.now()), new_status))
        with self.hold_trait_notifications():
            for name, value in values.items():
                self.set_trait(name, value)
        with self._changed:
            self._changed.notify_all()

    def __repr__(self) -> str:
        """Show the state; never the secret or the full token."""
        where = self._client.endpoint.base_url if self._client else "(no credentials)"
        return (
            f"<webull_nb.Session {self.status} token={self.token_hint or '(none)'} "
            f"app_key={self.app_key_hint or '(none)'} endpoint={where}>"
        )

    def _require_client(self) -> Client:
        if self._client is None:
            raise CredentialsError(
                "this session has no app key and secret yet: call set_credentials(), set "
                "WEBULL_APP_KEY / WEBULL_APP_SECRET, or enter them in the panel"
            )
        return self._client

    def now(self) -> float:
        """Return the server's estimated time in epoch seconds."""
        return self._client.now() if self._client else self._clock()

    def seconds_left(self) -> float | None:
        """Return the seconds left in the verification window, or None when not PENDING."""
        deadline = self.deadline
        if deadline is None or self.status != "PENDING":
            return None
        return max(0.0, deadline.timestamp() - self.now())

    def next_check_in(self) -> float:
        """Return the seconds until a manual check would be within the rate limit."""
        return self._client.check_limiter.wait_time() if self._client else 0.0

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
        self._set(error=str(message))

    def check_soon(self) -> None:
        """Have the poller check at the earliest moment the rate limit allows."""
        self._last_check = -1e9
        if self.status == "PENDING":
            self._ensure_poller()

    @property
    def store(self) -> TokenStore | None:
        """Where this session keeps its token (None until credentials are set)."""
        return self._store

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
        """Set (or replace) the app key and secret, and restore any stored token."""
        app_key = (app_key or "").strip()
        secret = (
            app_secret if isinstance(app_secret, Secret) else Secret((app_secret or "").strip())
        )
        if not app_key or not secret:
            raise CredentialsError("both the app key and the app secret are needed")
        resolved = endpoints.resolve(
            region or self.region,
            environment or self.environment,
            api or self.api,
            endpoint if endpoint is not None else self._endpoint,
        )
        self._stop_poller()
        with self._lock:
            old = self._client
            self._client = Client(
                app_key,
                secret,
                endpoint=resolved,
                algorithm=self._algorithm,
                timeout=self._timeout,
                wait_for_rate_limit=False,
                clock=self._clock,
            )
            self._endpoint = endpoint if endpoint is not None else self._endpoint
            explicit = resolved.base_url if self._endpoint else None
            self._store = TokenStore.for_session(
                app_key, resolved.environment, resolved.region, self._token_dir, explicit
            )
            self._token = None
        if old is not None:
            old.close()
        self._set(
            has_credentials=True,
            app_key_hint=mask_token(app_key),
            region=resolved.region,
            environment=resolved.environment,
            api=resolved.profile.name,
            guide_url=resolved.guide_url,
            token_check_enabled=None,
            error="",
        )
        self._restore()

    def _restore(self) -> None:
        assert self._store is not None
        stored = self._store.load()
        if stored is None:
            self._show_no_token(error=self._store.problem)
            return
        deadline = None
        status = stored.status
        if status == "PENDING":
            created = stored.created.timestamp() if stored.created else 0.0
            deadline = _verification_deadline(created, stored.expires)
            if deadline.timestamp() <= self.now():
                status = "EXPIRED"
        with self._lock:
            self._token = stored.token
            self._created_at = stored.created
        self._set(
            status=status,
            token_hint=mask_token(stored.token),
            deadline=deadline if status == "PENDING" else None,
            expires=stored.expires,
            last_used=stored.last_used,
            restored=True,
            error="",
        )
        if status == "PENDING":
            self._ensure_poller()

    # --- the token lifecycle ------------------------------------------------------------------

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        """Run one user-initiated API call: busy flag on, error trait set on failure."""
        self._set(busy=True)
        try:
            result = fn(*args)
        except WebullError as exc:
            self._set(error=f"{what} failed: {exc}")
            raise
        finally:
            self._set(busy=False)
        return result

    def _check_config(self) -> bool:
        if self.token_check_enabled is None:
            config = self._require_client().config()
            self._set(token_check_enabled=bool(config.get("token_check_enabled", False)))
        return bool(self.token_check_enabled)

    def create_token(self, force: bool = False) -> str:
        """Ask for a token (an SMS goes to the phone) and return its status.

        ``force=True`` asks for a new token (and a new SMS) even while one is PENDING.
        """
        client = self._require_client()
        with self._lock:
            keep = self.status in ("PENDING", "NORMAL") and not force
            reuse = self._token if keep else None
        info = self._call("Creating a token", client.create_token, reuse)
        with self._lock:
            if info.token != self._token:
                self._created_at = _utc(client.now())
        self._apply(info, fresh=True)
        return self.status

    def check_token(self, wait: bool = False) -> str:
        """Check the current token now and return its status (shares the rate limit)."""
        client = self._require_client()
        with self._lock:
            token = self._token
        if token is None:
            raise TokenStateError("there is no token to check: create one first")
        if wait:
            delay = client.check_limiter.wait_time()
            if delay > 0:
                time.sleep(delay)
        info = self._call("Checking the token", self._checked, client, token)
        self._apply(info)
        return self.status

    def _checked(self, client: Client, token: str) -> TokenInfo:
        self._last_check = time.monotonic()
        sent = True
        try:
            return client.check_token(token)
        except RateLimitError as exc:
            sent = exc.http_status is not None  # refused here, before anything was sent
            raise
        finally:
            if sent:
                self._set(checks_made=self.checks_made + 1)

    def _apply(self, info: TokenInfo, fresh: bool = False) -> None:
        """Take a token API answer as the new truth, and persist it."""
        client = self._require_client()
        with self._lock:
            if not fresh and info.token != self._token:
                return  # an answer about a token we have since replaced or forgotten
            self._token = info.token
            created = self._created_at
        status = info.status.value
        deadline = None
        if status == "PENDING":
            start = created.timestamp() if created else client.now()
            deadline = _verification_deadline(start, info.expires)
        # Persist before announcing, so whoever wakes on the new status finds it stored.
        problem = self._persist(info, created)
        self._set(
            status=status,
            token_hint=mask_token(info.token),
            deadline=deadline,
            expires=info.expires,
            restored=False,
            error=problem or _STATUS_ERRORS.get(status, ""),
        )
        if status == "PENDING":
            self._ensure_poller()

    def _persist(self, info: TokenInfo, created: datetime | None) -> str:
        """Store the token; return a user-facing problem, or empty."""
        if self._store is None:
            return ""
        try:
            self._store.save(
                StoredToken(info.token, info.expires, info.status.value, created, self.last_used)
            )
        except OSError as exc:
            return f"could not save the token in {self._store.directory}: {exc}"
        return ""

    def forget_token(self) -> None:
        """Drop the token here and in the store (the service has no revoke call)."""
        self._stop_poller()
        with self._lock:
            self._token = None
            self._created_at = None
        if self._store is not None:
            self._store.clear()
        self._show_no_token(error="")

    def _show_no_token(self, error: str) -> None:
        self._set(
            status="NONE",
            token_hint="",
            deadline=None,
            expires=None,
            last_used=None,
            restored=False,
            error=error,
        )

    def ensure_token(self, timeout: float = 300) -> str:
        """Reuse the stored token if it still checks NORMAL, else create one and wait."""
        if not self._check_config() and self.status != "PENDING":
            # Tokens are not required here (test environment): one is NORMAL at once.
            return self.create_token()
        known = self._token is not None and self.status in ("NORMAL", "PENDING")
        if known and self.check_token(wait=True) == "NORMAL":
            return "NORMAL"
        if self.status != "PENDING":
            self.create_token()
        return self.wait(timeout) if self.status == "PENDING" else self.status

    # --- the poller ---------------------------------------------------------------------------

    def _ensure_poller(self) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            if self._poller is not None and self._poller.is_alive():
                self._wake.set()
                return
            # A thread, not an asyncio task: a task on the kernel's loop freezes while a cell
            # runs plain Python, and the countdown must not.
            self._poller = threading.Thread(
                target=self._poll_loop,
                args=(self._generation,),
                name="webull-nb-token-poller",
                daemon=True,
            )
            self._poller.start()

    def _stop_poller(self) -> None:
        with self._lock:
            # A poller busy in an HTTP call notices the new generation when it returns and
            # drops its answer; none of its results can land after this point.
            self._generation += 1
            poller, self._poller = self._poller, None
        self._wake.set()
        if poller is not None and poller is not threading.current_thread():
            poller.join(timeout=1)

    def _next_poll(self, client: Client, backoff_until: float) -> tuple[float, float | None]:
        """Return (monotonic time of the next check, seconds left in the window)."""
        now = time.monotonic()
        left = self.seconds_left()
        due = max(self._last_check + self.poll_interval, backoff_until)
        if left is not None and left > 0:
            due = min(due, now + left + 0.05)  # wake at the deadline to confirm the expiry
        return max(due, now + client.check_limiter.wait_time()), left

    def _poll_loop(self, generation: int) -> None:
        failures = 0
        backoff_until = 0.0
        while generation == self._generation and not self._closed.is_set():
            with self._lock:
                client, token, status = self._client, self._token, self.status
            if client is None or token is None or status != "PENDING":
                return
            due, left = self._next_poll(client, backoff_until)
            deadline = self.deadline
            if left == 0 and deadline and self.now() > deadline.timestamp() + DEADLINE_GRACE:
                self._expire_locally(token)
                return
            if due > time.monotonic():
                self._wake.wait(due - time.monotonic())
                self._wake.clear()
                continue
            try:
                info = self._checked(client, token)
            except RateLimitError as exc:
                backoff_until = time.monotonic() + max(exc.retry_after, 1.0)
                continue
            except InvalidTokenError:
                continue  # the next check reports the token's status
            except AuthenticationError as exc:
                self._set(error=f"Checking the token failed: {exc}")
                return
            except WebullError as exc:
                failures += 1
                pause = min(MAX_BACKOFF, max(self.poll_interval, 1.0) * 2**failures)
                backoff_until = time.monotonic() + pause
                self._set(error=f"Checking the token failed: {exc} (retrying in {pause:.0f} s)")
                continue
            failures = 0
            if generation == self._generation:
                self._apply(info)

    def _expire_locally(self, token: str) -> None:
        with self._lock:
            if token != self._token or self.status != "PENDING":
                return
        self._set(
            status="EXPIRED",
            deadline=None,
            error="the verification window passed without an answer: create a new token",
        )

    # --- waiting ------------------------------------------------------------------------------

    def wait(self, timeout: float = 300, *, progress: bool | None = None) -> str:
        """Block until the token is NORMAL, EXPIRED or INVALID (or timeout); return the status.

        Ctrl-C or a kernel interrupt ends the wait cleanly; checking goes on in the
        background. In a terminal a one-line live status is printed meanwhile; in a notebook
        the panel keeps updating and its buttons keep working.
        """
        return self._block(lambda: self.status != "PENDING", timeout, progress)

    def wait_until_normal(self, timeout: float = 600, *, progress: bool | None = None) -> str:
        """Block until the token is NORMAL, through any number of create attempts (or timeout).

        In a notebook prefer ``await session.wait_until_normal_async()``: a cell blocked in
        plain Python cannot receive the panel's button clicks until it ends.
        """
        if _kernel_loop() is not None and self.status != "PENDING" and self.status != "NORMAL":
            # Nothing is in progress and this cell would block the very click that starts it.
            print(
                "webull-nb: no token is being verified, and a blocked cell cannot receive the "
                "panel's clicks: use `await session.wait_until_normal_async()` in notebooks",
                file=sys.stderr,
            )
            return self.status
        return self._block(lambda: self.status == "NORMAL", timeout, progress)

    def _block(self, done: Callable[[], bool], timeout: float, progress: bool | None) -> str:
        loop = _kernel_loop()
        show = (_in_terminal() if progress is None else progress) and loop is None
        try:
            if loop is not None:
                self._block_in_kernel(loop, done, timeout)
            else:
                self._block_thread(done, timeout, show)
        except KeyboardInterrupt:
            if show:
                print(file=sys.stdout)
            print(
                f"webull-nb: wait interrupted; the token is {self.status}"
                + (" and checks go on in the background" if self.status == "PENDING" else ""),
                file=sys.stderr,
            )
            return self.status
        if show:
            self._print_status(final=True)
        return self.status

    def _block_thread(self, done: Callable[[], bool], timeout: float, show: bool) -> None:
        end = time.monotonic() + timeout
        with self._changed:
            while not done():
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return
                if show:
                    self._print_status(final=False)
                self._changed.wait(min(remaining, 1.0) if show else remaining)

    def _block_in_kernel(
        self, loop: asyncio.AbstractEventLoop, done: Callable[[], bool], timeout: float
    ) -> None:
        # The cell runs inside the kernel's event loop. Running that loop nested (through
        # nest-asyncio2, applied here and only here) keeps the user's asyncio tasks going
        # while this cell waits, where a plain blocking wait would freeze them. On ipykernel
        # 7.4 shell messages (queued cells, and widget clicks too) are deferred until this
        # cell ends, so queued cells still run after it, in order.
        import nest_asyncio2

        nest_asyncio2.apply(loop)
        task = loop.create_task(self._until(done, timeout))
        try:
            loop.run_until_complete(task)
        finally:
            if not task.done():
                task.cancel()

    async def _until(self, done: Callable[[], bool], timeout: float) -> None:
        if done():
            return
        loop = asyncio.get_running_loop()
        reached = loop.create_future()

        def on_change(change: Mapping[str, Any]) -> None:
            if done():
                with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                    loop.call_soon_threadsafe(lambda: reached.done() or reached.set_result(None))

        self.observe(on_change, "status")
        try:
            if not done():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(reached, timeout)
        finally:
            self.unobserve(on_change, "status")

    def status_line(self) -> str:
        """Return a one-line summary of the state, as the terminal shows it."""
        line = f"Webull token: {self.status}"
        left = self.seconds_left()
        if left is not None:
            line += f" | {format_countdown(left)} left to approve it in the Webull App"
        elif self.status == "NORMAL" and self.token_hint:
            line += f" | {self.token_hint}"
        if self.error:
            line += f" | {self.error}"
        return line

    def _print_status(self, final: bool) -> None:
        sys.stdout.write("\r\x1b[2K" + self.status_line() + ("\n" if final else ""))
        sys.stdout.flush()

    async def wait_async(self, timeout: float = 300) -> str:
        """Like ``wait`` but without blocking the event loop."""
        await self._until(lambda: self.status != "PENDING", timeout)
        return self.status

    async def wait_until_normal_async(self, timeout: float = 600) -> str:
        """Like ``wait_until_normal`` without blocking: in a notebook, ``await`` it in a cell.

        While the cell awaits, the panel's buttons and the simulated phone keep working, and
        cells queued by "Run All" run after it, in order.
        """
        await self._until(lambda: self.status == "NORMAL", timeout)
        return self.status

    # --- later cells --------------------------------------------------------------------------

    def activate(self) -> Session:
        """Make this the session ``webull_nb.current()`` returns; returns self."""
        global _current
        with _current_lock:
            _current = self
        return self

    def _usable_token(self) -> str | None:
        if not self._check_config():
            return self._token if self.status == "NORMAL" else None
        if self.status == "NORMAL" and self._token:
            return self._token
        left = self.seconds_left()
        advice = {
            "NONE": "there is no access token yet: create one (session.create_token() or the "
            "panel's Create token button) and approve it in the Webull App",
            "PENDING": "the access token is waiting for approval in the Webull App"
            + (f" ({format_countdown(left)} left)" if left is not None else ""),
            "EXPIRED": "the access token expired before it was approved: create a new one",
            "INVALID": "the access token is no longer valid (unused for 15 days, or "
            "replaced): create a new one",
        }
        raise TokenStateError(advice.get(self.status, f"the token is {self.status}"))

    def headers(
        self,
        method: str,
        path: str,
        params: Any = None,
        body: bytes | str | Mapping[str, Any] | list[Any] | None = None,
        *,
        host: str | None = None,
    ) -> dict[str, str]:
        """Return fresh signed headers for exactly this request, with the token if any.

        ``body`` must be the exact bytes you send; a dict or list is encoded compactly, so
        send it as ``data=webull_nb.client.compact_json(body)`` (or use ``session.auth``).
        """
        client = self._require_client()
        token = self._usable_token()
        return client.sign_headers(
            method, path, params=params, body=body_bytes(body), token=token, host=host
        )

    @property
    def auth(self) -> WebullAuth:
        """A ``requests`` auth hook that signs each request at send time."""
        return WebullAuth(self)

    def _note_use(self) -> None:
        now = self.now()
        self._set(last_used=_utc(now))
        if self._store is not None and self._token and now - self._last_touch >= TOUCH_EVERY:
            self._last_touch = now
            with contextlib.suppress(OSError):
                self._store.touch(self._token, _utc(now))

    def valid_until(self) -> datetime | None:
        """Return when a NORMAL token goes INVALID if unused (15 days after its last use)."""
        if self.status != "NORMAL":
            return None
        if self.last_used is not None:
            return self.last_used + IDLE_LIFETIME
        return self.expires  # the service's own answer until we have used the token

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Any = None,
        json: Any = None,
        data: bytes | str | None = None,
    ) -> requests.Response:
        """Send a signed API request with the active token; failures raise ``WebullError``."""
        client = self._require_client()
        path, query = self._path_of(client, path_or_url)
        if query:
            params = [*parse_qsl(query, keep_blank_values=True), *query_pairs(params)]
        token = self._usable_token()
        try:
            response = client.request(
                method, path, params=params, json=json, data=data, token=token
            )
        except InvalidTokenError as exc:
            self._set(error=str(exc))
            raise
        if token:
            self._note_use()
        return response

    def get(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        """Send a signed GET."""
        return self.request("GET", path_or_url, **kwargs)

    def post(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        """Send a signed POST."""
        return self.request("POST", path_or_url, **kwargs)

    @staticmethod
    def _path_of(client: Client, path_or_url: str) -> tuple[str, str]:
        """Split a path or same-endpoint URL into (path, query)."""
        if "://" in path_or_url:
            base = client.endpoint.base_url
            if not path_or_url.startswith(base + "/"):
                raise ValueError(f"{path_or_url!r} is not on this session's endpoint {base}")
            path_or_url = path_or_url[len(base) :]
        path, _, query = path_or_url.partition("?")
        return (path if path.startswith("/") else "/" + path), query

    # --- teardown -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the background checks and close connections; the stored token stays."""
        global _current
        self._closed.set()
        self._stop_poller()
        if self._client is not None:
            self._client.close()
        with _current_lock:
            if _current is self:
                _current = None

    def __enter__(self) -> Session:
        """Use the session as a context manager that closes it."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the session."""
        self.close()


_DEFAULT_PORTS = {"http": "80", "https": "443"}


class WebullAuth(AuthBase):
    """Signs a prepared ``requests`` request over its real URL, Host and body bytes."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __repr__(self) -> str:
        """Name the session it signs for."""
        return f"WebullAuth({self.session!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the signing headers and the token; mark the session used on success."""
        parts = urlsplit(request.url or "")
        host = request.headers.get("Host") or parts.netloc
        scheme_port = _DEFAULT_PORTS.get(parts.scheme)
        if scheme_port and host.endswith(":" + scheme_port):
            host = host[: -len(scheme_port) - 1]  # http.client drops the default port too
        body = request.body
        if body is not None and not isinstance(body, (bytes, str)):
            raise TypeError("WebullAuth cannot sign a streamed body: pass bytes, str or json=")
        headers = self.session.headers(
            request.method or "GET",
            unquote(parts.path or "/"),
            parse_qsl(parts.query, keep_blank_values=True),
            body,
            host=host,
        )
        if not body or "Content-Type" in request.headers:
            headers.pop("Content-Type", None)  # keep whatever requests chose for the body
        request.headers.update(headers)
        if "x-access-token" in headers:
            request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if 200 <= response.status_code < 300:
            self.session._note_use()
