"""What every user of one account shares through its token directory: locks, a rate ledger, a
poll lease, and a watcher that notices when the store changes.

The token is the account's, not one object's: several notebooks, the terminal command and the
official SDK use one ``token.txt``. Beside it live

* ``token.lock``: held for short read-modify-write sections of the store and the ledger;
* ``token.create.lock``: held for the duration of one token create, so that at most one is in
  flight per account (single flight), across threads and processes;
* ``token.ledger.json``: when each create and check request of the last 30 s was sent, by any
  process, and which process currently polls a PENDING token (its lease).

Locks are ``filelock`` locks (an OS lock on a file, released by the OS when a process dies)
behind a per-process ``threading.RLock`` per path, so threads of one process queue without
polling and nested sections in one thread do not deadlock. On network filesystems whose
locks do not hold, this degrades to what each process does alone (see the README).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import math
import os
import select
import socket
import sys
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import filelock

from webull_nb.core.errors import StoreError, StoreLockError
from webull_nb.shared.files.store import TokenStore, read_small_file

__all__ = ["AccountLock", "RateLedger", "StoreWatcher", "host_clock_id", "lock_holder", "watcher"]

log = logging.getLogger(__name__)

LOCK_FILE = "token.lock"
CREATE_LOCK_FILE = "token.create.lock"
LEDGER_FILE = "token.ledger.json"
# The service allows 10 create and 10 check requests per 30 s per app key; half a second of
# margin keeps network jitter from squeezing 11 arrivals into the server's window.
RATE_LIMIT = 10
RATE_PERIOD = 30.5
SHORT_SECTION_TIMEOUT = 5.0
# A ledger holds a few dozen numbers; anything larger was not written by us.
MAX_LEDGER_BYTES = 64 * 1024
# A waiter that neither takes its slot nor renews its place this long after its turn has gone.
WAITER_GRACE = 3.0


def host_clock_id() -> str:
    """Names this host's monotonic clock: times in the ledger compare only under one name.

    The ledger keeps ``time.monotonic()`` times, which every process of one host shares and
    which no clock step (a laptop waking, NTP, a user) can move. On Linux the kernel's boot
    id names that clock; elsewhere the host name and boot moment do, approximately.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        booted = round((time.time() - time.monotonic()) / 60)
        return f"{socket.gethostname()}:{booted}"


_HOST = host_clock_id()


