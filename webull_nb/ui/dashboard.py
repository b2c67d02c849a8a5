"""The teacher's live view of a class in the notebook: one anywidget over ``/_class/status``.

``webull_nb.classroom.dashboard(url, teacher_token)`` is ``dashboard()`` below. It draws the
table the class server's own page (``GET /_class/``) draws: one row per student, the class's
scenarios, and buttons that start or end a scenario for everyone or one student.

What travels to the browser
    One synced trait, ``state``: the rows of the last status (sanitised: known fields of the
    expected types only), the class's scenarios, the server's ``now``, and the last error or
    notice. Never the teacher token: it lives in this object (a ``Secret``), so it is neither
    widget state nor saved with the notebook.

What travels back
    Custom messages: ``hello`` and ``alive`` (a view is drawn and visible), ``bye`` (a view is
    gone), ``scenario`` (a button), ``refresh``, and ``token`` (a new teacher token typed in the
    view after a 401; handed to this object, never stored on the widget). A message of another
    shape is ignored with a notice, never a traceback.

Threads
    * The status is polled in one daemon thread, at most once a second, only while a view is
      open: each view says ``hello``, then ``alive`` every ``ALIVE_EVERY`` seconds while its
      page is visible, and ``bye`` when it is removed; a view not heard of for ``VIEW_LEASE``
      seconds counts as closed (a tab closed without a ``bye``). The thread ends when no view
      is open, after a 401 (until a new token comes), and on ``close()``.
    * Errors are shown in the widget, never raised in a thread; failures back off up to
      ``MAX_BACKOFF`` seconds. Every request has a timeout.
    * Scenario buttons run in short-lived worker threads (inline when ``background`` is off).
    * ``state`` is written under one lock, held only to build and assign it; ``close()`` takes
      no lock, as ipywidgets may run it from ``__del__`` on any thread.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from html import escape
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import requests
import traitlets

from webull_nb.core.errors import (
    AuthenticationError,
    ProtocolError,
    RequestError,
    ServerError,
    TransportError,
    WebullError,
)
from webull_nb.core.secrets import Secret
from webull_nb.core.tables import html_table, text_table

__all__ = [
    "ALIVE_EVERY",
    "POLL_INTERVAL",
    "SCENARIOS",
    "STATUSES",
    "VIEW_LEASE",
    "ClassStatusClient",
    "Dashboard",
    "ago",
    "check_scenario",
    "clean_row",
    "clean_status",
    "dashboard",
    "describe_scenario",
    "status_html",
    "status_text",
]

_log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"

#: Seconds between two status requests, at least (the issue's "at most one a second").
POLL_INTERVAL = 1.0
#: The longest wait after repeated failures.
MAX_BACKOFF = 30.0
#: (connect, read) timeouts of every request, in seconds.
REQUEST_TIMEOUT = (3.05, 5.0)
#: A visible view says ``alive`` this often (dashboard.js reads it from the state).
ALIVE_EVERY = 15.0
#: A view not heard of for this long counts as closed.
VIEW_LEASE = 45.0
#: How long ``close()`` waits for the polling thread to end.
JOIN_TIMEOUT = 1.0

STATUSES = ("NONE", "PENDING", "NORMAL", "EXPIRED", "INVALID")
#: Every scenario the class server knows, with its parameters and their types.
SCENARIOS: dict[str, dict[str, type]] = {
    "expire_tokens": {},
    "server_errors": {"count": int, "status": int},
    "slow": {"seconds": float},
    "clock_offset": {"minutes": float},
    "no_device": {},
}
_COUNTERS = ("checks", "rate_limited", "signature_errors")
_COLUMNS = (
    "student",
    "status",
    "checks",
    "rate limited",
    "signature errors",
    "last error",
    "last seen",
    "exercises passed",
    "scenarios",
)
_UNAUTHORIZED = (
    "The class server refused the teacher token (HTTP 401). It is in the class roster "
    "(teacher_token): enter it again."
)


# --- the class server's two calls ------------------------------------------------------------


def _base_url(url: str) -> str:
    """Return the server's root URL, whether given as such or as the dashboard page's URL."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise RequestError(f"The class server's URL must start with http:// or https://: {url!r}")
    base = url.rstrip("/")
    if base.endswith("/_class"):
        base = base[: -len("/_class")]
    return base


