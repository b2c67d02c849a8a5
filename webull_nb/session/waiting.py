"""Waiting for a token's status: blocking (a terminal or a script), nested in a notebook's event
loop, or awaited. Works on anything with a ``status`` trait and ``status_line()`` (a Session).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    # asyncio is imported where it is used: a kernel has it loaded already, and a plain
    # ``import webull_nb`` is spared about 20 ms.
    import asyncio

__all__ = ["Waitable", "block", "in_kernel", "until"]


class Waitable(Protocol):
    """What waiting needs: a ``status`` trait to observe and a one-line summary."""

    status: str

    def observe(self, handler: Callable[..., Any], names: Any = ...) -> None:
        """Call ``handler`` on trait changes."""

    def unobserve(self, handler: Callable[..., Any], names: Any = ...) -> None:
        """Stop calling ``handler``."""

    def status_line(self) -> str:
        """One line of state, as a terminal shows it."""


def kernel_loop() -> asyncio.AbstractEventLoop | None:
    """Return the event loop running this cell, when inside an IPython kernel."""
    if "ipykernel" not in sys.modules:
        return None
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def in_kernel() -> bool:
    """Whether this code runs in a notebook cell (an IPython kernel's running loop)."""
    return kernel_loop() is not None


def _in_terminal() -> bool:
    stream = sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and "ipykernel" not in sys.modules


def block(
    subject: Waitable, done: Callable[[], bool], timeout: float, progress: bool | None
) -> str:
    """Block until ``done()`` or ``timeout``; Ctrl-C ends it cleanly. Return the status."""
    loop = kernel_loop()
    show = (_in_terminal() if progress is None else progress) and loop is None
    try:
        if loop is not None:
            _block_in_kernel(loop, subject, done, timeout)
        else:
            _block_thread(subject, done, timeout, show)
    except KeyboardInterrupt:
        if show:
            print(file=sys.stdout)
        print(
            f"webull-nb: wait interrupted; the token is {subject.status}"
            + (" and checks go on in the background" if subject.status == "PENDING" else ""),
            file=sys.stderr,
        )
        return subject.status
    if show:
        _print_status(subject, final=True)
    return subject.status


def _block_thread(subject: Waitable, done: Callable[[], bool], timeout: float, show: bool) -> None:
    changed = threading.Event()

    def on_change(change: Mapping[str, Any]) -> None:
        changed.set()

    subject.observe(on_change)
    try:
        end = time.monotonic() + timeout
        while not done():
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            if show:
                _print_status(subject, final=False)
            # A second at most while showing progress: the countdown moves every second.
            changed.wait(min(remaining, 1.0) if show else remaining)
            changed.clear()
    finally:
        subject.unobserve(on_change)


def _block_in_kernel(
    loop: asyncio.AbstractEventLoop, subject: Waitable, done: Callable[[], bool], timeout: float
) -> None:
    # The cell runs inside the kernel's event loop. Running that loop nested (through
    # nest-asyncio2, applied here and only here) keeps the user's asyncio tasks going while
    # this cell waits, where a plain blocking wait would freeze them. On ipykernel 7.4 shell
    # messages (queued cells, and widget clicks too) are deferred until this cell ends, so
    # queued cells still run after it, in order.
    import nest_asyncio2

    nest_asyncio2.apply(loop)
    task = loop.create_task(until(subject, done, timeout))
    try:
        loop.run_until_complete(task)
    finally:
        if not task.done():
            task.cancel()


async def until(subject: Waitable, done: Callable[[], bool], timeout: float) -> None:
    """Return once ``done()`` holds (checked on every status change) or ``timeout`` passed."""
    if done():
        return
    import asyncio

    loop = asyncio.get_running_loop()
    reached = loop.create_future()

    def on_change(change: Mapping[str, Any]) -> None:
        # Status changes arrive on whichever thread published them.
        if done():
            with contextlib.suppress(RuntimeError):  # the loop may be closed by now
                loop.call_soon_threadsafe(lambda: reached.done() or reached.set_result(None))

    subject.observe(on_change, "status")
    try:
        if not done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(reached, timeout)
    finally:
        subject.unobserve(on_change, "status")


def _print_status(subject: Waitable, final: bool) -> None:
    sys.stdout.write("\r\x1b[2K" + subject.status_line() + ("\n" if final else ""))
    sys.stdout.flush()