def process_gone(pid: object) -> bool:
    """Whether ``pid`` names no running process of this host (a zombie counts as gone)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False  # unknown: assume alive, and let the lease run out by itself
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # exists, but belongs to another user
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rpartition(")")[2].split()[:1]
    except OSError:
        return False
    return state in (["Z"], ["X"])


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


#: Names this host's boot and this process's pid namespace: a pid means one process only
#: among names that carry the same tag (containers on one host share a boot, not pids).
PROCESS_TAG = f"{_HOST.replace('-', '')[:12]}.{_pid_namespace()}"


def lock_holder(path: Path) -> tuple[int, str] | None:
    """(pid, state) of the process holding an OS lock on ``path``, where the OS tells (Linux)."""
    try:
        inode = os.stat(path).st_ino
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 12345 00:2a:67890 0 EOF"; waiters are marked "->".
        if len(fields) < 6 or fields[1] == "->":
            continue
        try:
            pid, where = int(fields[4]), fields[5]
        except ValueError:
            continue
        if where.rsplit(":", 1)[-1] == str(inode):
            return pid, _process_state(pid)
    return None


def _process_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            code = handle.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return ""
    return {"T": "stopped", "t": "stopped by a debugger", "D": "waiting on the disk"}.get(code, "")


_process_locks: dict[str, tuple[threading.RLock, filelock.FileLock]] = {}
_process_locks_guard = threading.Lock()


def _locks_for(path: Path) -> tuple[threading.RLock, filelock.FileLock]:
    key = str(path)
    with _process_locks_guard:
        pair = _process_locks.get(key)
        if pair is None:
            # thread_local=False: the RLock in front already serialises this process's
            # threads, and the file lock's own counter then makes nesting in one thread safe.
            pair = (threading.RLock(), filelock.FileLock(key, mode=0o600, thread_local=False))
            _process_locks[key] = pair
        return pair


class AccountLock:
    """One named lock of a token directory, across the threads and processes that use it.

    ``problem`` says, once a lock file could not be used at all, that this process now
    coordinates with itself only.
    """

    def __init__(self, directory: Path, name: str = LOCK_FILE) -> None:
        self.directory = directory
        self.path = directory / name
        self._thread_lock, self._file_lock = _locks_for(self.path)
        self.problem = ""

    def __repr__(self) -> str:
        """Name the lock file."""
        return f"AccountLock({str(self.path)!r})"

    @contextlib.contextmanager
    def hold(
        self, timeout: float = SHORT_SECTION_TIMEOUT, *, required: bool = False
    ) -> Iterator[None]:
        """Hold the lock for a ``with`` block; ``StoreLockError`` if it stays taken too long.

        ``required``: when the lock file cannot be used at all (a directory in its place, a
        read-only directory), raise ``StoreError`` instead of going on with this process's
        own lock: for sections that must never run twice at once, such as a token create.
        """
        if not self._thread_lock.acquire(timeout=max(timeout, 0)):
            raise self._timeout_error(timeout)
        try:
            locked = self._lock_file(timeout, required)
            try:
                yield
            finally:
                if locked:
                    self._file_lock.release()
        finally:
            self._thread_lock.release()

    def _lock_file(self, timeout: float, required: bool) -> bool:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._file_lock.acquire(timeout=timeout)
        except filelock.Timeout:
            raise self._timeout_error(timeout) from None
        except OSError as exc:
            why = exc.strerror or str(exc)
            if required:
                raise StoreError(
                    f"cannot take the lock {self.path} ({why}): refusing to go on, so that "
                    "no second SMS can go out. Remove or fix that path, or choose another "
                    "token directory"
                ) from None
            # A read-only or vanished directory: there is no store to protect either, so
            # carry on with this process's own lock rather than fail every call.
            if not self.problem:
                self.problem = (
                    f"cannot lock {self.path} ({why}): coordinating within this process only"
                )
                log.warning("%s", self.problem)
            return False
        return True

    def _timeout_error(self, timeout: float) -> StoreLockError:
        holder = lock_holder(self.path)
        if holder is None:
            who = "another process"
        else:
            pid, state = holder
            who = f"process {pid}" + (f" ({state})" if state else "")
        return StoreLockError(
            f"the token lock {self.path} has been held by {who} for over {timeout:.0f} s: "
            "nothing that needs it (a check, a create) can go on until it is released. "
            "Resume or end that process; this one keeps trying"
        )


class RateLedger:
    """The account's request budget and poll lease, shared by every process in one file.

    Times are this host's monotonic clock (see ``host_clock_id``), so a wall clock that
    steps either way neither frees nor blocks the budget. Every slot this process takes is
    also kept in memory, so when the file cannot be written (a read-only or full disk) the
    process still keeps to the limit on its own, and ``problem`` says the budget is no
    longer shared. Waiters (``try_acquire(kind, owner)``) queue in the file and are served
    oldest first; callers that do not wait go behind every waiter.
    """

    def __init__(
        self,
        store: TokenStore,
        lock: AccountLock,
        *,
        limit: int = RATE_LIMIT,
        period: float = RATE_PERIOD,
        clock: Callable[[], float] = time.monotonic,
        host: str = _HOST,
    ) -> None:
        self.store = store
        self.lock = lock
        self.limit = limit
        self.period = period
        self.problem = ""
        self._clock = clock
        self._host = host
        self._local: dict[str, list[float]] = {}

    @property
    def path(self) -> Path:
        """The ledger file."""
        return self.store.directory / LEDGER_FILE

    def _read(self) -> dict[str, Any]:
        try:
            read = read_small_file(self.path, MAX_LEDGER_BYTES)
            data = json.loads(read[0].decode("utf-8")) if read else {}
        except (OSError, ValueError, RecursionError) as exc:
            log.warning("the rate ledger %s is unusable (%s); starting a new one", self.path, exc)
            return {}
        if not isinstance(data, dict) or data.get("host") != self._host:
            # Another boot, or another machine on a shared folder: its clock is not ours.
            return {}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        data["host"] = self._host
        try:
            self.store.write_private(LEDGER_FILE, json.dumps(data).encode("utf-8"))
        except OSError as exc:
            if not self.problem:
                self.problem = (
                    f"cannot write the rate ledger {self.path} ({exc.strerror or exc}): this "
                    "process keeps to 10 checks per 30 s on its own, but the budget is no "
                    "longer shared with other processes"
                )
                log.warning("%s", self.problem)
        else:
            self.problem = ""

    def _recent(self, data: dict[str, Any], kind: str, now: float) -> list[float]:
        raw = data.get(kind)
        shared = Counter(
            v
            for v in (raw if isinstance(raw, list) else [])
            if isinstance(v, (int, float)) and math.isfinite(v) and now - self.period < v <= now + 1
        )
        # Our own slots count even when the file lost them (it could not be written); the
        # ones it holds count once.
        mine = Counter(v for v in self._local.get(kind, []) if v > now - self.period)
        return sorted((shared | mine).elements())

    def _queue(self, data: dict[str, Any], kind: str, now: float) -> list[list[Any]]:
        """The live waiters for ``kind``, oldest first: [since, owner, pid, until]."""
        waiting = data.get("waiting")
        raw = waiting.get(kind) if isinstance(waiting, dict) else None
        queue = [
            entry
            for entry in (raw if isinstance(raw, list) else [])
            if isinstance(entry, list)
            and len(entry) == 4
            and all(isinstance(v, (int, float)) for v in (entry[0], entry[3]))
            and entry[3] > now
            and not process_gone(entry[2])
        ]
        return sorted(queue, key=lambda entry: entry[0])

    def _wait(self, recent: list[float], now: float, position: int = 0) -> float:
        """Seconds until the slot for the ``position``-th caller in line opens."""
        free = self.limit - len(recent)
        if position < free:
            return 0.0
        if not recent:
            return self.period
        rounds, index = divmod(position - max(free, 0), len(recent))
        return max(0.0, recent[index] + (rounds + 1) * self.period - now)

    def try_acquire(self, kind: str, owner: str | None = None) -> float:
        """Take a slot for one ``kind`` request and return 0, or take none and return the wait.

        ``owner`` names a caller that will come back after the wait: it keeps its place in
        line, so a waiter is never overtaken by later ones.
        """
        with self.lock.hold():
            data = self._read()
            now = self._clock()
            recent = self._recent(data, kind, now)
            queue = self._queue(data, kind, now)
            mine = next((entry for entry in queue if entry[1] == owner), None)
            position = queue.index(mine) if mine is not None else len(queue)
            wait = self._wait(recent, now, position)
            if wait <= 0:
                if mine is not None:
                    queue.remove(mine)
                recent.append(now)
                # Pruned and extended under the lock only: no thread loses another's slot.
                kept = [v for v in self._local.get(kind, []) if v > now - self.period]
                self._local[kind] = [*kept, now]
            elif owner is not None:
                if mine is None:
                    mine = [now, owner, os.getpid(), 0.0]
                    queue.append(mine)
                mine[3] = now + wait + WAITER_GRACE
            else:
                return wait  # nothing to record: no write, no wake-up for other processes
            data[kind] = recent
            data.setdefault("waiting", {})
            if not isinstance(data["waiting"], dict):
                data["waiting"] = {}
            data["waiting"][kind] = queue
            self._write(data)
            return wait

    def leave_queue(self, kind: str, owner: str) -> None:
        """Give up ``owner``'s place in line (it stopped waiting)."""
        with contextlib.suppress(StoreError), self.lock.hold():
            data = self._read()
            waiting = data.get("waiting")
            raw = waiting.get(kind) if isinstance(waiting, dict) else None
            if isinstance(raw, list) and any(
                isinstance(e, list) and len(e) > 1 and e[1] == owner for e in raw
            ):
                waiting[kind] = [e for e in raw if not (isinstance(e, list) and e[1:2] == [owner])]
                self._write(data)

    def wait_time(self, kind: str) -> float:
        """Seconds until a ``kind`` request would be allowed (0 when one is allowed now)."""
        return self.timing(kind)[1]

    def timing(self, kind: str) -> tuple[float, float]:
        """(seconds since the last ``kind`` request of any process, inf when none is recent;
        seconds until one is allowed, behind every waiter), from one read of the ledger."""
        data = self._read()
        now = self._clock()
        recent = self._recent(data, kind, now)
        wait = self._wait(recent, now, len(self._queue(data, kind, now)))
        return (now - recent[-1] if recent else math.inf), wait

    def claim_lease(self, owner: str, duration: float) -> float:
        """Take or renew the poll lease: 0 if ``owner`` holds it now, else its seconds left.

        A lease never counts for longer than ``duration`` from now, and one whose holder no
        longer runs on this host is free at once.
        """
        with self.lock.hold(timeout=min(SHORT_SECTION_TIMEOUT, duration / 3)):
            data = self._read()
            now = self._clock()
            lease = data.get("poller")
            if isinstance(lease, dict) and lease.get("owner") != owner:
                until = lease.get("until")
                if (
                    isinstance(until, (int, float))
                    and now < until
                    and not process_gone(lease.get("pid"))
                ):
                    return min(until - now, duration)
            data["poller"] = {"owner": owner, "pid": os.getpid(), "until": now + duration}
            self._write(data)
            return 0.0

    def release_lease(self, owner: str) -> None:
        """Give up the poll lease if ``owner`` holds it."""
        with contextlib.suppress(StoreError), self.lock.hold(timeout=1.0):
            data = self._read()
            lease = data.get("poller")
            if isinstance(lease, dict) and lease.get("owner") == owner:
                del data["poller"]
                self._write(data)

    def service_offset(self) -> float | None:
        """The service's clock minus this host's, as another process last learned it."""
        value = self._read().get("service_offset")
        ok = (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )
        return float(value) if ok else None

    def record_offset(self, offset: float) -> None:
        """Share the service's clock offset learned here with the processes that start later."""
        with contextlib.suppress(StoreError), self.lock.hold(timeout=1.0):
            data = self._read()
            if data.get("service_offset") != offset:
                data["service_offset"] = offset
                self._write(data)

    def limiter(self, kind: str) -> LedgerLimiter:
        """A view of one kind of request, shaped like ``client.RateLimiter``."""
        return LedgerLimiter(self, kind)


