"""The file backend: one token directory holds an account's whole shared state.

Beside the official SDK's ``token.txt`` (``store``) live ``token.lock`` and
``token.create.lock`` (``locks``), ``token.ledger.json`` (the ledger's state, here) and a
process-wide watcher that adopts changes as they land (``watcher``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from webull_nb.core import env
from webull_nb.core.errors import StoreError
from webull_nb.shared.files.locks import CREATE_LOCK_FILE, AccountLock
from webull_nb.shared.files.mounts import shared_filesystem
from webull_nb.shared.files.safeio import read_small_file, write_atomic
from webull_nb.shared.files.store import TokenStore
from webull_nb.shared.files.watcher import watcher
from webull_nb.shared.ledger import SharedLedger
from webull_nb.shared.storage import Watched, fingerprint

__all__ = [
    "LEDGER_FILE",
    "FileLedgerState",
    "FileStorage",
    "choose_directory",
    "default_token_dir",
    "shared_directory_warning",
]

log = logging.getLogger(__name__)

LEDGER_FILE = "token.ledger.json"
# A ledger holds a few dozen numbers; anything larger was not written by us.
MAX_LEDGER_BYTES = 64 * 1024
# Housekeeping that may be skipped when the lock is busy must not stall a start.
HOUSEKEEPING_LOCK_TIMEOUT = 0.5


def _user_state_dir() -> Path:
    """Where this platform keeps per-user application state."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "webull-nb"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "webull-nb"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "webull-nb"


def default_token_dir(
    app_key: str, environment: str, region: str, base_url: str | None = None
) -> Path:
    """Return the per-user directory for one app key, environment and region (never the CWD)."""
    # Hashed so the directory name does not reveal the key; an explicit endpoint (such as a
    # simulator) gets its own directory so its tokens never mix with the real service's.
    identity = app_key if not base_url else f"{app_key}@{base_url}"
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    return _user_state_dir() / f"{environment}-{region}-{digest}"


def choose_directory(
    app_key: str,
    environment: str,
    region: str,
    token_dir: str | os.PathLike[str] | None = None,
    base_url: str | None = None,
) -> Path:
    """The account's directory: ``token_dir``, else ``$WEBULL_OPENAPI_TOKEN_DIR``, else per user."""
    chosen = token_dir or env.get(env.TOKEN_DIR)
    if chosen is None:
        return default_token_dir(app_key, environment, region, base_url)
    return Path(chosen).expanduser().absolute()


def shared_directory_warning(directory: str | os.PathLike[str], fstype: str) -> str:
    """What to tell a user whose token directory is on a filesystem machines share."""
    return (
        f"the token directory {directory} is on {fstype}: file locks may not hold across "
        "machines, so two hosts could each send an SMS; use a Redis store: "
        f'store="redis://host:6379/0" or {env.STORE}'
    )


class FileLedgerState:
    """The ledger as ``token.ledger.json``: read safely, replaced whole under ``token.lock``."""

    def __init__(self, directory: Path, lock: AccountLock) -> None:
        self.path = directory / LEDGER_FILE
        self.lock = lock
        self.where = str(self.path)

    def read(self) -> dict[str, Any]:
        """The ledger, or {} when it is absent or unusable (a new one replaces it)."""
        try:
            read = read_small_file(self.path, MAX_LEDGER_BYTES)
            data = json.loads(read[0].decode("utf-8")) if read else {}
        except (OSError, ValueError, RecursionError) as exc:
            log.warning("the rate ledger %s is unusable (%s); starting a new one", self.path, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, data: dict[str, Any]) -> None:
        """Replace the ledger (not fsynced: losing it in a crash costs a 30 s window at most)."""
        write_atomic(self.path, json.dumps(data).encode("utf-8"), durable=False)


class FileStorage:
    """An account's shared state in one token directory (see the module's docstring)."""

    def __init__(self, directory: str | os.PathLike[str], owner: str | None = None) -> None:
        self.records = TokenStore(directory, owner)
        self.directory = self.records.directory
        self.where = str(self.directory)
        self.lock = AccountLock(self.directory)
        self.create_lock = AccountLock(self.directory, CREATE_LOCK_FILE)
        self.ledger = SharedLedger(FileLedgerState(self.directory, self.lock))

    @classmethod
    def for_account(
        cls,
        app_key: str,
        environment: str,
        region: str,
        token_dir: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
    ) -> FileStorage:
        """The storage of one app key's account (see ``choose_directory``)."""
        directory = choose_directory(app_key, environment, region, token_dir, base_url)
        return cls(directory, owner=fingerprint(app_key))

    def __repr__(self) -> str:
        """Name the directory."""
        return f"FileStorage({self.where!r})"

    @functools.cached_property
    def warning(self) -> str | None:
        """Said once at start when the token directory is on NFS, SMB, FUSE or the like."""
        # Looked up on first use only: a Redis store builds a FileStorage just to move a
        # token in, and its directory's filesystem does not matter then.
        fstype = shared_filesystem(self.directory)
        return shared_directory_warning(self.directory, fstype) if fstype else None

    def housekeeping(self) -> None:
        """Remove what killed writers left behind; skipped (till next time) while busy."""
        with contextlib.suppress(StoreError), self.lock.hold(HOUSEKEEPING_LOCK_TIMEOUT):
            self.records.remove_temp_files()

    def sdk_directory(self) -> Path:
        """The token directory itself: the SDK and webull-nb share its ``token.txt``."""
        return self.directory

    def watch(self, target: Watched) -> None:
        """Adopt changes of this directory into ``target`` (the process's watcher thread)."""
        watcher.add(target, self.directory)

    def unwatch(self, target: Watched) -> None:
        """Stop watching for ``target``."""
        watcher.discard(target)

    def wake(self) -> None:
        """Look for changes now."""
        watcher.wake()
