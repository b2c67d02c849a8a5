"""Helpers shared by the widget views (imported only by modules that use ipywidgets)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets


def close_parts(widget: widgets.Widget) -> None:
    """Close a widget's layout and style models: each has a comm of its own."""
    for name in ("layout", "style"):
        part = getattr(widget, name, None)
        if isinstance(part, widgets.Widget):
            part.close()


def close_descendants(box: widgets.Box) -> None:
    """Close every widget below ``box``, and ``box``'s own layout and style, freeing comms."""
    for child in list(box.children):
        if isinstance(child, widgets.Box):
            close_descendants(child)
        close_parts(child)
        child.close()
    close_parts(box)


def stop_observing(obj: Any, handler: Callable[..., Any], names: list[str]) -> None:
    """Remove an observer, tolerating one already removed."""
    with contextlib.suppress(ValueError):
        obj.unobserve(handler, names=names)


def dispatch(action: Callable[[], Any], background: bool, name: str) -> None:
    """Run a button's action off the kernel's main thread (inline when ``background`` is off).

    A worker thread keeps the UI live during a slow call and lets a cell that waits on the
    session go on; tests switch it off to run actions deterministically.
    """
    if background:
        threading.Thread(target=action, name=name, daemon=True).start()
    else:
        action()