class LedgerLimiter:
    """``try_acquire`` / ``wait_time`` for one kind of request, backed by the shared ledger.

    A thread inside ``waiting_as(owner)`` queues as that waiter; other calls do not queue.
    """

    def __init__(self, ledger: RateLedger, kind: str) -> None:
        self.ledger = ledger
        self.kind = kind
        self.limit = ledger.limit
        self.period = ledger.period
        self._waiter = threading.local()

    @contextlib.contextmanager
    def waiting_as(self, owner: str) -> Iterator[None]:
        """Within the block, this thread's requests keep ``owner``'s place in line."""
        self._waiter.owner = owner
        try:
            yield
        finally:
            self._waiter.owner = None

    def try_acquire(self) -> float:
        """Take a slot and return 0, or take nothing and return the seconds to wait."""
        return self.ledger.try_acquire(self.kind, getattr(self._waiter, "owner", None))

    def wait_time(self) -> float:
        """Return the seconds until a call would be allowed (0 when one is allowed now)."""
        return self.ledger.wait_time(self.kind)


class Watched(Protocol):
    """What the store watcher needs of an account."""

    def store_signature(self) -> object:
        """The signature of the store as last adopted."""

    def current_signature(self) -> object:
        """The signature of the store on disk now."""

    def reload(self) -> None:
        """Adopt what the store holds now."""

    def store_directory(self) -> Path:
        """The token directory whose changes matter."""

    def watch_fast(self) -> bool:
        """Whether a change is expected soon (a token is PENDING)."""