def _boxed_token(token: str | Secret[str]) -> Secret[str]:
    value = token.reveal() if isinstance(token, Secret) else token
    if not isinstance(value, str) or not value.strip():
        raise AuthenticationError("The teacher token is empty: it is in the class roster.")
    if not all(33 <= ord(c) <= 126 for c in value.strip()):
        # requests would send other characters as Latin-1 or fail deep in http.client.
        raise AuthenticationError("A teacher token is letters, digits and signs, no spaces.")
    return Secret(value.strip())


class ClassStatusClient:
    """The teacher's side of the class server: ``GET /_class/status``, ``POST /_class/scenario``."""

    def __init__(self, url: str, teacher_token: str | Secret[str]) -> None:
        self.url = _base_url(url)
        self._token = _boxed_token(teacher_token)

    def set_token(self, teacher_token: str | Secret[str]) -> None:
        """Use another teacher token from now on."""
        self._token = _boxed_token(teacher_token)

    def status(self) -> dict[str, Any]:
        """Return the class status (the body of ``GET /_class/status``), checked for its shape."""
        body = self._call("GET", "/_class/status")
        if not isinstance(body.get("students"), list):
            raise ProtocolError(
                f"{self.url} answered /_class/status without a list of students: is this a "
                "class server (python -m webull_nb.simulator --students N)?"
            )
        return body

    def scenario(
        self, name: str, student: str | None = None, *, off: bool = False, **params: Any
    ) -> dict[str, Any]:
        """Start (or with ``off``, end) scenario ``name`` for everyone or one student."""
        check_scenario(name, student, off, params)
        body: dict[str, Any] = {"scenario": name, **params}
        if student is not None:
            body["student"] = student
        if off:
            body["off"] = True
        return self._call("POST", "/_class/scenario", body)

    def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token.reveal()}"}
        try:
            response = requests.request(
                method,
                self.url + path,
                headers=headers,
                json=body,
                timeout=REQUEST_TIMEOUT,
                allow_redirects=False,  # the Bearer token follows no redirect
            )
        except requests.Timeout:
            raise TransportError(
                f"The class server at {self.url} did not answer within {REQUEST_TIMEOUT[1]:.0f} s."
            ) from None
        except requests.RequestException as exc:
            raise TransportError(
                f"Cannot reach the class server at {self.url} ({type(exc).__name__}): is it "
                "running, and is this its URL?"
            ) from None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        said = answer.get("message") if isinstance(answer, dict) else None
        code = answer.get("error_code") if isinstance(answer, dict) else None
        detail = f": {said}" if isinstance(said, str) and said else ""
        kwargs = {"http_status": response.status_code, "error_code": code, "server_message": said}
        if response.status_code == 401:
            raise AuthenticationError(_UNAUTHORIZED, **kwargs)
        if response.status_code >= 500:
            raise ServerError(
                f"The class server failed (HTTP {response.status_code}){detail}.", **kwargs
            )
        if response.status_code >= 400:
            raise RequestError(
                f"The class server refused {method} {path} (HTTP {response.status_code}){detail}.",
                **kwargs,
            )
        if response.status_code != 200 or not isinstance(answer, dict):
            raise ProtocolError(
                f"{self.url}{path} answered HTTP {response.status_code} without a JSON object: "
                "is this a class server?",
                http_status=response.status_code,
            )
        return answer

    def __repr__(self) -> str:
        """Name the server, never the token."""
        return f"<ClassStatusClient {self.url}>"


