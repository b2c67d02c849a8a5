"""The class dashboard widget without a browser: its state, its polling thread, its messages.

The kernel side is driven the way its view drives it, through custom messages (``hello``,
``alive``, ``bye``, ``scenario``, ``token``), against a real class server (``Classroom``) whose
students change state through signed requests, as their notebooks would make them.
The browser side (webull_nb/ui/static/dashboard.js and the page) is driven in tests/browser/.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import signed_request
from ipywidgets.widgets import widget as ipywidget

import webull_nb.classroom
from webull_nb.errors import AuthenticationError, RequestError
from webull_nb.simulator import Classroom
from webull_nb.ui import dashboard as module
from webull_nb.ui.dashboard import STATIC, Dashboard, clean_status, dashboard, status_html

TEACHER = "teacher-token-that-must-never-leak-0123"
CREATE, ACCOUNTS = "/openapi/auth/token/create", "/openapi/account/list"


@pytest.fixture
def server() -> Iterator[Classroom]:
    """A class of three students on the wall clock (the dashboard shows the server's now)."""
    with Classroom(3, teacher_token=TEACHER) as room:
        yield room


def call(room: Classroom, student: str, method: str, path: str, payload: Any = None, **kw: Any):
    """A request signed by ``student`` (with ``secret=...`` instead of theirs, if given)."""
    app_key, app_secret = room.credentials(student)
    secret = kw.pop("secret", app_secret)
    body = None if payload is None else json.dumps(payload).encode()
    return signed_request(
        room.url, app_key, secret, method, path, body=body, clock=room.clock, **kw
    )


def approve(room: Classroom, student: str) -> None:
    """``student`` enters their newest code through their signed control plane."""
    (sms,) = call(room, student, "GET", "/_sim/sms").json()[-1:]
    assert call(room, student, "POST", "/_sim/verify", sms).status_code == 200


def status_calls(room: Classroom) -> list[float]:
    """When the server answered each status request (its clock)."""
    return [t for t, _method, path, _ in list(room.requests_seen) if path == "/_class/status"]


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
    call(server, "s01", "POST", CREATE, {})
    board = make()
    assert statuses(board) == {"s01": "PENDING", "s02": "NONE", "s03": "NONE"}
    assert board.state["now"] <= server.clock() and board.state["url"] == server.url
    assert board.state["error"] == "" and not board.polling  # no view yet: no thread
    assert len(status_calls(server)) == 1
    assert TEACHER not in saved(board)


def test_rows_follow_the_server_while_a_view_is_open_at_most_once_a_second(make, server) -> None:
    board = make()
    say(board, "hello")
    assert board.polling
    call(server, "s02", "POST", CREATE, {})
    wait_state(board, lambda s: statuses(board)["s02"] == "PENDING")
    approve(server, "s02")
    exercise = {"exercise": "signature", "passed": True, "detail": "ok"}
    assert call(server, "s02", "POST", "/_class/exercise", exercise).status_code == 200
    assert call(server, "s03", "GET", ACCOUNTS, secret="not-the-secret").status_code == 401
    wait_state(board, lambda s: s["students"][2]["signature_errors"] == 1)
    wait_state(board, lambda s: s["students"][1]["exercises"] == ["signature"])
    assert statuses(board)["s02"] == "NORMAL"
    s03 = board.state["students"][2]
    assert s03["last_error"] and server.credentials("s03")[1] not in s03["last_error"]
    assert s03["last_seen"] is not None and board.state["polling"] is True
    calls = status_calls(server)
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert gaps and min(gaps) >= 0.9, gaps  # dashboard()'s own first read counts too
    assert TEACHER not in saved(board)


def test_closing_stops_the_thread(make, server) -> None:
    board = make()
    board.poll_interval = 0.1
    first = board.state["now"]
    say(board, "hello")
    thread = board._thread
    assert thread is not None and thread.is_alive()
    wait_state(board, lambda s: s["now"] != first)  # the thread's own read
    board.close()
    assert not thread.is_alive()
    calls = len(status_calls(server))
    thread.join(3 * board.poll_interval)  # what a thread still running would use to poll again
    assert len(status_calls(server)) == calls
    say(board, "hello")  # a message after close starts nothing
    assert board._thread is None or not board._thread.is_alive()


def test_polling_ends_when_the_last_view_says_bye_or_is_not_heard_of(make, server) -> None:
    board = make()
    board.poll_interval = 0.1
    now = [1000.0]
    board._lease_clock = lambda: now[0]
    first = board.state["now"]
    say(board, "hello")
    thread = board._thread
    wait_state(board, lambda s: s["now"] != first)
    say(board, "bye")
    thread.join(5)
    assert not thread.is_alive() and not board.polling
    wait_state(board, lambda s: s["polling"] is False)

    say(board, "hello")  # a view again: polling again
    thread = board._thread
    assert thread.is_alive()
    now[0] += module.VIEW_LEASE + 1  # no "alive" from that view since: a closed tab
    thread.join(5)
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
    board.poll_interval = 0.1
    say(board, "hello")
    say(board, "scenario", scenario="slow", student=None, off=False, params={"seconds": 0.5})
    assert board.state["notice"] == "slow started for everyone."
    assert server.status()["scenarios"] == {"slow": {"seconds": 0.5}}
    wait_state(board, lambda s: s["scenarios"] == {"slow": {"seconds": 0.5}})

    say(board, "bye")  # from here on, each read is the test's own (no waiting for the rhythm)
    say(board, "scenario", scenario="clock_offset", student="s02", params={"minutes": -7})
    board.refresh()
    assert board.state["students"][1]["scenarios"]["clock_offset"] == {"minutes": -7}
    say(board, "scenario", scenario="slow", off=True, params={})
    board.refresh()
    assert board.state["scenarios"] == {}

    call(server, "s01", "POST", CREATE, {})
    approve(server, "s01")
    call(server, "s03", "POST", CREATE, {})
    say(board, "scenario", scenario="expire_tokens", student=None, off=False)
    board.refresh()
    assert statuses(board) == {"s01": "INVALID", "s02": "NONE", "s03": "EXPIRED"}

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
    assert board.state["notice"]
    assert [path for _, _, path, _ in server.requests_seen] == ["/_class/status"]


def test_unknown_messages_are_ignored_with_a_notice(make) -> None:
    board = make()
    board._on_message(board, ["not", "an", "object"], [])
    assert "does not understand" in board.state["notice"]
    say(board, "token", token=123)
    assert "Enter the teacher token" in board.state["notice"]


def test_scenario_from_a_cell_raises_typed_errors(make, server) -> None:
    board = make()
    assert board.scenario("no_device", "s03")["active"] is True
    assert server.status()["students"][2]["scenarios"] == {"no_device": {}}
    with pytest.raises(RequestError, match="Unknown scenario"):
        board.scenario("meteor")
    with pytest.raises(RequestError, match="HTTP 400"):
        board.scenario("no_device", "s42")
    with pytest.raises(AuthenticationError, match="empty"):
        board.set_token(" ")


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


def test_text_and_html_fallbacks(make, server) -> None:
    call(server, "s01", "POST", CREATE, {})
    server.scenario("slow", "s01", seconds=2)
    board = make()
    data, _ = board._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    plain = data["text/plain"]
    assert "s01" in plain and "PENDING" in plain and "slow answers (2.0 s)" in plain
    assert "0 s ago" in plain and "never" in plain
    assert "<table" in data["text/html"] and "PENDING" in data["text/html"]
    assert repr(board) == f"<Dashboard {server.url} · 3 students: 2 NONE, 1 PENDING>"


def test_what_the_server_says_is_escaped_and_kept_to_its_types() -> None:
    body = {
        "now": 1000.0,
        "scenarios": {"<i>meteor</i>": {"<u>size</u>": "<s>big</s>"}},
        "students": [
            {
                "student": "s03",
                "status": "<b>NORMAL</b>",
                "checks": "many",
                "last_error": "<script>alert(1)</script> wrong secret",
                "exercises": ["<img src=x onerror=alert(1)>"],
                "last_seen": 988.0,
            },
            {"student": 7},
            "not a row",
        ],
    }
    status = clean_status(body)
    (row,) = status["students"]
    # A status word the contract does not know is drawn as NONE, never as given.
    assert (row["status"], row["checks"], row["scenarios"]) == ("NONE", 0, {})
    html = status_html(status, url="http://x<y>")
    assert "<script>" not in html and "<img" not in html and "&lt;b&gt;" not in html
    assert "<i>" not in html and "<u>" not in html and "<s>" not in html and "<y>" not in html
    assert "&lt;i&gt;meteor&lt;/i&gt; (&lt;u&gt;size&lt;/u&gt;=&lt;s&gt;big&lt;/s&gt;)" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; wrong secret" in html
    assert "12 s ago" in html


def test_the_page_and_the_view_are_self_contained_and_draw_text_only() -> None:
    page = (STATIC.parents[1] / "simulator" / "static" / "classroom.html").read_text()
    view = (STATIC / "dashboard.js").read_text()
    for source in (page, view):
        assert "innerHTML" not in source and "insertAdjacentHTML" not in source
        assert "localStorage." not in source and "document.write" not in source
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", page)
    assert not re.search(r"""\b(src|href)=["']?(https?:)?//""", page)
    assert "sessionStorage" in page and "Authorization: `Bearer" in page
    assert "^import " not in view and "export default" in view
