"""Token persistence in the official SDK's ``token.txt`` format: atomic, private, shared.

``token.txt`` holds three lines (token, expires in epoch ms, status), exactly what
``webull-openapi-python-sdk`` reads and writes, so a token verified in a notebook is used by
the SDK and the other way round. Our own fields (creation time, last use, which app key the
token belongs to) live in a sidecar ``token.meta.json`` that the SDK ignores; the sidecar
names the token it describes by a hash, so a sidecar left over from another write is ignored.

Reading never raises: whatever is on disk (binary junk, a directory, a symlink, a 50 MB line,
an expiry past the year 9999) is reported once in ``problem`` and treated as "no token".
Writers must hold the account lock (``files.locks``); readers need not, because
every write replaces a whole file atomically.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from webull_nb.core.errors import StoreError
from webull_nb.core.status import MAX_TOKEN_LENGTH, SERVICE_STATUSES, valid_token_text
from webull_nb.shared.files.safeio import (
    TEMP_PREFIX,
    UnsafeFileError,
    make_private_directory,
    read_small_file,
    remove_temp_files,
    write_atomic,
)
from webull_nb.shared.storage import StoredToken, fingerprint, may_replace

__all__ = ["META_FILE", "TOKEN_DIR_ENV", "TOKEN_FILE", "TokenStore"]

log = logging.getLogger(__name__)

TOKEN_DIR_ENV = "WEBULL_OPENAPI_TOKEN_DIR"  # the official SDK's variable
TOKEN_FILE = "token.txt"
META_FILE = "token.meta.json"
MAX_FILE_BYTES = 64 * 1024
_EXPIRES_TEXT = re.compile(r"[0-9]{1,17}")
_STATUS_NAMES = frozenset(status.value for status in SERVICE_STATUSES)


def _epoch(value: object) -> datetime | None:
    """A positive, finite epoch-seconds number as a datetime; anything else as None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _datetime_to_ms(value: datetime | None) -> int:
    return int(value.timestamp() * 1000) if value else 0


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


