"""A class on one simulator: one account per student, the teacher's live view, scenarios.

``Classroom`` serves N simulated accounts from one process. Each student has a key pair of
their own and, behind it, a ``Service`` of their own (tokens, SMS inbox, rate budget, order
book, nonces), so nothing one student does reaches another's account. Requests go to the
student whose ``x-app-key`` they carry and are checked against that student's secret before
anything else (a refusal only counts on the row as a signature error); the control plane
(``/_sim/...``) must be signed too, so it needs no loopback-only rule and a class may bind
beyond localhost (plain HTTP: a trusted network, or a TLS proxy in front).

The teacher's side is under ``/_class/``: the dashboard page (public, it holds nothing),
``status`` and ``scenario`` (both need ``Authorization: Bearer <teacher_token>``), and
``exercise``, where a student's checker reports a result, signed like an API call.
"""

from __future__ import annotations

import csv
import hmac
import io
import json
import logging
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from webull_nb.core.secrets import Secret
from webull_nb.core.status import IDLE_LIFETIME, VERIFICATION_WINDOW
from webull_nb.simulator import diagnose
from webull_nb.simulator.auth import RateLimiter, SignatureCheck
from webull_nb.simulator.replies import Reply, SimulatorError, error_body, parse_json
from webull_nb.simulator.server import CONNECTION_TIMEOUT, RawBody, Served, SimulatorServer
from webull_nb.simulator.service import CONTROL_PREFIX, TOKEN_PATHS, Service
from webull_nb.simulator.tokens import TokenBook

__all__ = [
    "CLASS_PREFIX",
    "EXERCISE_PATH",
    "PAGE_PATH",
    "SCENARIOS",
    "SCENARIO_PATH",
    "STATUS_PATH",
    "Classroom",
]

CLASS_PREFIX = "/_class/"
PAGE_PATH = CLASS_PREFIX
STATUS_PATH = CLASS_PREFIX + "status"
SCENARIO_PATH = CLASS_PREFIX + "scenario"
EXERCISE_PATH = CLASS_PREFIX + "exercise"
#: The scenarios a teacher can trigger; expire_tokens happens once, the others last.
SCENARIOS = ("expire_tokens", "server_errors", "slow", "clock_offset", "no_device")
MAX_STUDENTS = 1000

_log = logging.getLogger("webull_nb.simulator")
_PAGE_FILE = Path(__file__).parent / "static" / "classroom.html"
_PLACEHOLDER = (
    b"<!doctype html><meta charset=utf-8><title>webull-nb class</title>"
    b"<p>The class dashboard page is not installed; GET /_class/status with the teacher token.\n"
)
# The page holds no secret, but it must not be framed (clickjacking of the teacher's buttons).
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_MAX_REASON = 300
_MAX_EXERCISE = 100
_MAX_EXERCISES = 30  # names kept per student
_MAX_DETAIL = 2000


class _Clock:
    """One student's view of the server clock: the class's, off by ``offset`` seconds."""

    def __init__(self, base: Callable[[], float]) -> None:
        self.base = base
        self.offset = 0.0  # a float is replaced atomically: readers need no lock

    def __call__(self) -> float:
        return self.base() + self.offset


