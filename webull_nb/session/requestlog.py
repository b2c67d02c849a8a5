"""What a session sent: the last 200 requests, as rows and as code that repeats them.

An entry keeps the time, method, path, query, HTTP status, milliseconds, request id and the
error type; the JSON body only of calls outside the token API. Never a header: no token, no
signature, no app key. Values equal to the account's token are masked before they are kept.

Threads: any thread that sends a request (a cell, a ``requests`` hook in a worker) appends;
readers get a copy. One lock guards the deque.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

__all__ = ["MAX_ENTRIES", "LoggedRequest", "RequestLog", "scrub"]

MAX_ENTRIES = 200
_MASK = "***"


def scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """``value`` with every string holding one of ``secrets`` masked, nested ones too."""
    if not secrets:
        return value
    if isinstance(value, str):
        return _MASK if any(secret and secret in value for secret in secrets) else value
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub(v, secrets) for v in value)
    return value


@dataclass(frozen=True)
class LoggedRequest:
    """One request a session sent, without its headers."""

    at: datetime
    method: str
    base_url: str
    path: str
    params: tuple[tuple[str, str], ...]
    status: int | None
    ms: float
    request_id: str | None
    error: str | None = None
    body: Any = None
    version: str | None = None  # an x-version the caller chose (None: the path's own)

    def as_row(self) -> dict[str, Any]:
        """The entry as one table row."""
        return {
            "time": self.at.astimezone().strftime("%H:%M:%S"),
            "method": self.method,
            "path": self.path,
            "params": urlencode(self.params),
            "status": self.status if self.status is not None else "",
            "ms": round(self.ms),
            "request id": self.request_id or "",
            "error": self.error or "",
        }

    def as_code(self) -> str:
        """Python that sends this request again, signed by the current session (no secret)."""
        keys = [k for k, _ in self.params]
        lines = [
            "import requests",
            "import webull_nb",
            "",
            f"response = requests.{self.method.lower()}(",
            f"    {self.base_url + self.path!r},",
        ]
        if self.params:
            shown: Any = dict(self.params) if len(set(keys)) == len(keys) else list(self.params)
            lines.append(f"    params={shown!r},")
        if self.body is not None:
            lines.append(f"    json={self.body!r},")
        if self.version:
            lines.append(f"    headers={{'x-version': {self.version!r}}},")
        lines += ["    auth=webull_nb.current().auth,", ")", "response.json()"]
        return "\n".join(lines)


class RequestLog:
    """The last ``MAX_ENTRIES`` requests of a session, oldest first."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=size)

    def add(self, entry: LoggedRequest) -> None:
        """Keep one entry (the oldest goes once the log is full)."""
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[LoggedRequest]:
        """A copy of the entries, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def rows(self) -> list[dict[str, Any]]:
        """Every entry as a table row, oldest first."""
        return [entry.as_row() for entry in self.entries()]

    def __len__(self) -> int:
        """How many entries are kept."""
        return len(self._entries)

    def __iter__(self) -> Iterator[LoggedRequest]:
        """The entries, oldest first (a copy: safe while requests go on)."""
        return iter(self.entries())

    def __getitem__(self, index: int) -> LoggedRequest:
        """One entry: ``log[-1]`` is the latest."""
        return self.entries()[index]

    def __repr__(self) -> str:
        """A plain-text table of the entries."""
        from webull_nb.core import tables

        rows = self.rows()
        return f"RequestLog ({len(rows)} requests)\n" + tables.text_table(
            rows, limit=len(rows), keep=("path",)
        )

    def _repr_html_(self) -> str:
        """An HTML table of the entries."""
        from webull_nb.core import tables

        rows = self.rows()
        return tables.html_table(rows, limit=len(rows))


def now() -> datetime:
    """The time an entry is stamped with (UTC; shown in local time)."""
    return datetime.now(timezone.utc)
