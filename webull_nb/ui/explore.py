"""``%webull get|post|endpoints|help|log``: explore the API from a cell, on the current session.

A call is checked against the endpoint catalog before anything is sent (a wrong parameter
name, a missing required one, an order in production without ``--confirm``), signed with the
``x-version`` its path needs, sent, and answered with the parsed JSON shown richly (a table
for records, a tree otherwise) so ``_`` and ``x = %webull get ...`` hold the value. Every
failure is a message in a box, never a traceback.
"""

from __future__ import annotations

import difflib
import json
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from webull_nb.core import catalog
from webull_nb.core.errors import ProtocolError, WebullError
from webull_nb.ui.answer import ErrorBox, Listing, Meta, shown

__all__ = ["USAGE", "Call", "Refused", "parse_call", "run"]

USAGE = (
    "usage: %webull get PATH [name=value ...] | %webull post PATH [name=value | name:=JSON ...] "
    "[--confirm] [--version vN] | %%webull post PATH (JSON body in the cell) | "
    "%webull endpoints [words] | %webull help PATH | %webull log"
)


class Refused(Exception):
    """A line that is not sent: its message is shown in a box."""


@dataclass
class Call:
    """One parsed ``get``/``post`` line."""

    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    body: dict[str, Any] | None = None
    confirm: bool = False
    version: str | None = None


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise Refused(f"{text!r} is not JSON (name:=JSON takes a JSON value)") from None


def parse_call(method: str, words: list[str], cell: str | None = None) -> Call:
    """Parse ``PATH [name=value | name:=JSON ...] [--confirm] [--version vN]`` and a cell body."""
    if not words or words[0].startswith("-"):
        raise Refused(f"which path? {USAGE}")
    call = Call(method, words[0] if words[0].startswith("/") else "/" + words[0])
    entry = catalog.find(method, call.path)
    pairs: list[tuple[str, Any]] = []
    rest = iter(words[1:])
    for word in rest:
        if word == "--confirm":
            call.confirm = True
        elif word == "--version":
            call.version = next(rest, None)
            if not call.version:
                raise Refused("--version needs a value such as v2 or v3")
        elif word.startswith("--version="):
            call.version = word.split("=", 1)[1]
        elif ":=" in word and word.index(":=") < word.find("=") + 1:
            name, _, text = word.partition(":=")
            pairs.append((name, _value(text)))
        elif "=" in word:
            name, _, text = word.partition("=")
            pairs.append((name, text))
        else:
            raise Refused(f"{word!r} is not name=value: {USAGE}")
    if cell is not None and cell.strip():
        try:
            body = json.loads(cell)
        except ValueError as exc:
            raise Refused(f"the cell is not a JSON body: {exc}") from None
        if not isinstance(body, dict):
            raise Refused("the cell must hold a JSON object (the request body)")
        call.body = body
    for name, value in pairs:
        if _where(entry, method, name) == "query":
            text = value if isinstance(value, str) else json.dumps(value)
            call.query.append((name, text))
        else:
            call.body = {**(call.body or {}), name: value}
    if entry is not None:
        catalog.check_params(entry, [*(n for n, _ in call.query), *(call.body or {})])
    return call


def _where(entry: catalog.Entry | None, method: str, name: str) -> str:
    if entry is not None:
        for param in entry.params:
            if param.name == name:
                return param.where
    return "query" if method == "GET" else "body"


def _current() -> Any:
    from webull_nb.session.session import current

    return current()


def _guard(call: Call, session: Any) -> None:
    """Refuse an order placed, replaced or cancelled in production without ``--confirm``."""
    if not catalog.is_trading(call.method, call.path) or call.confirm:
        return
    if session.environment != "prod":
        return
    raise Refused(
        f"{call.method} {call.path} places, replaces or cancels an order, and this session "
        f"talks to the production environment ({session.base_url}). Nothing was sent. "
        "Check the line, then add --confirm to it to send it."
    )