class _Student:
    """One student's account (a whole Service on their clock) and what the teacher sees of it."""

    def __init__(
        self,
        name: str,
        app_key: str,
        app_secret: Secret[str],
        clock: Callable[[], float],
        *,
        environment: str,
        verification_window: float,
        idle_timeout: float,
        auto_verify_after: float | None,
    ) -> None:
        self.name = name
        self.app_key = app_key
        self.app_secret = app_secret
        self.clock = _Clock(clock)
        self.tokens = TokenBook(
            self.clock,
            environment=environment,
            verification_window=verification_window,
            idle_timeout=idle_timeout,
            auto_verify_after=auto_verify_after,
        )
        self.check = SignatureCheck(app_key, app_secret, self.clock)
        # The budget runs on the class's clock, not the student's: a clock_offset turned off
        # must not leave checks stamped minutes ahead, filling the window until then.
        self.service = Service(self.tokens, self.check, RateLimiter(clock))
        self.lock = threading.Lock()
        self.checks = 0
        self.rate_limited = 0
        self.signature_errors = 0
        self.last_error = ""
        self.last_seen: float | None = None
        self.exercises: list[str] = []
        # The scenarios acting on this student (set for them or for everyone), with their
        # current parameters (server_errors counts down).
        self.scenarios: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"_Student({self.name!r}, app_key={self.app_key!r})"

    def set_scenario(self, name: str, params: Mapping[str, Any] | None) -> None:
        """Start (``params``) or end (None) a lasting scenario for this student."""
        with self.lock:
            if params is None:
                self.scenarios.pop(name, None)
            else:
                self.scenarios[name] = dict(params)
            offset = self.scenarios.get("clock_offset", {}).get("minutes", 0)
            self.clock.offset = 60.0 * offset
            self.service.no_device = "no_device" in self.scenarios

    def take_server_error(self) -> int | None:
        """Use one of the failures the server_errors scenario owes; return its HTTP status."""
        with self.lock:
            failing = self.scenarios.get("server_errors")
            if failing is None:
                return None
            failing["count"] -= 1
            if failing["count"] <= 0:
                del self.scenarios["server_errors"]
            return int(failing["status"])

    def delay(self) -> float:
        """Seconds the slow scenario holds each API answer (0 when it is off)."""
        with self.lock:
            return float(self.scenarios.get("slow", {}).get("seconds", 0.0))

    def row(self) -> dict[str, Any]:
        """This student's line in the teacher's view."""
        status = self.tokens.newest_status()
        with self.lock:
            return {
                "student": self.name,
                "status": status,
                "checks": self.checks,
                "rate_limited": self.rate_limited,
                "signature_errors": self.signature_errors,
                "last_error": self.last_error,
                "last_seen": self.last_seen,
                "exercises": list(self.exercises),
                "scenarios": {name: dict(params) for name, params in self.scenarios.items()},
            }


def _student_names(students: int | Sequence[str]) -> list[str]:
    if isinstance(students, int) and not isinstance(students, bool):
        if not 1 <= students <= MAX_STUDENTS:
            raise ValueError(f"a class has 1 to {MAX_STUDENTS} students, not {students}")
        width = max(2, len(str(students)))
        return [f"s{i:0{width}d}" for i in range(1, students + 1)]
    if isinstance(students, (str, bytes)) or not isinstance(students, Sequence):
        raise TypeError("students must be a number or a list of names")
    names = [str(name) for name in students]
    if not 1 <= len(names) <= MAX_STUDENTS:
        raise ValueError(f"a class has 1 to {MAX_STUDENTS} students, not {len(names)}")
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(
                f"student name {name!r}: use 1-64 letters, digits, '.', '_' or '-' (no spaces)"
            )
    if len(set(names)) != len(names):
        raise ValueError("student names must be distinct")
    return names