class DirectoryEvents:
    """Sleep until a token directory changes: Linux inotify through libc, no dependency.

    ``wait`` returns when a watched directory saw a file written, renamed or removed, when
    ``wake`` is called, or after ``timeout``. Elsewhere (``DirectoryEvents.open()`` gives
    None) the watcher polls instead.
    """

    # IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF
    # | IN_MOVE_SELF: every way a token file changes (atomic renames, the SDK's in-place
    # writes, forgetting), and the directory itself going away.
    MASK = 0x008 | 0x040 | 0x080 | 0x100 | 0x200 | 0x400 | 0x800

    def __init__(self, libc: Any, fd: int) -> None:
        self._libc = libc
        self.fd = fd
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._watched: dict[str, int] = {}  # directory -> its inode when the watch was added

    @classmethod
    def open(cls) -> DirectoryEvents | None:
        """The inotify instance of this process, or None where there is none."""
        if not sys.platform.startswith("linux"):
            return None
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.inotify_add_watch.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            return None
        return cls(libc, fd) if fd >= 0 else None

    def watch(self, directory: Path) -> bool:
        """Watch ``directory`` (again, if it was replaced); False when it cannot be watched."""
        try:
            inode = os.stat(directory).st_ino
        except OSError:
            return False
        key = str(directory)
        if self._watched.get(key) == inode:
            return True
        if self._libc.inotify_add_watch(self.fd, os.fsencode(key), self.MASK) < 0:
            return False
        self._watched[key] = inode
        return True

    def wait(self, timeout: float) -> None:
        """Return on a change in a watched directory, on ``wake``, or after ``timeout``."""
        ready, _, _ = select.select([self.fd, self._wake_read], [], [], timeout)
        for fd in ready:
            with contextlib.suppress(BlockingIOError, InterruptedError):
                while os.read(fd, 65536):
                    pass

    def wake(self) -> None:
        """End a ``wait`` now."""
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"!")


