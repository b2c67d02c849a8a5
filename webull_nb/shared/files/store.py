"""Token persistence in the official SDK's ``token.txt`` format: atomic, private, shared.

``token.txt`` holds three lines (token, expires in epoch ms, status), exactly what
``webull-openapi-python-sdk`` reads and writes, so a token verified in a notebook is used by
the SDK and the other way round. Our own fields (creation time, last use, which app key the
token belongs to) live in a sidecar ``token.meta.json`` that the SDK ignores; the sidecar
names the token it describes by a hash, so a sidecar left over from another write is ignored.

Reading never raises: whatever is on disk (binary junk, a directory, a symlink, a 50 MB line,
an expiry past the year 9999) is reported once in ``problem`` and treated as "no token".
Writers must hold the account lock (``webull_nb.coordination``); readers need not, because
every write replaces a whole file atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from webull_nb.core.errors import StoreError
from webull_nb.core.secrets import mask_token
from webull_nb.core.status import MAX_TOKEN_LENGTH, SERVICE_STATUSES, progress, valid_token_text

__all__ = [
    "TOKEN_DIR_ENV",
    "StoredToken",
    "TokenStore",
    "default_token_dir",
    "fingerprint",
    "read_small_file",
    "valid_token_text",
]

log = logging.getLogger(__name__)

TOKEN_DIR_ENV = "WEBULL_OPENAPI_TOKEN_DIR"  # the official SDK's variable
TOKEN_FILE = "token.txt"
META_FILE = "token.meta.json"
TEMP_PREFIX = ".tmp-"
MAX_FILE_BYTES = 64 * 1024
_EXPIRES_TEXT = re.compile(r"[0-9]{1,17}")
_STATUS_NAMES = frozenset(status.value for status in SERVICE_STATUSES)


def fingerprint(text: str) -> str:
    """A short, one-way name for a token or app key, safe to write beside it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, repr=False)
class StoredToken:
    """What the store holds: the SDK's three fields plus our sidecar's."""

    token: str
    expires: datetime | None
    status: str
    created: datetime | None = None
    last_used: datetime | None = None
    #: When token.txt was last written (its mtime): the best guess of ``created`` for a
    #: token some other program (the official SDK) wrote without a sidecar.
    written: datetime | None = None
    #: When the service last answered NORMAL for this token (service time): a process
    #: starting shortly after may rely on it without a check of its own.
    confirmed: datetime | None = None

    def __repr__(self) -> str:
        """Show the token masked."""
        return f"StoredToken(token={mask_token(self.token)!r}, status={self.status})"


def _user_state_dir() -> Path:
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


class UnsafeFileError(OSError):
    """A store file that is not a small regular file: ``kind`` is link, special or size."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


_SAFE_OPEN = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)  # a link could point at /dev/zero or another user's file
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO would otherwise block the open forever
    | getattr(os, "O_CLOEXEC", 0)
)


def read_small_file(path: Path, limit: int) -> tuple[bytes, os.stat_result] | None:
    """Read a regular file of at most ``limit`` bytes; None when it does not exist.

    Never follows a symbolic link, never blocks on a FIFO and never reads more than
    ``limit + 1`` bytes, whatever was put in its place: anything else raises
    ``UnsafeFileError`` saying what it is (other failures raise ``OSError``).
    """
    try:
        fd = os.open(path, _SAFE_OPEN)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafeFileError("link", "it is a symbolic link") from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFileError("special", "it is not a regular file")
        if info.st_size > limit:
            raise UnsafeFileError("size", f"it is {info.st_size} bytes, far too large")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise UnsafeFileError("size", "it grew past its size limit while being read")
        return data, info
    finally:
        os.close(fd)


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

    @classmethod
    def for_session(
        cls,
        app_key: str,
        environment: str,
        region: str,
        token_dir: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
    ) -> TokenStore:
        """Pick the directory: ``token_dir``, else ``$WEBULL_OPENAPI_TOKEN_DIR``, else per user."""
        chosen = token_dir or os.environ.get(TOKEN_DIR_ENV, "").strip() or None
        if chosen is None:
            chosen = default_token_dir(app_key, environment, region, base_url)
        return cls(chosen, owner=fingerprint(app_key))

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

    def _make_directory(self) -> None:
        # 0700 for a directory made here; one the user made keeps the mode they chose (the
        # files in it are 0600 either way).
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def ensure_writable(self) -> None:
        """Raise ``StoreError`` unless a token can be written here: before anything is sent."""
        try:
            self._make_directory()
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

    def _write_atomic(self, path: Path, data: bytes, durable: bool = True) -> None:
        self._make_directory()
        # mkstemp creates the file 0600 and in the same directory, so os.replace is atomic.
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def write_private(self, name: str, data: bytes) -> None:
        """Replace one small file of this directory atomically, 0600 (the rate ledger's use)."""
        self._write_atomic(self.directory / name, data, durable=False)

    def remove_temp_files(self) -> int:
        """Remove what interrupted writes left behind; return how many (needs the lock)."""
        removed = 0
        with contextlib.suppress(OSError):
            for entry in list(self.directory.glob(TEMP_PREFIX + "*")):
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed += 1
        return removed

    def save(self, token: StoredToken, app_key_hint: str = "", *, news_only: bool = False) -> bool:
        """Store ``token`` unless that would replace a different, still-NORMAL token.

        Returns whether it was written. A stored NORMAL token is only ever replaced by a
        NORMAL one, or by news about itself (say, that it went INVALID): a create that
        never got verified must not cost the user a good token. A token of another app key
        is never replaced. ``news_only`` (an answer about a token, not a new one): write
        only over that same token, so a late answer never brings back a token that another
        program replaced or forgot meanwhile.
        """
        if not valid_token_text(token.token):
            raise ValueError("refusing to store a token that cannot go into a header")
        current = self.load()
        if news_only and (current is None or current.token != token.token):
            return False
        if current is None and self.problem and "another app key" in self.problem:
            return False
        if current is not None and current.token == token.token:
            if progress(token.status) < progress(current.status):
                return False  # news older than what is stored (another process was faster)
        elif current is not None and current.status == "NORMAL" and token.status != "NORMAL":
            return False
        text = f"{token.token}\n{_datetime_to_ms(token.expires)}\n{token.status}\n"
        self._write_atomic(self.path, text.encode("ascii"))
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
        self._write_atomic(self.meta_path, json.dumps(meta).encode("utf-8"))

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