def _write_private(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, in a file that is 0600 from its first byte."""
    target = Path(path)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never write through a file (or link) someone placed under the temporary name.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o600)  # the umask may only narrow it, but be exact
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _number(
    params: dict[str, Any], key: str, default: float, low: float, high: float, *, whole: bool
) -> float:
    value = params.pop(key, default)
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise SimulatorError(
            400, "INVALID_PARAMETER", f"{key} must be {kind} from {low:g} to {high:g}"
        )
    return value


def _scenario_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Return a scenario's parameters, checked and with their defaults; refuse others (400)."""
    params = dict(params)
    if name == "server_errors":
        checked: dict[str, Any] = {
            "count": int(_number(params, "count", 5, 1, 10_000, whole=True)),
            "status": int(_number(params, "status", 503, 500, 599, whole=True)),
        }
    elif name == "slow":
        checked = {"seconds": float(_number(params, "seconds", 2.0, 0.0, 60.0, whole=False))}
    elif name == "clock_offset":
        checked = {"minutes": _number(params, "minutes", 7, -1440, 1440, whole=False)}
    else:
        checked = {}
    if params:
        raise SimulatorError(
            400, "INVALID_PARAMETER", f"{name} takes no parameter {', '.join(sorted(params))}"
        )
    return checked


def snippet_for(url: str, app_key: str, app_secret: str) -> str:
    """What a student pastes: the notebook cell, then the env vars for a terminal."""
    return (
        "# In a notebook cell:\n"
        "import webull_nb\n"
        f"webull_nb.panel(simulator={json.dumps(url)}, app_key={json.dumps(app_key)}, "
        f"app_secret={json.dumps(app_secret)})\n"
        "# Or in the first cell of notebooks/classroom.ipynb (it asks for the app secret):\n"
        f"CLASS_URL = {json.dumps(url)}\n"
        f"APP_KEY = {json.dumps(app_key)}\n"
        "# In a terminal (webull-nb token ... --endpoint URL) or for Session():\n"
        f"export WEBULL_APP_KEY={app_key}\n"
        f"export WEBULL_APP_SECRET={app_secret}"
    )


class Classroom(Served):
    """A class on one simulator: ``with Classroom(30) as room: room.write_roster("r.json")``."""

    _name = "the class server"

    def __init__(
        self,
        students: int | Sequence[str] = 3,
        *,
        environment: str = "prod",
        verification_window: float = VERIFICATION_WINDOW,
        idle_timeout: float = IDLE_LIFETIME.total_seconds(),
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        auto_verify_after: float | None = None,
        connection_timeout: float = CONNECTION_TIMEOUT,
        teacher_token: str | None = None,
        public_url: str | None = None,
    ) -> None:
        if environment not in ("prod", "uat"):
            raise ValueError("environment must be 'prod' or 'uat'")
        if teacher_token is not None and (
            len(teacher_token) < 8 or not re.fullmatch(r"[!-~]+", teacher_token)
        ):
            # Printable ASCII only: an HTTP header carries it, and the page and the dashboard
            # refuse anything else.
            raise ValueError(
                "the teacher token must have at least 8 characters, printable ASCII without spaces"
            )
        self.clock = clock
        self.environment = environment
        self.students: list[str] = _student_names(students)
        self._teacher = Secret(teacher_token or secrets.token_urlsafe(24))
        self._students: dict[str, _Student] = {}
        self._by_key: dict[str, _Student] = {}
        for name in self.students:
            app_key = secrets.token_hex(16)
            while app_key in self._by_key:  # never in practice; distinct is a promise
                app_key = secrets.token_hex(16)
            student = _Student(
                name,
                app_key,
                Secret(secrets.token_urlsafe(24)),
                clock,
                environment=environment,
                verification_window=verification_window,
                idle_timeout=idle_timeout,
                auto_verify_after=auto_verify_after,
            )
            self._students[name] = student
            self._by_key[app_key] = student
        self._lock = threading.Lock()
        # Scenarios set for everyone, as they were set; shown while a student still has them.
        self._class_scenarios: dict[str, dict[str, Any]] = {}
        self._bind = (host, port)
        self.connection_timeout = float(connection_timeout)
        #: The URL students reach (roster, snippets); None: the one it listens on.
        self.public_url = public_url.rstrip("/") if public_url else None
        self._server: SimulatorServer | None = None
        # (server time, method, path, HTTP status) of recent requests, for tests and benchmarks.
        self.requests_seen: deque[tuple[float, str, str, int]] = deque(maxlen=10_000)

    def __repr__(self) -> str:
        """Show where it serves and how many students, never a secret or the teacher token."""
        url = self._server.url if self._server else None
        return (
            f"Classroom(url={url!r}, students={len(self.students)}, "
            f"environment={self.environment!r})"
        )

    # --- serving --------------------------------------------------------------------------------

    def _new_server(self) -> SimulatorServer:
        return SimulatorServer(
            self._bind,
            self.handle,
            clock=self.clock,
            seen=self.requests_seen,
            local_prefix=None,  # the control plane is signed by a student instead
            connection_timeout=self.connection_timeout,
        )

    # --- the roster -----------------------------------------------------------------------------

    @property
    def teacher_token(self) -> str:
        """The bearer token of ``/_class/status`` and ``/_class/scenario``."""
        return self._teacher.reveal()

    def _student(self, name: str) -> _Student:
        student = self._students.get(str(name))
        if student is None:
            raise SimulatorError(400, "UNKNOWN_STUDENT", f"no student {name!r} in this class")
        return student

    def credentials(self, student: str) -> tuple[str, str]:
        """Return ``(app_key, app_secret)`` of ``student``."""
        record = self._student(student)
        return record.app_key, record.app_secret.reveal()

    def _student_url(self) -> str:
        return self.public_url or self.url

    def roster(self) -> dict[str, Any]:
        """Return the URL, the teacher token and every student's key pair (secrets!)."""
        return {
            "url": self._student_url(),
            "teacher_token": self.teacher_token,
            "students": [
                {"student": s.name, "app_key": s.app_key, "app_secret": s.app_secret.reveal()}
                for s in self._students.values()
            ],
        }

    def write_roster(self, path: str | os.PathLike[str]) -> None:
        """Write the roster as JSON to ``path``, readable by its owner only (0600)."""
        _write_private(path, (json.dumps(self.roster(), indent=2) + "\n").encode("utf-8"))

    def write_roster_csv(self, path: str | os.PathLike[str]) -> None:
        """Write ``student,app_key,app_secret,url`` rows to ``path`` (0600), for a spreadsheet."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(["student", "app_key", "app_secret", "url"])
        url = self._student_url()
        for entry in self.roster()["students"]:
            writer.writerow([entry["student"], entry["app_key"], entry["app_secret"], url])
        _write_private(path, text.getvalue().encode("utf-8"))

    def snippet(self, student: str) -> str:
        """Return what ``student`` pastes: the notebook cell, then the terminal's env vars.

        The panel gets the key pair as arguments: ``panel(simulator=URL)`` never reads
        ``WEBULL_APP_KEY`` (a real key there must not replace a demo simulator's).
        """
        app_key, app_secret = self.credentials(student)
        return snippet_for(self._student_url(), app_key, app_secret)

    # --- the teacher's view and scenarios -------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Return the teacher's view: every student's token status, counters and scenarios."""
        with self._lock:
            # Rows read under the class lock (then each student's, the order _trigger takes):
            # a scenario started meanwhile must not look used up and vanish from the view.
            rows = [student.row() for student in self._students.values()]
            for name in list(self._class_scenarios):
                if not any(name in row["scenarios"] for row in rows):
                    del self._class_scenarios[name]  # used up (server_errors) or ended for each
            scenarios = {name: dict(p) for name, p in self._class_scenarios.items()}
        return {"now": self.clock(), "scenarios": scenarios, "students": rows}

    def scenario(self, name: str, student: str | None = None, **params: Any) -> dict[str, Any]:
        """Trigger scenario ``name`` for ``student`` (None: everyone); ``off=True`` ends it."""
        return self._trigger(name, student, params)

    def _trigger(self, name: str, student: str | None, params: dict[str, Any]) -> dict[str, Any]:
        params = dict(params)
        off = params.pop("off", False)
        if not isinstance(off, bool):
            raise SimulatorError(400, "INVALID_PARAMETER", "off must be true or false")
        if name not in SCENARIOS:
            raise SimulatorError(
                400, "UNKNOWN_SCENARIO", f"no scenario {name!r}; one of {', '.join(SCENARIOS)}"
            )
        targets = list(self._students.values()) if student is None else [self._student(student)]
        answer: dict[str, Any] = {"scenario": name, "student": student}
        if name == "expire_tokens":
            if off:
                raise SimulatorError(
                    400, "INVALID_PARAMETER", "expire_tokens happens once: there is nothing to end"
                )
            _scenario_params(name, params)
            ended = sum(s.tokens.expire_all() for s in targets)
            return {**answer, "active": False, "tokens_ended": ended}
        if off:
            if params:
                raise SimulatorError(400, "INVALID_PARAMETER", "off takes no other parameter")
            with self._lock:
                if student is None:
                    self._class_scenarios.pop(name, None)
                for target in targets:
                    target.set_scenario(name, None)
            return {**answer, "active": False}
        checked = _scenario_params(name, params)
        with self._lock:
            if student is None:
                self._class_scenarios[name] = dict(checked)
            for target in targets:
                target.set_scenario(name, checked)
        return {**answer, "active": True, **checked}

    # --- the in-process phone -------------------------------------------------------------------

    def sms_inbox(self, student: str) -> list[dict[str, Any]]:
        """Return the codes "sent" to ``student`` for tokens awaiting verification, newest last."""
        return self._student(student).tokens.sms_inbox()

    def verify(self, student: str, token: str, code: str) -> dict[str, str]:
        """Enter an SMS code on ``student``'s phone."""
        return self._student(student).tokens.verify(token, code)

    def token_status(self, student: str, token: str) -> str:
        """Return a token's status in ``student``'s account (INVALID if unknown)."""
        return self._student(student).tokens.status(token)

    # --- HTTP -----------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one HTTP request (header names in lower case)."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        try:
            if path == PAGE_PATH.rstrip("/") and method == "GET":
                # The page's relative links resolve against /_class/, not against /.
                return Reply(308, RawBody(b"", "text/plain"), {"Location": PAGE_PATH})
            if path == PAGE_PATH and method == "GET":
                return self._page()
            if path == STATUS_PATH and method == "GET":
                self._check_teacher(headers)
                return Reply(200, self.status())
            if path == SCENARIO_PATH and method == "POST":
                self._check_teacher(headers)
                payload = parse_json(body)
                name = payload.pop("scenario", None)
                student = payload.pop("student", None)
                if not isinstance(name, str) or not (student is None or isinstance(student, str)):
                    raise SimulatorError(
                        400, "INVALID_PARAMETER", "the body needs 'scenario' (and 'student') text"
                    )
                return Reply(200, self._trigger(name, student, payload))
            if path.startswith(CLASS_PREFIX) and not (path == EXERCISE_PATH and method == "POST"):
                raise SimulatorError(404, "NOT_FOUND", f"no class endpoint {method} {path}")
            student = self._sender(headers)
        except SimulatorError as refused:
            return refused.reply
        return self._serve(student, method, target, path, parts.query, headers, body)

    def _page(self) -> Reply:
        try:
            page = _PAGE_FILE.read_bytes()
        except OSError:
            page = _PLACEHOLDER
        return Reply(200, RawBody(page, "text/html; charset=utf-8"), _PAGE_HEADERS)

    def _check_teacher(self, headers: Mapping[str, str]) -> None:
        scheme, _, given = headers.get("authorization", "").strip().partition(" ")
        expected = self._teacher.reveal().encode("utf-8")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), expected
        ):
            raise SimulatorError(
                401,
                "UNAUTHORIZED",
                "this needs the teacher token: Authorization: Bearer <teacher_token>",
                {"WWW-Authenticate": 'Bearer realm="webull-nb class"'},
            )

    def _sender(self, headers: Mapping[str, str]) -> _Student:
        app_key = headers.get("x-app-key", "")
        if not app_key:
            raise SimulatorError(401, "MISSING_APP_KEY", "the x-app-key header is missing")
        student = self._by_key.get(app_key)
        if student is None:
            raise SimulatorError(401, "UNAUTHORIZED", "unknown app key")
        return student

    def _serve(
        self,
        student: _Student,
        method: str,
        target: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        # Seen, even when refused: a student stuck on a wrong secret is active. But the
        # signature comes before any scenario: a request signed with nobody's secret (the
        # app key alone travels in clear) spends no server error and is not slowed.
        with student.lock:
            student.last_seen = self.clock()
        failing = None
        try:
            student.check(headers, path, query, body, headers.get("host", ""))
            if not path.startswith(CONTROL_PREFIX) and path != EXERCISE_PATH:
                delay = student.delay()
                if delay > 0:
                    time.sleep(delay)  # this request's own thread: other students go on
                failing = student.take_server_error()
            if failing is not None:
                message = "a simulated server error (the teacher's server_errors scenario)"
                reply = Reply(failing, error_body("SERVER_ERROR", message))
            elif path == EXERCISE_PATH:
                reply = Reply(200, self._exercise(student, parse_json(body)))
            else:
                reply = student.service.respond(method, target, headers, body, authenticated=True)
        except SimulatorError as refused:
            self._refused(student, refused, headers, path, query, body)
            reply = refused.reply
        # A check counts once it passed the signature check (answered, or refused with 429).
        authentic = reply.status != 401 or reply.body.get("error_code") == "INVALID_TOKEN"
        if TOKEN_PATHS.get(path) == "check" and method == "POST" and failing is None and authentic:
            with student.lock:
                student.checks += 1
        return reply._replace(
            headers={**reply.headers, "Date": formatdate(student.clock(), usegmt=True)}
        )

    def _refused(
        self,
        student: _Student,
        refused: SimulatorError,
        headers: Mapping[str, str],
        path: str,
        query: str,
        body: bytes,
    ) -> None:
        if refused.http_status == 429:
            with student.lock:
                student.rate_limited += 1
            return
        if refused.http_status != 401:
            return
        try:
            words = diagnose.reason(
                refused,
                headers=headers,
                path=path,
                query=query,
                body=body,
                host=headers.get("host", ""),
                app_key=student.app_key,
                app_secret=student.app_secret,
                now=student.clock(),
            )
        except Exception as exc:  # a bug in the words must not turn a 401 into a 500
            _log.warning("webull-nb class: diagnose.reason failed: %s", type(exc).__name__)
            words = str(refused)
        with student.lock:
            if refused.error_code != "INVALID_TOKEN":
                student.signature_errors += 1
            student.last_error = str(words)[:_MAX_REASON]

    def _exercise(self, student: _Student, payload: dict[str, Any]) -> dict[str, Any]:
        name, passed = payload.get("exercise"), payload.get("passed")
        detail = payload.get("detail", "")
        if not isinstance(name, str) or not 0 < len(name) <= _MAX_EXERCISE:
            raise SimulatorError(
                400, "INVALID_PARAMETER", f"'exercise' must be a name of 1-{_MAX_EXERCISE} chars"
            )
        if not isinstance(passed, bool):
            raise SimulatorError(400, "INVALID_PARAMETER", "'passed' must be true or false")
        if not isinstance(detail, str) or len(detail) > _MAX_DETAIL:
            raise SimulatorError(
                400, "INVALID_PARAMETER", f"'detail' must be text of at most {_MAX_DETAIL} chars"
            )
        with student.lock:
            if passed and name not in student.exercises:
                if len(student.exercises) >= _MAX_EXERCISES:
                    # Every teacher's view downloads the rows each second: keep them small.
                    raise SimulatorError(
                        400,
                        "TOO_MANY_EXERCISES",
                        f"at most {_MAX_EXERCISES} exercises are kept per student",
                    )
                student.exercises.append(name)
            done = list(student.exercises)
        return {"student": student.name, "exercise": name, "passed": passed, "exercises": done}
