"""One account's token lifecycle, shared by every Session of a process and, through its
storage, by every process: one SMS per create, one 5-minute window, one rate budget.

An account is one storage (``shared.storage``): by default a token directory per (app key,
environment, region), or per explicit endpoint (``registry.storage_for``). Sessions of one
process with the same credentials share one ``Account`` (``registry.open_account``);
processes share the storage: a create lock for single flight, a rate ledger, a poll lease,
and the token record itself, which every process watches and adopts.

Threading model (which thread writes which state)
--------------------------------------------------
The state is one immutable ``TokenState`` in ``Mirror.state``. It is replaced only by
``Mirror.publish``, with ``Mirror.lock`` held, and every replacement bumps ``version``. It
is written by exactly three kinds of thread:

* the caller's thread (a cell, a panel action, the terminal command): ``create``, ``check``,
  ``forget``, ``note_use``, ``note_error``;
* the account's poller thread (``poller.Poller``, at most one per account per process, and
  polling only while it holds the account's lease): check answers, ``poll_failed``,
  ``expire_locally``;
* the storage's watcher thread (one per process for files): ``reload`` when the record
  changed (another kernel, the terminal command, the official SDK).

Listeners (Sessions) are called after the lock is released, on the publishing thread; each
keeps only snapshots newer than the last it applied, so a snapshot delivered late is dropped.
An answer or error of the poller about a token that is no longer the current one is dropped
under the lock (the token is compared), so a stopped poller can never write. Lock order:
create lock, then the storage's lock (a file lock), then ``Mirror.lock``; no code holding
``Mirror.lock`` takes a storage lock or calls a listener. The create lock is the only lock
held across a network call: one create, or one check confirming a verdict of this clock
(``confirm_normal``, ``_confirm``), so that processes starting together ask once. The
storage's lock guards short sections only, and every wait for it is bounded and reported.

Time: deadlines shared between processes are in the service's time (``now()``, the local
clock corrected by the service's ``Date`` header); intervals, the ledger and the lease use
the host's monotonic clock (``shared.ledger``). A status concluded from the clock alone is
marked ``inferred`` and confirmed with the service before anything acts on it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import uuid
from collections.abc import Callable

from webull_nb.core import messages
from webull_nb.core.errors import (
    InvalidTokenError,
    RateLimitError,
    StoreError,
    StoreUnavailableError,
    TokenStateError,
)
from webull_nb.core.secrets import Secret
from webull_nb.core.status import TokenStatus, progress
from webull_nb.core.timefmt import utc
from webull_nb.core.tokens import TokenInfo, TokenState
from webull_nb.http.client import Client
from webull_nb.shared.mirror import Mirror
from webull_nb.shared.poller import POLL_INTERVAL, Poller
from webull_nb.shared.storage import Storage

__all__ = ["Account"]

log = logging.getLogger(__name__)

TOUCH_EVERY = 60.0
CREATE_LOCK_TIMEOUT = 60.0
# A check that waits for the shared budget waits this long unless told otherwise: three
# budget periods, enough for a fair turn behind dozens of other waiters.
CHECK_WAIT_TIMEOUT = 95.0
# A NORMAL answer this recent (from any process) counts as the service's word for a process
# that starts now: 32 kernels starting on one stored token make one check, not 32.
FRESH_CONFIRMATION = 60.0


class Account:
    """The token of one account: single flight, shared budget, one poller, the store as truth."""

    def __init__(
        self,
        client: Client,
        storage: Storage,
        *,
        app_key_hint: str = "",
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        """``client`` must take its rate slots from ``storage.ledger`` (see ``registry``)."""
        self.client = client
        self.storage = storage
        self.store = storage.records
        self.lock = storage.lock
        self.create_lock = storage.create_lock
        self.ledger = storage.ledger
        self.app_key_hint = app_key_hint
        self.token_check_enabled: bool | None = None
        self.closed = False
        self.mirror = Mirror(storage, self.now, self.coordination_problem, app_key_hint)
        self._last_touch = -math.inf
        self.users = 0  # sessions of this process using it (``registry``)
        self.poller = Poller(self, storage.ledger, poll_interval)
        storage.housekeeping()
        # Until its own first answer, this process reads the service's clock as another
        # process of this host learned it, so deadlines stored in service time read right.
        self._shared_offset = self.ledger.service_offset()
        if self._shared_offset is not None:
            self.client.clock_offset = self._shared_offset
        self.reload(force=True)
        storage.watch(self)

    def __repr__(self) -> str:
        """Show where the token lives and its state; never the token."""
        state = self.mirror.state
        return f"<Account {state.status} token={state.token_hint or '(none)'} in {self.storage}>"

    # --- state and listeners ------------------------------------------------------------------

    @property
    def state(self) -> TokenState:
        """The current snapshot."""
        return self.mirror.state

    def now(self) -> float:
        """The server's estimated time, epoch seconds."""
        return self.client.now()

    def _after(self, state: TokenState) -> None:
        self.mirror.notify(state)
        if state.status == TokenStatus.PENDING:
            self.poller.ensure()
            self.storage.wake()  # the fast pace while a token is PENDING

    def coordination_problem(self) -> str:
        """Why this process no longer shares locks or budget with the others, or empty."""
        return self.ledger.problem or self.lock.problem

    def subscribe(self, listener: Callable[[TokenState], None]) -> TokenState:
        """Call ``listener(state)`` after every change; return the state now."""
        return self.mirror.subscribe(listener)

    def unsubscribe(self, listener: Callable[[TokenState], None]) -> None:
        """Stop calling ``listener``."""
        self.mirror.unsubscribe(listener)

    def note_error(self, message: str) -> None:
        """Show a user-facing message in every view of this account."""
        self.mirror.update(error=str(message))

    # --- the store as the shared truth --------------------------------------------------------

    def store_signature(self) -> object:
        """The store's signature when this account last read or wrote it."""
        return self.mirror.seen

    def current_signature(self) -> object:
        """The store's signature on disk now."""
        return self.store.signature()

    def watch_fast(self) -> bool:
        """Whether news is expected from another process soon: PENDING, polled elsewhere."""
        # The lease holder learns the news first-hand; only the others need to look often.
        return self.mirror.state.status == TokenStatus.PENDING and not self.poller.polling

    def reload(self, force: bool = False) -> None:
        """Adopt what the store holds, if it changed since this account last looked."""
        with self.mirror.lock:
            state = self.mirror.reload_locked(force)
        if state is not None:
            self._after(state)

    def token_check(self) -> bool:
        """Whether the service wants access tokens here (asked once, then remembered)."""
        if self.token_check_enabled is None:
            config = self.client.config()
            self.token_check_enabled = bool(config.get("token_check_enabled", False))
        return self.token_check_enabled

    def _joinable(self, state: TokenState) -> bool:
        if state.token is None:
            return False
        if state.status == TokenStatus.NORMAL:
            return True
        return (
            state.status == TokenStatus.PENDING
            and state.deadline is not None
            and state.deadline.timestamp() > self.now()
        )

    def create(self, force: bool = False) -> TokenState:
        """Create a token, or join the account's PENDING or NORMAL one (no new SMS).

        At most one create is in flight per account, across threads and processes; whoever
        waited for it then finds its token in the store and joins it. ``force`` asks for a
        new token even while the current one is PENDING (it still joins a token that someone
        else created after this call began).
        """
        replacing = self.mirror.state.token if force else None
        # A token that could not be kept would cost an SMS now and another one next time.
        self.store.ensure_writable()
        try:
            return self._create_locked(replacing)
        except StoreUnavailableError:
            # The store stopped answering while this process waited its turn behind another
            # one's create. That create may have finished first: its token reached this
            # process by notification, and joining it costs no SMS. Creating without the
            # lock could cost a second SMS, so with nothing to join the error stands.
            state = self.mirror.state
            if self._joinable(state) and not (replacing and replacing.matches(state.token)):
                return state
            raise

    def _create_locked(self, replacing: Secret | None) -> TokenState:
        """``create``'s single flight: under the account's create lock."""
        with self.create_lock.hold(timeout=CREATE_LOCK_TIMEOUT, required=True):
            self.storage.housekeeping()
            self.reload()
            state = self.mirror.state
            asked_to_replace = replacing is not None and replacing.matches(state.token)
            if asked_to_replace:
                return self._adopt_answer(self.client.create_token(), fresh=True)
            if self._needs_confirmation(state):
                state = self._confirm()
            if self._joinable(state):
                return state
            info = self.client.create_token()
            return self._adopt_answer(info, fresh=True)

    def _needs_confirmation(self, state: TokenState) -> bool:
        """Whether ``state`` rests on this clock alone where the service may disagree."""
        if state.token is None:
            return False
        if state.inferred:
            return True
        return (
            state.status == TokenStatus.PENDING
            and state.deadline is not None
            and state.deadline.timestamp() <= self.now()
        )

    def _confirm(self) -> TokenState:
        """Ask the service about the token before acting on this clock's verdict on it."""
        try:
            return self.check(wait=True)
        except InvalidTokenError:
            return self.mirror.state  # the service does not know it: nothing to join

    def confirm_normal(self, timeout: float | None = None) -> TokenState:
        """Confirm a NORMAL token with the service, unless any process did so just now.

        One process at a time asks (under the create lock, which is held for one call), so
        processes starting together on a stored token make one check between them.
        """
        if self._fresh(self.mirror.state):
            return self.mirror.state
        with contextlib.ExitStack() as held:
            with contextlib.suppress(StoreError):
                held.enter_context(self.create_lock.hold(timeout=CREATE_LOCK_TIMEOUT))
            self.reload()
            state = self.mirror.state
            if state.status != TokenStatus.NORMAL or self._fresh(state):
                return state
            return self.check(wait=True, timeout=timeout)

    def _fresh(self, state: TokenState) -> bool:
        if state.status != TokenStatus.NORMAL or state.inferred or state.confirmed is None:
            return False
        age = self.now() - state.confirmed.timestamp()
        return 0 <= age <= FRESH_CONFIRMATION  # a confirmation from the future is not one

    def check(self, wait: bool = False, timeout: float | None = None) -> TokenState:
        """Check the current token now.

        ``wait``: when the shared budget is spent, take a place in line (across processes,
        oldest first) and wait for it, up to ``timeout`` seconds (``CHECK_WAIT_TIMEOUT`` by
        default), rather than raise ``RateLimitError`` at once.
        """
        token = self.mirror.state.token
        if token is None:
            raise TokenStateError("there is no token to check: create one first")
        if not wait:
            return self._adopt_answer(self._send_check(token), expected=token)
        give_up = time.monotonic() + (CHECK_WAIT_TIMEOUT if timeout is None else timeout)
        owner = uuid.uuid4().hex
        limiter = self.client.check_limiter
        waiting = getattr(limiter, "waiting_as", None)
        queued = False
        try:
            while True:
                try:
                    with waiting(owner) if waiting else contextlib.nullcontext():
                        info = self._send_check(token)
                except RateLimitError as exc:
                    queued = queued or exc.http_status is None
                    left = give_up - time.monotonic()
                    if exc.http_status is not None or left <= 0 or exc.retry_after > left:
                        raise
                    time.sleep(max(exc.retry_after, 0.01))
                    continue
                return self._adopt_answer(info, expected=token)
        finally:
            if queued:  # a place in line that is no longer needed goes at once
                self.ledger.leave_queue("check", owner)

    def _send_check(self, token: Secret) -> TokenInfo:
        sent = True
        try:
            return self.client.check_token(token)
        except RateLimitError as exc:
            sent = exc.http_status is not None  # refused here, before anything was sent
            raise
        except StoreError:
            sent = False  # the budget could not be consulted: nothing went out
            raise
        finally:
            if sent:
                with self.mirror.lock:
                    state = self.mirror.publish(checks_made=self.mirror.state.checks_made + 1)
                self.mirror.notify(state)

    def _share_offset(self) -> None:
        offset = self.client.clock_offset
        if self.client.clock_learned and (
            self._shared_offset is None or abs(offset - self._shared_offset) >= 1
        ):
            self._shared_offset = offset
            self.ledger.record_offset(offset)

    def _adopt_answer(
        self, info: TokenInfo, *, expected: Secret | None = None, fresh: bool = False
    ) -> TokenState:
        """Take a token API answer as the new truth and store it (a stale answer is dropped)."""
        if self.closed:
            return self.mirror.state  # a check that was in flight when the account closed
        self._share_offset()
        with self.mirror.store_lock_or_note() as problems, self.mirror.lock:
            # Another process may have stored news about this token (say, NORMAL) since.
            state = self.mirror.reload_locked() if not problems else None
            current = self.mirror.state
            same = current.token is not None and current.token.matches(info.token)
            replaced = not fresh and (expected is None or not expected.matches(current.token))
            overtaken = same and progress(info.status.value) < progress(current.status)
            if not (replaced or overtaken):
                # Not about a token since replaced or forgotten, nor overtaken by newer news
                # (a PENDING answer arriving after a NORMAL one): the answer is the truth.
                state = self.mirror.adopt_locked(info, current if same else None, problems, fresh)
        if state is not None:
            self._after(state)
        return self.mirror.state

    def forget(self) -> None:
        """Drop the token here, in the store and for every process (no revoke call exists)."""
        with self.mirror.store_lock_or_note() as problems, self.mirror.lock:
            state = self.mirror.forget_locked(problems[0] if problems else "")
        self.poller.release()
        self._after(state)

    def note_use(self) -> None:
        """Record a successful use of the token (the 15-day idle clock), stored once a minute."""
        now = self.now()
        with self.mirror.lock:
            token = self.mirror.state.token
            state = self.mirror.publish(last_used=utc(now))
            touch = token is not None and now - self._last_touch >= TOUCH_EVERY
            if touch:
                self._last_touch = now
        self.mirror.notify(state)
        if touch and token is not None:
            with contextlib.suppress(OSError, StoreError), self.lock.hold():
                self.store.touch(token.reveal(), utc(now), self.app_key_hint)
                with self.mirror.lock:
                    self.mirror.seen = self.store.signature()

    # --- what the poller drives (poller.PollTarget) ---------------------------------------------

    def pending(self) -> tuple[Secret, float] | None:
        """The PENDING token and the seconds left in its window, or None."""
        state = self.mirror.state
        if state.status != TokenStatus.PENDING or state.token is None or state.deadline is None:
            return None
        return state.token, state.deadline.timestamp() - self.now()

    def rate_wait(self) -> float:
        """Seconds until the shared budget allows a check."""
        return self.ledger.wait_time("check")

    def poll_check(self, token: Secret) -> None:
        """Check ``token`` once and adopt the answer."""
        self._adopt_answer(self._send_check(token), expected=token)

    def poll_failed(self, token: Secret, message: str) -> None:
        """Show a poller failure, unless its token is no longer the PENDING one."""
        self.mirror.guarded(token, error=message)

    def expire_locally(self, token: Secret) -> None:
        """Mark ``token`` EXPIRED: its window passed and the service could not be asked."""
        self.mirror.guarded(
            token,
            status=TokenStatus.EXPIRED.value,
            deadline=None,
            inferred=True,
            error=messages.EXPIRED_UNCONFIRMED,
        )

    def check_soon(self) -> None:
        """Have the poller check at the earliest moment the shared budget allows."""
        if self.mirror.state.status == TokenStatus.PENDING:
            self.poller.check_soon()

    # --- lifetime -----------------------------------------------------------------------------

    def close(self) -> None:
        """Stop polling and watching, give up the lease, close connections; the store stays."""
        self.closed = True
        self.poller.close()
        self.storage.unwatch(self)
        self.poller.release()
        self.client.close()
