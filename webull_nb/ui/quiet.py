"""The new-code quiet time: a burst of "Send a new code" clicks sends one SMS.

"Send a new code" is ignored while a code is being asked for and ``NEW_CODE_QUIET`` seconds
after. There is one guard per session: every view of a session counts as one place to click.
"""

from __future__ import annotations

import math
import threading
import weakref

__all__ = ["NEW_CODE_QUIET", "CodeGuard", "guard_of"]

#: Seconds after a code was asked for (Create token, Send a new code) during which "Send a
#: new code" is ignored: a double click or an impatient burst must not send several SMS.
NEW_CODE_QUIET = 5.0


class CodeGuard:
    """When a new code may be asked for: not while one is asked for, nor just after."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._quiet_until = -math.inf

    def begin(self, now: float, *, repeat_ok: bool) -> bool:
        """Return whether to go ahead; if so, ``end`` must follow."""
        with self._lock:
            if not repeat_ok and (self._running or now < self._quiet_until):
                return False
            self._running += 1
            return True

    def end(self, now: float) -> None:
        """Note that an ask for a code ended: the quiet time starts now."""
        with self._lock:
            self._running -= 1
            self._quiet_until = now + NEW_CODE_QUIET


_GUARDS: weakref.WeakKeyDictionary[object, CodeGuard] = weakref.WeakKeyDictionary()
_GUARDS_LOCK = threading.Lock()


def guard_of(session: object) -> CodeGuard:
    """Return the guard of ``session``, made on first use."""
    with _GUARDS_LOCK:
        guard = _GUARDS.get(session)
        if guard is None:
            guard = _GUARDS[session] = CodeGuard()
        return guard
