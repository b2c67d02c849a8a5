"""The background check of a PENDING token: one thread per account per process, and of all
the processes that watch one token only the holder of the account's poll lease checks it.

The others read its results from the store (the storage's change notification), so N kernels
cost the service what one does, and if the holder dies its lease runs out and another takes
over. The poller owns its lease in the account's ledger; it knows nothing of traitlets or
widgets, and drives a ``PollTarget`` (an ``account.Account``) through four calls.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from typing import Protocol

from webull_nb.core.errors import (
    AuthenticationError,
    InvalidTokenError,
    RateLimitError,
    StoreError,
    WebullError,
)
from webull_nb.core.secrets import Secret
from webull_nb.core.status import RATE_LIMIT, RATE_WINDOW
from webull_nb.shared.storage import Ledger

__all__ = ["POLL_INTERVAL", "PollTarget", "Poller"]

# The service allows 10 checks per 30 s; spread evenly over the ledger's window (with its
# margin) they are 3.05 s apart, so no check ever has to wait longer to catch up.
POLL_INTERVAL = RATE_WINDOW / RATE_LIMIT
MAX_BACKOFF = 30.0
# Past the deadline the service's answer decides (this clock may be wrong); only when it
# cannot be reached for this long after the deadline is the token marked EXPIRED here.
DEADLINE_GRACE = 10.0
# The holder renews its lease at least this often, so a lease outlives a sleep between checks.
MAX_NAP = 2.0


class PollTarget(Protocol):
    """What the poller needs of an account."""

    def pending(self) -> tuple[Secret, float] | None:
        """The PENDING token and the seconds left in its window, or None."""

    def poll_check(self, token: Secret) -> None:
        """Check ``token`` once and adopt the answer (dropped if the token was replaced)."""

    def poll_failed(self, token: Secret, message: str) -> None:
        """Show a failure, unless ``token`` is no longer the PENDING one."""

    def expire_locally(self, token: Secret) -> None:
        """Mark ``token`` EXPIRED: its window passed and the service could not be asked."""


class Poller:
    """Checks one account's PENDING token every ``interval`` seconds, within the rate limit."""

    def __init__(self, target: PollTarget, ledger: Ledger, interval: float = POLL_INTERVAL) -> None:
        self.target = target
        self.ledger = ledger
        self.interval = max(0.0, float(interval))
        self.lease_seconds = max(3 * self.interval, 3 * MAX_NAP)
        self._owner = uuid.uuid4().hex  # this poller's name in the lease
        self._polling = False  # whether it held the lease at its last claim
        self._lease_until = 0.0  # monotonic time its lease runs out, as last written
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._urgent = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def ensure(self) -> None:
        """Start the thread if it is not running (it ends by itself when nothing is PENDING)."""
        with self._lock:
            if self._closed:
                return
            if self._thread is not None and self._thread.is_alive():
                self._wake.set()
                return
            # A thread, not an asyncio task: a task on the kernel's loop freezes while a cell
            # runs plain Python, and checks must go on.
            self._thread = threading.Thread(
                target=self._run, name="webull-nb-token-poller", daemon=True
            )
            self._thread.start()

    def check_soon(self) -> None:
        """Check at the earliest moment the shared ledger allows, lease or not."""
        self._urgent = True
        self.ensure()
        self._wake.set()

    def wake(self) -> None:
        """Look at the account's state again now."""
        self._wake.set()

    def close(self) -> None:
        """Stop for good; a check in flight finishes and its answer is dropped if stale."""
        with self._lock:
            self._closed = True
        self._wake.set()

    @property
    def polling(self) -> bool:
        """Whether this poller held the lease at its last claim (it hears news first-hand)."""
        return self._polling

    def _claim(self, token: Secret) -> float:
        """0 when this poller may check now, else the seconds another process holds the lease."""
        now = time.monotonic()
        if self._polling and now < self._lease_until - self.lease_seconds / 2:
            return 0.0  # held, with time to spare: renewing now would only cost a write
        try:
            wait = self.ledger.claim_lease(self._owner, self.lease_seconds)
        except StoreError as exc:
            self.target.poll_failed(token, str(exc))
            wait = 1.0
        self._polling = wait <= 0
        self._lease_until = now + self.lease_seconds if self._polling else 0.0
        return wait

    def release(self) -> None:
        """Give up the lease if held (another process may poll at once)."""
        self._polling = False
        # A store out of reach lets the lease lapse by itself.
        with contextlib.suppress(StoreError):
            self.ledger.release_lease(self._owner)

    def _timing(self) -> tuple[float, float]:
        """(seconds until a check is due, ``interval`` after the last one of any process;
        seconds until the shared budget allows one), from one read of the ledger."""
        since_last, wait = self.ledger.timing("check")
        return max(0.0, self.interval - since_last), wait

    @property
    def alive(self) -> bool:
        """Whether the thread is running."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _nap(self, seconds: float) -> None:
        self._wake.wait(min(max(seconds, 0.0), MAX_NAP))
        self._wake.clear()

    def _backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures in a row (doubling, capped)."""
        return min(MAX_BACKOFF, max(self.interval, 1.0) * 2**failures)

    def _nap_through(self, seconds: float) -> None:
        """Nap ``seconds`` in ``MAX_NAP`` steps, ending early on close."""
        end = time.monotonic() + seconds
        while not self._closed and time.monotonic() < end:
            self._nap(end - time.monotonic())

    def _run(self) -> None:
        failures = 0
        backoff_until = 0.0
        try:
            while not self._closed:
                pending = self.target.pending()
                if pending is None:
                    return
                token, left = pending
                if left <= -DEADLINE_GRACE and failures:
                    # Only the service knows; a clock that is wrong must not decide alone.
                    self.target.expire_locally(token)
                    return
                urgent = self._urgent
                lease_wait = self._claim(token)
                if lease_wait > 0 and not urgent:
                    # Another process polls; the store watcher brings its results here.
                    self._nap(lease_wait + 0.05)
                    continue
                try:
                    due, allowed = self._timing()
                except StoreError as exc:
                    # The shared budget is out of reach (a paused or restarting store): no
                    # check without it, or hosts together could break the service's limit.
                    failures += 1
                    pause = self._backoff(failures)
                    self.target.poll_failed(token, f"{exc} (retrying in {pause:.0f} s)")
                    self._nap_through(pause)
                    continue
                if urgent:
                    delay = allowed
                else:
                    delay = max(due, backoff_until - time.monotonic())
                    if left > 0:
                        delay = min(delay, left + 0.05)  # wake at the deadline to confirm
                    delay = max(delay, allowed)
                if delay > 0:
                    self._nap(delay)
                    continue
                self._urgent = False
                try:
                    self.target.poll_check(token)
                except RateLimitError as exc:
                    backoff_until = time.monotonic() + max(exc.retry_after, 1.0)
                    continue
                except InvalidTokenError:
                    continue  # the next check reports the token's status
                except AuthenticationError as exc:
                    self.target.poll_failed(token, f"Checking the token failed: {exc}")
                    return
                except WebullError as exc:
                    failures += 1
                    pause = self._backoff(failures)
                    backoff_until = time.monotonic() + pause
                    self.target.poll_failed(
                        token, f"Checking the token failed: {exc} (retrying in {pause:.0f} s)"
                    )
                    continue
                failures = 0
        finally:
            self.release()
