"""What a notebook saves of the panel: its text/html and text/plain, kept current after each cell.

The panel is displayed with a display id. A notebook run with no view drawn (nbclient,
papermill, ``webull-nb demo --headless``, a notebook server's "run and save") would otherwise
keep the NO TOKEN it showed when the cell ran, whatever came later; so at the end of each
cell, while no view has said hello, the output is brought up to date. It runs on the kernel's
main thread, where the update goes out with that cell's messages (a headless runner drops
messages that belong to no running cell). Once a view is drawn, a browser shows the live
state, and an update would make it redraw the whole panel (losing what the user is typing):
then the saved output is left alone.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["SavedOutput"]

#: Returns the (data, metadata) of the panel's mime bundle.
Bundle = Callable[[], tuple[dict[str, Any], dict[str, Any]]]


def _ipython() -> Any:
    """Return the running IPython shell, or None (plain Python, marimo)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def _texts(data: dict[str, Any]) -> tuple[str, str]:
    return data.get("text/plain", ""), data.get("text/html", "")


class SavedOutput:
    """One displayed panel's output in a notebook, followed until a view is drawn."""

    def __init__(self, bundle: Bundle) -> None:
        self._bundle = bundle
        self._display_id = f"webull-nb-panel-{uuid.uuid4().hex}"
        self._displayed: tuple[str, str] | None = None
        self._after_cell: Callable[..., None] | None = None
        #: A view is drawn (it said hello): it shows the live state.
        self.live = False
        self._stopped = False

    def show(self) -> None:
        """Display the panel with this display id, and follow it after each cell."""
        from IPython.display import display

        data, metadata = self._bundle()
        display(data, metadata=metadata, raw=True, display_id=self._display_id)
        self._displayed = _texts(data)
        self._watch_cells()

    def follow(self) -> None:
        """Replace the saved text/html and text/plain with the current ones, if they changed."""
        if self._stopped or self.live or self._displayed is None:
            return
        data, metadata = self._bundle()
        if _texts(data) == self._displayed:
            return
        from IPython.display import update_display

        update_display(data, metadata=metadata, raw=True, display_id=self._display_id)
        self._displayed = _texts(data)

    def stop(self) -> None:
        """Stop following the cells (takes no lock: it may run from ``__del__``)."""
        self._stopped = True
        after_cell, self._after_cell = self._after_cell, None
        shell = _ipython()
        if after_cell is not None and shell is not None:
            with contextlib.suppress(ValueError):  # already unregistered
                shell.events.unregister("post_run_cell", after_cell)

    def _watch_cells(self) -> None:
        shell = _ipython()
        if shell is None or self._after_cell is not None:
            return
        # A weak reference: the shell's hook must not keep a forgotten panel alive.
        ref = weakref.ref(self)

        def after_cell(*_args: Any) -> None:
            saved = ref()
            if saved is not None:
                saved.follow()
            else:  # collected without stop(): stop being called
                with contextlib.suppress(ValueError):
                    shell.events.unregister("post_run_cell", after_cell)

        self._after_cell = after_cell
        shell.events.register("post_run_cell", after_cell)