class TokenStore:
    """Reads and writes one token directory; ``problem`` holds the last read failure, if any.

    ``owner`` is the fingerprint of the app key using this store: a token whose sidecar names
    another key is reported and never overwritten (two keys must not share one directory).
    """

    def __init__(self, directory: str | os.PathLike[str], owner: str | None = None) -> None:
        self.directory = Path(directory).expanduser().absolute()
        self.owner = owner
        self.problem = ""
        self._reported: set[str] = set()
        # The stored token's sidecar names another app key (as of the last load).
        self._foreign = False

    def __repr__(self) -> str:
        """Show where tokens live."""
        return f"TokenStore({str(self.directory)!r})"

    @property
    def path(self) -> Path:
        """The ``token.txt`` the official SDK reads."""
        return self.directory / TOKEN_FILE

    @property
    def meta_path(self) -> Path:
        """The sidecar with fields the SDK does not know."""
        return self.directory / META_FILE

    def signature(self) -> tuple[object, object]:
        """A cheap fingerprint of both files' identity and age: it changes on every write."""
        return (_stat_key(self.path), _stat_key(self.meta_path))

    def seconds_since_write(self) -> float | None:
        """Seconds since ``token.txt`` last changed (None when there is none)."""
        try:
            return max(0.0, time.time() - self.path.stat().st_mtime)
        except OSError:
            return None

    def vacant(self) -> bool:
        """A missing ``token.txt`` means forgotten (or never created), never lost."""
        return False

    def _report(self, message: str) -> None:
        # Reported once per distinct problem: a notebook re-reading a broken file every
        # second must not fill the log.
        self.problem = message
        if message not in self._reported:
            self._reported.add(message)
            log.warning("%s", message)

    def _corrupt(self, why: str) -> None:
        self._report(f"the token file {self.path} {why}; ignoring it (a new token will replace it)")

    # --- reading ------------------------------------------------------------------------------

    def _read_token_file(self) -> tuple[bytes, os.stat_result] | None:
        try:
            return read_small_file(self.path, MAX_FILE_BYTES)
        except UnsafeFileError as exc:
            if exc.kind == "link":
                # A link could make the store read, and later replace, some unrelated file.
                self._corrupt("is a symbolic link")
            elif exc.kind == "special":
                self._report(
                    f"cannot read the token file {self.path}: it is not a regular file; "
                    "move it away so a token can be stored"
                )
            else:
                self._corrupt(f"{exc} for a token")
        except OSError as exc:
            self._report(f"cannot read the token file {self.path}: {exc.strerror or exc}")
        return None

    def load(self) -> StoredToken | None:
        """Return the stored token, or None (a corrupt or unreadable file counts as none)."""
        self.problem = ""
        self._foreign = False
        read = self._read_token_file()
        if read is None:
            return None
        raw, info = read
        try:
            # utf-8-sig: an editor on Windows may have added a byte order mark.
            lines = raw.decode("utf-8-sig").splitlines()
        except UnicodeDecodeError:
            self._corrupt("is not text")
            return None
        if len(lines) < 3:
            self._corrupt("is incomplete (it needs token, expiry and status lines)")
            return None
        token, expires_text, status = (line.strip() for line in lines[:3])
        status = status.upper()
        if not valid_token_text(token):
            self._corrupt(
                "holds a token that is not printable ASCII of at most "
                f"{MAX_TOKEN_LENGTH} characters"
            )
            return None
        if _EXPIRES_TEXT.fullmatch(expires_text) is None:
            self._corrupt("has an unreadable expiry line")
            return None
        expires = _epoch(int(expires_text) / 1000)
        if expires is None and int(expires_text) != 0:
            self._corrupt("has an expiry outside any sensible date")
            return None
        if status not in _STATUS_NAMES:
            self._corrupt(f"has an unknown status {status[:20]!r}")
            return None
        meta = self._load_meta(token)
        if meta is None:
            return None
        return StoredToken(
            token=token,
            expires=expires,
            status=status,
            created=_epoch(meta.get("created")),
            last_used=_epoch(meta.get("last_used")),
            written=_epoch(info.st_mtime),
            confirmed=_epoch(meta.get("confirmed")),
        )

    def _load_meta(self, token: str) -> dict[str, object] | None:
        """The sidecar of ``token`` ({} when absent or stale); None when another key owns it."""
        try:
            read = read_small_file(self.meta_path, MAX_FILE_BYTES)
            value = json.loads(read[0].decode("utf-8")) if read else {}
        except (OSError, ValueError, RecursionError):
            return {}  # a broken sidecar only costs its extra fields; the next save replaces it
        if not isinstance(value, dict) or value.get("token") != fingerprint(token):
            return {}  # written for another token (say, before the SDK replaced token.txt)
        owner = value.get("app_key")
        if self.owner and isinstance(owner, str) and owner != self.owner:
            self._foreign = True
            hint = value.get("app_key_hint")
            self._report(
                f"the token in {self.directory} belongs to another app key "
                f"({hint if isinstance(hint, str) else 'unknown'}); it is left alone. "
                "Give each app key its own directory: Session(token_dir=...) or "
                f"{TOKEN_DIR_ENV} per key"
            )
            return None
        return value

    # --- writing (callers hold the account lock) ------------------------------------------------

    def ensure_writable(self) -> None:
        """Raise ``StoreError`` unless a token can be written here: before anything is sent."""
        try:
            make_private_directory(self.directory)
            fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.directory)
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):  # another cleaner may be faster
                os.unlink(probe)
        except OSError as exc:
            why = exc.strerror or str(exc)
            if self.directory.exists() and not self.directory.is_dir():
                why = "it is a file, not a directory"
            raise StoreError(
                f"cannot keep a token in {self.directory} ({why}): no token "
                "was created, so no SMS was sent. Make that directory writable for this "
                "user, or choose another one (Session(token_dir=...), --token-dir DIR, or "
                f"{TOKEN_DIR_ENV})"
            ) from None

    def remove_temp_files(self) -> int:
        """Remove what interrupted writes left behind; return how many (needs the lock)."""
        return remove_temp_files(self.directory)

    def save(self, token: StoredToken, app_key_hint: str = "", *, news_only: bool = False) -> bool:
        """Store ``token`` where ``storage.may_replace`` allows; return whether it was written.

        A token of another app key is never replaced.
        """
        if not valid_token_text(token.token):
            raise ValueError("refusing to store a token that cannot go into a header")
        current = self.load()
        if self._foreign or not may_replace(current, token, news_only=news_only):
            return False
        text = f"{token.token}\n{_datetime_to_ms(token.expires)}\n{token.status}\n"
        write_atomic(self.path, text.encode("ascii"))
        self._write_meta(token, app_key_hint)
        return True

    def _write_meta(self, token: StoredToken, hint: str) -> None:
        def epoch(value: datetime | None) -> float | None:
            return value.timestamp() if value else None

        meta = {
            "token": fingerprint(token.token),
            "created": epoch(token.created),
            "last_used": epoch(token.last_used),
            "confirmed": epoch(token.confirmed),
            "app_key": self.owner,
            "app_key_hint": hint or None,
            "written_by": "webull-nb",
        }
        write_atomic(self.meta_path, json.dumps(meta).encode("utf-8"))

    def touch(self, token: str, last_used: datetime, app_key_hint: str = "") -> None:
        """Record a use of ``token`` (the 15-day idle clock) if it is the stored one."""
        current = self.load()
        if current is not None and current.token == token:
            self._write_meta(replace(current, last_used=last_used), app_key_hint)

    def clear(self) -> None:
        """Remove every file that holds the token: token.txt, its sidecar, interrupted writes."""
        for path in (self.path, self.meta_path):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                self._report(f"cannot remove {path}: {exc.strerror or exc}")
        self.remove_temp_files()
