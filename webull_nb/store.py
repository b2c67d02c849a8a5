"""Token persistence in the official SDK's ``token.txt`` format: atomic, private, shared.

``token.txt`` holds three lines (token, expires in epoch ms, status), exactly what
``webull-openapi-python-sdk`` reads and writes, so a token verified in a notebook is used by
the SDK and the other way round. Our own fields (creation time, last use) live in a sidecar
``token.meta.json`` that the SDK ignores.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .errors import mask_token

__all__ = ["TOKEN_DIR_ENV", "StoredToken", "TokenStore", "default_token_dir"]

log = logging.getLogger(__name__)

TOKEN_DIR_ENV = "WEBULL_OPENAPI_TOKEN_DIR"  # the official SDK's variable
TOKEN_FILE = "token.txt"
META_FILE = "token.meta.json"
_STATUSES = ("PENDING", "NORMAL", "INVALID", "EXPIRED")


@dataclass(frozen=True, repr=False)
class StoredToken:
    """What the store holds: the SDK's three fields plus our sidecar's."""

    token: str
    expires: datetime | None
    status: str
    created: datetime | None = None
    last_used: datetime | None = None

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


def _ms_to_datetime(value: int) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, tz=timezone.utc) if value > 0 else None


def _datetime_to_ms(value: datetime | None) -> int:
    return int(value.timestamp() * 1000) if value else 0


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, (int, float)) or value <= 0:
        return None
    return datetime.fromtimestamp(value, tz=timezone.utc)


class TokenStore:
    """Reads and writes one token directory; ``problem`` holds the last read failure, if any."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser().absolute()
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
        return cls(chosen)

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

    def _report(self, message: str) -> None:
        # Reported once per distinct problem: a notebook re-reading a broken file every
        # second must not fill the log.
        self.problem = message
        if message not in self._reported:
            self._reported.add(message)
            log.warning("%s", message)

    def load(self) -> StoredToken | None:
        """Return the stored token, or None (a corrupt or unreadable file counts as none)."""
        self.problem = ""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._report(f"cannot read the token file {self.path}: {exc.strerror or exc}")
            return None
        try:
            lines = raw.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            self._report(f"the token file {self.path} is not text; ignoring it")
            return None
        token = lines[0].strip() if lines else ""
        expires = lines[1].strip() if len(lines) > 1 else ""
        status = lines[2].strip().upper() if len(lines) > 2 else ""
        if not token or not expires.isdigit() or status not in _STATUSES:
            self._report(
                f"the token file {self.path} is incomplete or corrupt; ignoring it "
                "(a new token will replace it)"
            )
            return None
        meta = self._load_meta()
        return StoredToken(
            token=token,
            expires=_ms_to_datetime(int(expires)),
            status=status,
            created=_parse_time(meta.get("created")),
            last_used=_parse_time(meta.get("last_used")),
        )

    def _load_meta(self) -> dict[str, object]:
        try:
            value = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def _write_atomic(self, path: Path, data: bytes) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(self.directory, 0o700)
        # mkstemp creates the file 0600 and in the same directory, so os.replace is atomic.
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def save(self, token: StoredToken) -> bool:
        """Store ``token`` unless that would replace a different, still-NORMAL token.

        Returns whether it was written. A stored NORMAL token is only ever replaced by a
        NORMAL one, or by news about itself (say, that it went INVALID): a create that
        never got verified must not cost the user a good token.
        """
        current = self.load()
        if (
            current is not None
            and current.status == "NORMAL"
            and current.token != token.token
            and token.status != "NORMAL"
        ):
            return False
        text = f"{token.token}\n{_datetime_to_ms(token.expires)}\n{token.status}\n"
        self._write_atomic(self.path, text.encode("utf-8"))
        self._write_meta(token.created, token.last_used)
        return True

    def _write_meta(self, created: datetime | None, last_used: datetime | None) -> None:
        meta = {
            "created": created.timestamp() if created else None,
            "last_used": last_used.timestamp() if last_used else None,
            "written_by": "webull-nb",
        }
        self._write_atomic(self.meta_path, json.dumps(meta).encode("utf-8"))

    def touch(self, token: str, last_used: datetime) -> None:
        """Record a use of ``token`` (the 15-day idle clock) if it is the stored one."""
        current = self.load()
        if current is not None and current.token == token:
            self._write_meta(current.created, last_used)

    def clear(self) -> None:
        """Remove the stored token and its sidecar."""
        for path in (self.path, self.meta_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
