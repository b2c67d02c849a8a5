"""The class dashboard widget without a browser: its state, its polling thread, its messages.

The kernel side is driven the way its view drives it, through custom messages (``hello``,
``alive``, ``bye``, ``scenario``, ``token``), against a small stand-in of the class server
that answers the contract's ``/_class/status`` and ``/_class/scenario`` with a Bearer check.
The browser side (webull_nb/ui/static/dashboard.js and the page) is driven in tests/browser/.
"""

from __future__ import annotations

import hmac
import itertools
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ipywidgets.widgets import widget as ipywidget

import webull_nb.classroom
from webull_nb.errors import AuthenticationError, RequestError
from webull_nb.ui import dashboard as module
from webull_nb.ui.dashboard import STATIC, Dashboard, dashboard

TEACHER = "teacher-token-that-must-never-leak-0123"
PAGE = Path(module.__file__).parents[1] / "simulator" / "static" / "classroom.html"
LASTING = {"slow", "clock_offset", "no_device"}


class StandIn:
    """A stand-in class server: the contract's status and scenario calls, and the page."""

    def __init__(self, students: tuple[str, ...] = ("s01", "s02", "s03")) -> None:
        self.lock = threading.RLock()  # wait_for() checks its condition holding it
        self.now = 1_700_000_000.0
        self.scenarios: dict[str, dict[str, Any]] = {}
        self.rows = {
            name: {
                "student": name,
                "status": "NONE",
                "checks": 0,
                "rate_limited": 0,
                "signature_errors": 0,
                "last_error": "",
                "last_seen": None,
                "exercises": [],
                "scenarios": {},
            }
            for name in students
        }
        self.seen: list[tuple[float, str, str, int]] = []  # (monotonic, method, path, status)
        self.posted: list[dict[str, Any]] = []
        self.changed = threading.Condition(self.lock)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/_class/":
                    self.reply(200, PAGE.read_bytes(), "text/html; charset=utf-8")
                elif self.path == "/_class/status":
                    if self.authorized():
                        self.reply(200, stand_in.status())
                else:
                    self.reply(404, {"error_code": "NOT_FOUND", "message": "no such path"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/_class/scenario":
                    self.reply(404, {"error_code": "NOT_FOUND", "message": "no such path"})
                elif self.authorized():
                    self.reply(*stand_in.scenario(json.loads(body)))

            def authorized(self) -> bool:
                given = self.headers.get("Authorization", "")
                if hmac.compare_digest(given.encode(), f"Bearer {TEACHER}".encode()):
                    return True
                self.reply(401, {"error_code": "UNAUTHORIZED", "message": "teacher token needed"})
                return False

            def reply(self, status: int, body: Any, kind: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                with stand_in.changed:
                    stand_in.seen.append((time.monotonic(), self.command, self.path, status))
                    stand_in.changed.notify_all()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def status(self) -> dict[str, Any]:
        with self.lock:
            body = {"now": self.now, "scenarios": self.scenarios, "students": [*self.rows.values()]}
            return json.loads(json.dumps(body))

    def scenario(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name, student, off = body.get("scenario"), body.get("student"), body.get("off", False)
        params = {k: v for k, v in body.items() if k not in ("scenario", "student", "off")}
        with self.lock:
            self.posted.append(body)
            if name not in module.SCENARIOS or (student is not None and student not in self.rows):
                return 400, {"error_code": "BAD_REQUEST", "message": f"unknown {name}/{student}"}
            targets = [self.rows[student]] if student else list(self.rows.values())
            if name == "expire_tokens":
                for row in targets:
                    row["status"] = {"PENDING": "EXPIRED", "NORMAL": "INVALID"}.get(
                        row["status"], row["status"]
                    )
            else:
                active = self.rows[student]["scenarios"] if student else self.scenarios
                if off:
                    active.pop(name, None)
                else:
                    active[name] = params
            return 200, {"scenario": name, "student": student, "active": not off, **params}

    def set(self, student: str, **fields: Any) -> None:
        with self.lock:
            self.rows[student].update(fields)

    def status_calls(self) -> list[float]:
        with self.lock:
            return [t for t, method, path, _ in self.seen if path == "/_class/status"]

    def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        with self.changed:
            assert self.changed.wait_for(condition, timeout), "the stand-in saw no such request"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server() -> Iterator[StandIn]:
    stand_in = StandIn()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def boards() -> Iterator[list[Dashboard]]:
    made: list[Dashboard] = []
    yield made
    for board in made:
        board.close()


@pytest.fixture
def make(boards, server) -> Callable[..., Dashboard]:
    def make_board(token: str = TEACHER, url: str | None = None) -> Dashboard:
        board = dashboard(url or server.url, token)
        board.background = False
        boards.append(board)
        return board

    return make_board


def say(board: Dashboard, action: str, **content: Any) -> None:
    """Send what the view sends."""
    board._on_message(board, {"action": action, "view": "view-1", **content}, [])


def wait_state(board: Dashboard, condition: Callable[[dict], bool], timeout: float = 10) -> None:
    """Wait (on the trait's change events, not a sleep) until ``condition(board.state)``."""
    seen = threading.Event()

    def check(_change: Any = None) -> None:
        if condition(board.state):
            seen.set()

    board.observe(check, names=["state"])
    try:
        check()
        assert seen.wait(timeout), f"never reached; state is {board.state}"
    finally:
        board.unobserve(check, names=["state"])


def statuses(board: Dashboard) -> dict[str, str]:
    return {row["student"]: row["status"] for row in board.state["students"]}


def saved(board: Dashboard) -> str:
    """Everything the widget's models would put in a notebook, and what it shows without one."""
    data, _ = board._repr_mimebundle_()
    return json.dumps([board.get_state(), data, repr(board), board.state], default=str)


def test_dashboard_is_lazy_and_importing_the_facade_loads_no_widgets() -> None:
    assert webull_nb.classroom.dashboard is dashboard
    assert webull_nb.classroom.Dashboard is Dashboard
    code = (
        "import sys, webull_nb, webull_nb.classroom\n"
        "assert 'dashboard' in dir(webull_nb.classroom)\n"
        "assert not {'ipywidgets', 'anywidget'} & set(sys.modules), 'widgets loaded at import'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_one_anywidget_with_its_front_end_shipped(make) -> None:
    before = set(ipywidget._instances)
    board = make()
    models = set(ipywidget._instances) - before
    assert "export default" in board._esm and ".wnb-dash-badge" in board._css
    assert (STATIC / "dashboard.js").is_file() and (STATIC / "dashboard.css").is_file()
    board.close()
    assert not models & set(ipywidget._instances), "close() left models open"


def test_the_first_status_is_read_at_once_and_the_state_holds_rows_only(make, server) -> None:
    server.set("s01", status="NORMAL", checks=4, last_seen=server.now - 12)
    board = make()
    assert statuses(board) == {"s01": "NORMAL", "s02": "NONE", "s03": "NONE"}
    assert board.state["now"] == server.now and board.state["url"] == server.url
    assert board.state["error"] == "" and not board.polling  # no view yet: no thread
    assert server.status_calls() and len(server.status_calls()) == 1
    assert TEACHER not in saved(board)


def test_rows_follow_the_server_while_a_view_is_open_at_most_once_a_second(make, server) -> None:
    board = make()
    say(board, "hello")
    assert board.polling
    server.set("s02", status="PENDING", last_error="token PENDING: approve it first")
    wait_state(board, lambda s: statuses(board)["s02"] == "PENDING")
    server.set("s02", status="NORMAL", exercises=["signature"])
    server.set("s03", signature_errors=1, last_error="wrong secret (the signature matches...)")
    wait_state(board, lambda s: s["students"][2]["signature_errors"] == 1)
    assert board.state["students"][1]["exercises"] == ["signature"]
    assert board.state["students"][2]["last_error"].startswith("wrong secret")
    assert board.state["polling"] is True
    calls = server.status_calls()
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert gaps and min(gaps) >= 0.95, gaps  # dashboard()'s own first read counts too
    assert TEACHER not in saved(board)


def test_closing_stops_the_thread(make, server) -> None:
    board = make()
    say(board, "hello")
    thread = board._thread
    assert thread is not None and thread.is_alive()
    server.wait_for(lambda: len(server.status_calls()) >= 2)
    board.close()
    assert not thread.is_alive()
    calls = len(server.status_calls())
    thread.join(2 * module.POLL_INTERVAL)  # what a thread still running would use to poll again
    assert len(server.status_calls()) == calls
    say(board, "hello")  # a message after close starts nothing
    assert board._thread is None or not board._thread.is_alive()


def test_polling_ends_when_the_last_view_says_bye_or_is_not_heard_of(make, server) -> None:
    board = make()
    now = [1000.0]
    board._lease_clock = lambda: now[0]
    say(board, "hello")
    thread = board._thread
    server.wait_for(lambda: len(server.status_calls()) >= 2)
    say(board, "bye")
    thread.join(5)
    assert not thread.is_alive() and not board.polling
    wait_state(board, lambda s: s["polling"] is False)

    say(board, "hello")  # a view again: polling again
    thread = board._thread
    assert thread.is_alive()
    now[0] += module.VIEW_LEASE + 1  # no "alive" from that view since: a closed tab
    thread.join(2 * module.POLL_INTERVAL + 5)
    assert not thread.is_alive()


def test_a_401_shows_a_message_stops_polling_and_a_new_token_resumes(make, server) -> None:
    board = make(token="not-the-teacher-token")
    assert "refused the teacher token" in board.state["error"]
    assert board.state["refused"] is True and board.state["students"] == []
    say(board, "hello")
    assert not board.polling  # a 401 does not heal by asking again every second
    data, _ = board._repr_mimebundle_()
    assert "refused the teacher token" in data["text/plain"]

    say(board, "token", token=TEACHER)  # typed in the view's form
    wait_state(board, lambda s: len(s["students"]) == 3)
    assert board.state["error"] == "" and board.state["refused"] is False
    assert board.polling
    assert TEACHER not in saved(board)


def test_scenario_buttons_post_from_the_kernel_and_show_in_the_rows(make, server) -> None:
    board = make()
    say(board, "hello")
    say(board, "scenario", scenario="slow", student=None, off=False, params={"seconds": 2.5})
    assert server.posted[-1] == {"scenario": "slow", "seconds": 2.5}
    assert board.state["notice"] == "slow started for everyone."
    wait_state(board, lambda s: s["scenarios"] == {"slow": {"seconds": 2.5}})

    say(board, "bye")  # from here on, each read is the test's own (no waiting for the rhythm)
    say(board, "scenario", scenario="clock_offset", student="s02", params={"minutes": -7})
    board.refresh()
    assert board.state["students"][1]["scenarios"] == {"clock_offset": {"minutes": -7}}
    say(board, "scenario", scenario="slow", off=True, params={})
    assert server.posted[-1] == {"scenario": "slow", "off": True}
    board.refresh()
    assert board.state["scenarios"] == {}

    server.set("s01", status="NORMAL")
    server.set("s02", status="PENDING")
    say(board, "scenario", scenario="expire_tokens", student=None, off=False)
    board.refresh()
    assert statuses(board) == {"s01": "INVALID", "s02": "EXPIRED", "s03": "NONE"}

    say(board, "scenario", scenario="slow", student="s99", params={"seconds": 1})
    assert "slow for s99 failed" in board.state["notice"] and "HTTP 400" in board.state["notice"]


@pytest.mark.parametrize(
    "content",
    [
        {"scenario": "rm -rf"},
        {"scenario": "slow", "params": {"seconds": "2"}},
        {"scenario": "slow", "params": {"seconds": float("nan")}},
        {"scenario": "slow", "params": {"wait": 2}},
        {"scenario": "server_errors", "params": {"count": 2.5}},
        {"scenario": "slow", "student": 3},
        {"scenario": "slow", "params": [1]},
        {"scenario": "slow", "off": "yes"},
    ],
)
def test_scenario_messages_of_the_wrong_shape_are_refused_in_words(make, server, content) -> None:
    board = make()
    say(board, "scenario", **content)  # never raises: ipywidgets would show a traceback
    assert board.state["notice"] and server.posted == []


def test_unknown_messages_are_ignored_with_a_notice(make) -> None:
    board = make()
    board._on_message(board, ["not", "an", "object"], [])
    assert "does not understand" in board.state["notice"]
    say(board, "token", token=123)
    assert "Enter the teacher token" in board.state["notice"]


def test_scenario_from_a_cell_raises_typed_errors(make, server) -> None:
    board = make()
    assert board.scenario("no_device", "s03")["active"] is True
    with pytest.raises(RequestError, match="Unknown scenario"):
        board.scenario("meteor")
    with pytest.raises(RequestError, match="HTTP 400"):
        board.scenario("no_device", "s42")
    with pytest.raises(AuthenticationError):
        dashboard(server.url, TEACHER).client.__class__(server.url, " ")


def test_a_server_that_is_down_is_an_error_in_the_widget_never_raised(make, server) -> None:
    url = server.url
    server.stop()
    board = make(url=url)
    assert "Cannot reach the class server" in board.state["error"]
    say(board, "hello")  # the thread backs off and shows the error; nothing raised
    assert board.polling
    board.close()
    assert not board.polling


def test_the_page_url_and_a_trailing_slash_are_the_server(make, server) -> None:
    assert make(url=server.url + "/_class/").url == server.url
    assert make(url=server.url + "/").url == server.url
    with pytest.raises(RequestError):
        dashboard("ftp://example.org", TEACHER)


def test_text_and_html_fallbacks_escape_what_the_server_says(make, server) -> None:
    server.set(
        "s03",
        status="<b>NORMAL</b>",
        last_error="<script>alert(1)</script> wrong secret",
        exercises=["<img src=x onerror=alert(1)>"],
        last_seen=server.now - 12,
    )
    server.set("s01", status="PENDING", scenarios={"slow": {"seconds": 2}})
    server.scenarios["<i>meteor</i>"] = {"<u>size</u>": "<s>big</s>"}
    board = make()
    data, _ = board._repr_mimebundle_()
    html = data["text/html"]
    assert "<script>" not in html and "<img" not in html
    assert "<i>" not in html and "<u>" not in html and "<s>" not in html
    assert "&lt;i&gt;meteor&lt;/i&gt; (&lt;u&gt;size&lt;/u&gt;=&lt;s&gt;big&lt;/s&gt;)" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; wrong secret" in html
    assert "application/vnd.jupyter.widget-view+json" in data
    plain = data["text/plain"]
    assert "s01" in plain and "PENDING" in plain and "slow answers (2 s)" in plain
    assert "12 s ago" in plain and "never" in plain
    # A status word the contract does not know is drawn as NONE, never as given.
    assert statuses(board)["s03"] == "NONE"
    assert repr(board) == f"<Dashboard {server.url} · 3 students: 2 NONE, 1 PENDING>"