class StoreWatcher:
    """One thread per process that notices when any watched account's store changes on disk.

    On Linux it sleeps until the OS reports a change in a token directory (inotify), so a
    waiting kernel costs next to nothing and another kernel's NORMAL shows here within
    milliseconds; it still looks every ``SLOW`` seconds, for changes the OS does not report
    (a network filesystem written by another machine). Elsewhere it stats two files per
    account every ``FAST`` seconds while a token is PENDING, every ``SLOW`` otherwise. It
    reads the files only when their signature changed, and makes no API calls.
    """

    FAST = 0.05
    SLOW = 0.5

    def __init__(self, events: DirectoryEvents | None = None) -> None:
        self._targets: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._events = events

    def add(self, target: Watched) -> None:
        """Start watching ``target`` (weakly: a collected account drops out by itself)."""
        with self._lock:
            self._targets.add(target)
            if self._thread is not None and self._thread.is_alive():
                self.wake()
                return
            self._thread = threading.Thread(
                target=self._run, name="webull-nb-store-watcher", daemon=True
            )
        self._thread.start()

    def discard(self, target: Watched) -> None:
        """Stop watching ``target``."""
        with self._lock:
            self._targets.discard(target)

    def wake(self) -> None:
        """Look again now (say, a token just went PENDING and wants the fast pace)."""
        self._wake.set()
        if self._events is not None:
            self._events.wake()

    def _run(self) -> None:
        while True:
            with self._lock:
                targets = list(self._targets)
                if not targets:
                    self._thread = None
                    return
            fast = False
            notified = self._events is not None
            for target in targets:
                try:
                    if self._events is not None:
                        notified = self._events.watch(target.store_directory()) and notified
                    if target.current_signature() != target.store_signature():
                        target.reload()
                    fast = fast or target.watch_fast()
                except Exception:  # one broken account must not stop watching the others
                    log.exception("webull-nb: watching a token store failed")
            del targets  # no strong references while sleeping: closed accounts may go
            if notified and self._events is not None:
                self._wake.clear()
                self._events.wait(self.SLOW)
            else:
                self._wake.wait(self.FAST if fast else self.SLOW)
                self._wake.clear()


watcher = StoreWatcher(DirectoryEvents.open())