def send(call: Call, session: Any, display: Callable[[Any], None] | None = None) -> Any:
    """Send a checked call on ``session``; return the parsed answer, shown richly (a scalar
    answer has no view of its own: its header goes to ``display``)."""
    _guard(call, session)
    headers = {"x-version": call.version} if call.version else None
    started = time.perf_counter()
    response = session.request(
        call.method, call.path, params=call.query or None, json=call.body, headers=headers
    )
    ms = (time.perf_counter() - started) * 1000
    meta = Meta(
        call.method, call.path, response.status_code, ms, response.headers.get("X-Request-Id")
    )
    try:
        value = response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type")
        raise ProtocolError(
            f"{call.method} {call.path} answered HTTP {response.status_code} with {kind}, "
            "not JSON (a proxy or maintenance page?)",
            http_status=response.status_code,
            request_id=response.headers.get("X-Request-Id"),
        ) from None
    result = shown(value, meta)
    if not isinstance(result, (list, dict)) and display is not None:
        display(meta)
    return result


def _box(exc: BaseException) -> ErrorBox:
    if isinstance(exc, Refused):
        return ErrorBox("Not sent", str(exc))
    if isinstance(exc, LookupError):
        return ErrorBox("No session", str(exc))
    return ErrorBox(type(exc).__name__, str(exc))


def _endpoints(words: list[str]) -> Listing:
    found = catalog.search(" ".join(words))
    title = f"{len(found)} endpoints" + (f" matching {' '.join(words)!r}" if words else "")
    title += f" (webull-openapi-python-sdk {catalog.sdk_version()})"
    return Listing(title, [e.as_row() for e in found])


_LINES = (
    ("%webull get PATH name=value ...", "send a signed GET; records show as a table"),
    ("%webull post PATH name=value name:=JSON ...", "send a signed POST with a JSON body"),
    ("%%webull post PATH", "the same, the JSON body being the cell"),
    ("  ... --version vN", "send this x-version instead of the one the path needs"),
    ("  ... --confirm", "send an order (place, replace, cancel) in production"),
    ("%webull endpoints [words]", "the endpoint catalog, filtered by words"),
    ("%webull help PATH", "one endpoint: its versions and parameters"),
    ("%webull log", "the last requests of this session"),
    ("%webull [--env uat] [--simulator] ...", "the token panel"),
)


def _help(words: list[str]) -> Any:
    if not words:
        rows = [{"line": line, "does": does} for line, does in _LINES]
        return Listing("%webull: Tab completes paths and parameter names", rows, keep=("line",))
    path = words[0] if words[0].startswith("/") else "/" + words[0]
    found = catalog.for_path(path)
    if not found:
        close = difflib.get_close_matches(path, catalog.paths(), n=3, cutoff=0.5)
        hint = f": did you mean {', '.join(close)}?" if close else ""
        raise Refused(f"{path} is not in the endpoint catalog{hint}")
    rows = [
        {
            "method": e.method,
            "x-version": e.version,
            "parameter": p.name,
            "in": p.where,
            "required": "yes" if p.required else "",
        }
        for e in found
        for p in e.params
    ]
    lines = [
        f"{e.method} {path} (x-version {e.version}): {e.description}."
        + (f" SDK: {e.sdk}." if e.sdk else "")
        + (" Trading: refused in production without --confirm." if e.trading else "")
        + f" Try: {e.usage()}"
        for e in found
    ]
    return Listing(" ".join(lines), rows)


def _log() -> Listing:
    log = _current().request_log
    return Listing(f"Request log: the last {len(log)} requests of this session", log.rows())


def run(line: str, cell: str | None = None, display: Callable[[Any], None] | None = None) -> Any:
    """Run one explore line; failures are shown with ``display`` and return None."""
    try:
        words = shlex.split(line)
        command, args = words[0], words[1:]
        if command in ("get", "post"):
            if command == "get" and cell is not None and cell.strip():
                raise Refused("a GET has no body: use %webull get on one line")
            call = parse_call(command.upper(), args, cell)
            return send(call, _current(), display)
        if command == "endpoints":
            return _endpoints(args)
        if command == "help":
            return _help(args)
        if command == "log":
            return _log()
        raise Refused(USAGE)
    except (Refused, WebullError, LookupError, ValueError) as exc:
        box = _box(exc)
        if display is None:
            return box
        display(box)
        return None
