"""One thread per process that notices when a watched token directory changes on disk."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import sys
import threading
import weakref
from pathlib import Path
from typing import Any

from webull_nb.shared.storage import Watched

__all__ = ["DirectoryEvents", "StoreWatcher", "watcher"]

log = logging.getLogger(__name__)


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
        # target -> its token directory; weak: a collected account drops out by itself.
        self._targets: weakref.WeakKeyDictionary[Any, Path] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._events = events

    def add(self, target: Watched, directory: Path) -> None:
        """Start watching ``target``, whose store lives in ``directory`` (weakly held)."""
        with self._lock:
            self._targets[target] = directory
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
            self._targets.pop(target, None)

    def wake(self) -> None:
        """Look again now (say, a token just went PENDING and wants the fast pace)."""
        self._wake.set()
        if self._events is not None:
            self._events.wake()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._targets:
                    self._thread = None
                    return
            # Looked at in a call of its own: no strong reference to an account outlives it,
            # so a closed account may go while this thread sleeps.
            fast, notified = self._look()
            if notified and self._events is not None:
                self._wake.clear()
                self._events.wait(self.SLOW)
            else:
                self._wake.wait(self.FAST if fast else self.SLOW)
                self._wake.clear()

    def _look(self) -> tuple[bool, bool]:
        """Adopt every changed store; (whether a change is due soon, whether the OS reports)."""
        with self._lock:
            targets = list(self._targets.items())
        fast = False
        notified = self._events is not None
        for target, directory in targets:
            try:
                if self._events is not None:
                    notified = self._events.watch(directory) and notified
                if target.current_signature() != target.store_signature():
                    target.reload()
                fast = fast or target.watch_fast()
            except Exception:  # one broken account must not stop watching the others
                log.exception("webull-nb: watching a token store failed")
        return fast, notified


watcher = StoreWatcher(DirectoryEvents.open())
