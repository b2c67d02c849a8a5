"""Scratch token folders for sessions on an in-process simulator, and the cleanup of old ones.

An in-process simulator forgets its tokens when it stops, so its session keeps them out of the
user's real token store, in a folder of the system's temp directory that goes with the session.
A kernel killed by its front end runs no finalizer, so each folder's name carries its process
(``PROCESS_TAG`` and pid), and the next start removes the folders of processes that are gone,
as temp files are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import weakref
from pathlib import Path

from webull_nb.shared.host import PROCESS_TAG, process_gone

__all__ = ["SCRATCH_PREFIX", "remove_with", "scratch_token_dir"]

SCRATCH_PREFIX = "webull-nb-simulator-tokens-"


def _remove_orphans(base: Path, mine: str) -> None:
    """Remove this user's scratch folders whose process no longer exists."""
    with contextlib.suppress(OSError):
        for entry in base.iterdir():
            pid_text = entry.name[len(mine) :].split("-", 1)[0]
            if not entry.name.startswith(mine) or not pid_text.isdigit():
                continue
            info = entry.lstat()
            own = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            if own and process_gone(int(pid_text)):
                shutil.rmtree(entry, ignore_errors=True)


def scratch_token_dir() -> str:
    """Make a new scratch token folder, after removing those of processes that are gone."""
    base = Path(tempfile.gettempdir())
    mine = f"{SCRATCH_PREFIX}{PROCESS_TAG}-"
    _remove_orphans(base, mine)
    return tempfile.mkdtemp(prefix=f"{mine}{os.getpid()}-")


def remove_with(owner: object, folder: str) -> None:
    """Remove ``folder`` when ``owner`` is collected, or when this process exits normally."""
    weakref.finalize(owner, shutil.rmtree, folder, True)
