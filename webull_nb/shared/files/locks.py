"""The locks of a token directory: OS file locks behind one in-process lock per path.

``token.lock`` is held for short read-modify-write sections of the store and the ledger;
``token.create.lock`` for one token create, so that at most one is in flight per account
(single flight), across threads and processes. A ``filelock`` lock is released by the OS
when its process dies. In front of it, one ``threading.RLock`` per path lets this process's
threads queue without polling and nested sections in one thread proceed; filelock's own
per-path singletons (``is_singleton``) do not give that, so the pairs are kept here. On
network filesystems whose locks do not hold, this degrades to what each process does alone
(see the README).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import filelock

from webull_nb.core.errors import StoreError, StoreLockError
from webull_nb.shared.storage import SHORT_SECTION_TIMEOUT

__all__ = ["CREATE_LOCK_FILE", "LOCK_FILE", "AccountLock", "lock_holder"]

log = logging.getLogger(__name__)

LOCK_FILE = "token.lock"
CREATE_LOCK_FILE = "token.create.lock"


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