def check_scenario(name: Any, student: Any, off: Any, params: Mapping[str, Any]) -> None:
    """Raise ``RequestError`` unless this is a scenario call the class server knows."""
    if not isinstance(name, str) or name not in SCENARIOS:
        raise RequestError(f"Unknown scenario {str(name)[:40]!r}: one of {', '.join(SCENARIOS)}.")
    if student is not None and not isinstance(student, str):
        raise RequestError("A scenario's student is a name such as 's01', or None for everyone.")
    if not isinstance(off, bool):
        raise RequestError("A scenario's 'off' is True or False.")
    for key, value in params.items():
        kind = SCENARIOS[name].get(key)
        if kind is None:
            raise RequestError(f"The scenario {name} takes no parameter {str(key)[:40]!r}.")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RequestError(f"The scenario's {key} must be a number.")
        if not math.isfinite(value) or (kind is int and value != int(value)):
            raise RequestError(f"The scenario's {key} must be a finite {kind.__name__}.")


# --- what is drawn (no widgets: the fallback of frontends without them) ----------------------


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0
    return int(value)


def _epoch(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _scenarios(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping):
        return {}
    return {
        str(name)[:60]: dict(params) if isinstance(params, Mapping) else {}
        for name, params in value.items()
    }


def clean_row(row: Any) -> dict[str, Any] | None:
    """Return one student's row with the known fields in their types, or None if it is none."""
    if not isinstance(row, Mapping) or not isinstance(row.get("student"), str):
        return None
    status = row.get("status")
    exercises = row.get("exercises")
    last_error = row.get("last_error")
    return {
        "student": row["student"][:60],
        "status": status if status in STATUSES else "NONE",
        **{name: _int(row.get(name)) for name in _COUNTERS},
        "last_error": last_error[:500] if isinstance(last_error, str) else "",
        "last_seen": _epoch(row.get("last_seen")),
        "exercises": [str(e)[:80] for e in exercises] if isinstance(exercises, list) else [],
        "scenarios": _scenarios(row.get("scenarios")),
    }


def clean_status(body: Mapping[str, Any]) -> dict[str, Any]:
    """Return the parts of a status body the views draw, each of its expected type."""
    rows = [clean_row(row) for row in body.get("students") or []]
    return {
        "now": _epoch(body.get("now")),
        "scenarios": _scenarios(body.get("scenarios")),
        "students": [row for row in rows if row is not None],
    }


def describe_scenario(name: str, params: Mapping[str, Any]) -> str:
    """Return a scenario in words, as the page and the widget name it."""
    if name == "slow":
        return f"slow answers ({params.get('seconds', '?')} s)"
    if name == "clock_offset":
        minutes = params.get("minutes")
        sign = "+" if isinstance(minutes, (int, float)) and minutes > 0 else ""
        return f"clock off by {sign}{minutes if minutes is not None else '?'} min"
    if name == "server_errors":
        count, status = params.get("count", "?"), params.get("status", 503)
        return f"server errors (next {count} answer {status})"
    if name == "no_device":
        return "no device"
    if name == "expire_tokens":
        return "expire tokens"
    extra = ", ".join(f"{key}={value}" for key, value in params.items())
    return f"{name} ({extra})" if extra else name


def ago(seconds: float | None) -> str:
    """Return how long ago something was, as the page says it ("12 s ago", "never")."""
    if seconds is None:
        return "never"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min ago"
    if s < 172800:
        return f"{s // 3600} h ago"
    return f"{s // 86400} days ago"


def _shown_rows(status: Mapping[str, Any]) -> list[dict[str, str]]:
    now = status.get("now")
    shown = []
    for row in status.get("students", []):
        seen = row["last_seen"]
        passed = row["exercises"]
        shown.append(
            {
                "student": row["student"],
                "status": row["status"],
                "checks": str(row["checks"]),
                "rate limited": str(row["rate_limited"]),
                "signature errors": str(row["signature_errors"]),
                "last error": row["last_error"] or "-",
                "last seen": ago(None if seen is None or now is None else now - seen),
                "exercises passed": f"{len(passed)}: {', '.join(passed)}" if passed else "-",
                "scenarios": "; ".join(describe_scenario(n, p) for n, p in row["scenarios"].items())
                or "-",
            }
        )
    return shown


def _class_line(status: Mapping[str, Any]) -> str:
    active = status.get("scenarios") or {}
    words = "; ".join(describe_scenario(n, p) for n, p in active.items()) or "none"
    return f"Scenarios for everyone: {words}"


def status_text(status: Mapping[str, Any], *, url: str = "", error: str = "") -> str:
    """Return the class status (as ``clean_status`` gives it) as a plain-text table."""
    lines = [f"Class dashboard {url}".rstrip()]
    if error:
        lines.append(f"! {error}")
    if status.get("students"):
        lines.append(_class_line(status))
        lines.append(text_table(_shown_rows(status), list(_COLUMNS), width=160))
    elif not error:
        lines.append("No status yet.")
    return "\n".join(lines)


def status_html(status: Mapping[str, Any], *, url: str = "", error: str = "") -> str:
    """Return the class status as static, escaped HTML (what a notebook without widgets shows)."""
    parts = [f"<b>Class dashboard</b> <small>{escape(url)}</small>"]
    if error:
        parts.append(f'<div style="color:#cf222e">⚠ {escape(error)}</div>')
    if status.get("students"):
        parts.append(f"<div>{escape(_class_line(status))}</div>")
        parts.append(html_table(_shown_rows(status), list(_COLUMNS)))
    elif not error:
        parts.append("<div>No status yet.</div>")
    return '<div class="wnb-dashboard-static">' + "".join(parts) + "</div>"


# --- the widget -------------------------------------------------------------------------------


class Dashboard(anywidget.AnyWidget):
    """A live table of a class: one row per student, polled while a view is open."""

    _esm = STATIC / "dashboard.js"
    _css = STATIC / "dashboard.css"
    state = traitlets.Dict().tag(sync=True)

    #: Run scenario calls in a worker thread (tests switch this off to run them inline).
    background = True
    #: Seconds between two status requests, at least (tests of the thread's life shorten it).
    poll_interval = POLL_INTERVAL
    #: The kernel's clock for the polling rhythm.
    _monotonic: Callable[[], float] = staticmethod(time.monotonic)
    #: The clock of the views' leases (tests replace it to let a lease run out).
    _lease_clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self, url: str, teacher_token: str | Secret[str]) -> None:
        client = ClassStatusClient(url, teacher_token)
        del teacher_token  # held by the client only, boxed: no traceback or repr shows it
        super().__init__()
        self.client = client
        self._state_lock = threading.Lock()
        self._thread_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._soon = False
        self._last_read: float | None = None  # when the last status request started
        self._refused = False  # a 401: no polling until a new token
        self._views: dict[str, float] = {}
        self._status: dict[str, Any] = {"now": None, "scenarios": {}, "students": []}
        self._error = ""
        self._notice = ""
        self.on_msg(self._on_message)
        self._publish()

    # --- public -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The class server's URL."""
        return self.client.url

    @property
    def polling(self) -> bool:
        """Whether the polling thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def refresh(self) -> bool:
        """Fetch the status once now and show it (or the error); True if it was fetched."""
        self._last_read = self._monotonic()
        try:
            body = self.client.status()
        except WebullError as exc:
            self._refused = isinstance(exc, AuthenticationError)
            self._error = str(exc)
            self._publish()
            return False
        except Exception as exc:  # never a traceback in a thread or the view
            _log.warning("webull-nb dashboard: could not read the status", exc_info=True)
            self._error = f"Could not read the class status: {exc}"
            self._publish()
            return False
        self._status = clean_status(body)
        self._error = ""
        self._refused = False
        self._publish()
        return True

    def scenario(
        self, name: str, student: str | None = None, *, off: bool = False, **params: Any
    ) -> dict[str, Any]:
        """Start (or end, with ``off``) a scenario for everyone or one student; return the reply."""
        answer = self.client.scenario(name, student, off=off, **params)
        self._poll_soon()
        return answer

    def set_token(self, teacher_token: str | Secret[str]) -> None:
        """Use another teacher token (say, after a 401) and poll again if a view is open."""
        self.client.set_token(teacher_token)
        del teacher_token
        self._refused = False
        self._error = ""
        self._publish()
        self._ensure_polling()

    def close(self) -> None:
        """Stop polling and close every view."""
        self._closed = True  # no lock: ipywidgets may call this from __del__ on any thread
        wake = self.__dict__.get("_wake")
        if wake is not None:
            wake.set()
        thread = self.__dict__.get("_thread")
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=JOIN_TIMEOUT)  # a request in flight ends within its timeout
        layout = self.__dict__.get("_trait_values", {}).get("layout")
        super().close()
        if layout is not None:
            layout.close()  # its own comm: the second of this widget's two models

    # --- publishing ---------------------------------------------------------------------------

    def _publish(self) -> None:
        with self._state_lock:
            self.state = {
                "url": self.client.url,
                **self._status,
                "error": self._error,
                "notice": self._notice,
                "refused": self._refused,
                "polling": self.polling,
                "alive_every_s": ALIVE_EVERY,
                "scenario_names": list(SCENARIOS),
            }

    def _note(self, notice: str) -> None:
        self._notice = notice
        self._publish()

    # --- views and the polling thread ---------------------------------------------------------

    def _view_open(self) -> bool:
        now = self._lease_clock()
        for view, seen in list(self._views.items()):
            if now - seen > VIEW_LEASE:
                self._views.pop(view, None)
        return bool(self._views)

    def _ensure_polling(self, *, soon: bool = False) -> None:
        with self._thread_lock:
            if self._closed or self._refused or not self._view_open():
                return
            if self._thread is not None and self._thread.is_alive():
                if soon:
                    self._poll_soon()
                return
            self._thread = threading.Thread(
                target=self._loop, name="webull-nb-dashboard-poll", daemon=True
            )
            self._thread.start()

    def _poll_soon(self) -> None:
        self._soon = True
        self._wake.set()

    def _loop(self) -> None:
        failures = 0
        while True:
            with self._thread_lock:
                if self._closed or self._refused or not self._view_open():
                    self._thread = None
                    break
            since = self._last_read
            if since is not None and self._monotonic() < since + self.poll_interval:
                self._sleep(since, self.poll_interval)  # a read just happened (say, dashboard()'s)
                continue
            self._soon = False
            if self.refresh():
                failures = 0
                delay = self.poll_interval
            elif self._refused:
                continue  # a 401: the top of the loop ends it, until a new token
            else:
                failures += 1
                delay = min(MAX_BACKOFF, self.poll_interval * 2**failures)
            self._sleep(self._last_read or self._monotonic(), delay)
        if not self._closed:
            with contextlib.suppress(Exception):  # the widget may be closing
                self._publish()  # "polling": false

    def _sleep(self, started: float, delay: float) -> None:
        """Wait ``delay`` from ``started``; a wake-up asks for an early poll, still at most one
        a second, and ``close()`` ends the wait at once."""
        deadline = started + delay
        while not self._closed:
            left = deadline - self._monotonic()
            if left <= 0:
                return
            if self._wake.wait(left):
                self._wake.clear()
                with self._thread_lock:
                    if not self._view_open():
                        return
                if self._soon:
                    deadline = min(deadline, started + self.poll_interval)

    # --- messages from the views --------------------------------------------------------------

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if self._closed:
            return
        try:
            self._dispatch(content)
        except Exception as exc:  # a message must never end in a traceback in the notebook
            _log.warning("webull-nb dashboard: could not handle a message", exc_info=True)
            self._note(f"The dashboard could not handle a message: {exc}")

    _VIEW_ACTIONS: ClassVar[frozenset[str]] = frozenset({"hello", "alive", "bye"})

    def _dispatch(self, content: Any) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action in self._VIEW_ACTIONS:
            view = content.get("view")
            if not isinstance(view, str) or not view:
                view = "anonymous"
            with self._thread_lock:
                if action == "bye":
                    self._views.pop(view[:64], None)
                    self._wake.set()  # the thread ends now if that was the last view
                    return
                self._views[view[:64]] = self._lease_clock()
            if action == "hello":
                self._publish()  # the view may have missed the last state
            self._ensure_polling()
        elif action == "refresh":
            self._ensure_polling(soon=True)
        elif action == "scenario":
            self._scenario_message(content)
        elif action == "token":
            token = content.get("token")
            if not isinstance(token, str) or not token.strip():
                self._note("Enter the teacher token (it is in the class roster).")
                return
            self.set_token(token)
            del token
            self._note("Using the new teacher token.")
            self._run(self.refresh)
        else:
            # Names only what kind of message it was: its content could be anything.
            kind = repr(action[:40]) if isinstance(action, str) else type(action).__name__
            self._note(f"The dashboard ignored a message it does not understand ({kind}).")

    def _scenario_message(self, content: dict[str, Any]) -> None:
        name, student, off = content.get("scenario"), content.get("student"), content.get("off")
        params = content.get("params") or {}
        off = bool(off) if off in (None, True, False) else off
        try:
            if not isinstance(params, dict):
                raise RequestError("A scenario's parameters are an object.")
            check_scenario(name, student, off, params)
        except RequestError as exc:
            self._note(str(exc))
            return
        who = student or "everyone"
        self._note(f"{'Turning off' if off else 'Starting'} {name} for {who}…")

        def call() -> None:
            try:
                self.scenario(name, student, off=off, **params)
            except AuthenticationError as exc:
                self._refused = True
                self._error = str(exc)
                self._note("")
                return
            except WebullError as exc:
                self._note(f"{name} for {who} failed: {exc}")
                return
            self._note(f"{name} {'turned off' if off else 'started'} for {who}.")

        self._run(call)

    def _run(self, action: Callable[[], Any]) -> None:
        def work() -> None:
            try:
                action()
            except Exception as exc:  # never a traceback in a thread
                _log.warning("webull-nb dashboard: an action failed", exc_info=True)
                self._note(f"The dashboard's action failed: {exc}")

        if self.background:
            threading.Thread(target=work, name="webull-nb-dashboard-action", daemon=True).start()
        else:
            work()

    # --- other frontends ----------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
        plain = status_text(self._status, url=self.client.url, error=self._error)
        rich = status_html(self._status, url=self.client.url, error=self._error)
        return {**data, "text/plain": plain, "text/html": rich}, metadata

    def __repr__(self) -> str:
        """Name the server and count the students; never the token."""
        students = self._status.get("students", [])
        counts = [
            f"{sum(r['status'] == s for r in students)} {s}"
            for s in STATUSES
            if any(r["status"] == s for r in students)
        ]
        summary = f"{len(students)} students" + (f": {', '.join(counts)}" if counts else "")
        return f"<Dashboard {self.client.url} · {summary}>"


def dashboard(url: str, teacher_token: str) -> Dashboard:
    """Return a live dashboard of the class server at ``url`` (its first status already read).

    ``teacher_token`` is the roster's; it stays in the kernel (never widget state, never saved
    in the notebook). The table updates while the widget is shown; an error of the server (a
    wrong token, a server that is down) is shown in it, never raised. Only a URL that is not
    http(s) (``RequestError``) or an empty token (``AuthenticationError``) raise.
    """
    board = Dashboard(url, teacher_token)
    del teacher_token
    board.refresh()
    return board
