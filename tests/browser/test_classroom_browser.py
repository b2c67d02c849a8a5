"""The class dashboard in a real browser: the page a class server serves at /_class/, and the
notebook widget's view, driven in Chromium while three students change state.

Needs Debian's chromium (``/usr/bin/chromium``) and Playwright; never ``playwright install``.
Skipped where chromium is missing, unless WEBULL_NB_REQUIRE_BROWSER=1 (as in CI). Screenshots
go to ``test-artifacts/`` (``classroom-dashboard.png`` is the README's
``docs/img/classroom-dashboard.png``); the tests never write tracked files.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import ARTIFACTS, require_chromium
from helpers import signed_request

from webull_nb.simulator import Classroom
from webull_nb.ui.dashboard import STATIC

pytestmark = pytest.mark.browser
require_chromium()

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

CREATE, ACCOUNTS = "/openapi/auth/token/create", "/openapi/account/list"
# Set by any markup that a value from the server could smuggle into the page.
PWNED = '<img src=x onerror="window.__pwned=1">'


class ServerLog:
    """What conftest.py keeps of a failed test: here, the class server's requests."""

    def __init__(self, room: Classroom) -> None:
        self.room = room

    @property
    def log(self) -> Path:
        """Write the requests the class server answered, and return the file."""
        path = Path(tempfile.mkdtemp()) / "classroom-requests.log"
        lines = [f"{t:.3f} {m} {p} {s}" for t, m, p, s in list(self.room.requests_seen)]
        path.write_text("\n".join(lines) + "\n")
        return path


@pytest.fixture
def room() -> Iterator[Classroom]:
    with Classroom(3) as served:
        yield served


def open_page(browser, room: Classroom, request, **options: Any):
    page = browser.new_page(viewport={"width": 1400, "height": 600}, **options)
    page.set_default_timeout(15_000)
    request.node.wnb_page = (page, ServerLog(room))  # for the failure artifacts (conftest.py)
    return page


def call(room: Classroom, student: str, method: str, path: str, payload: Any = None, **kw: Any):
    """A request signed by ``student`` (with ``secret=...`` instead of theirs, if given)."""
    app_key, app_secret = room.credentials(student)
    secret = kw.pop("secret", app_secret)
    body = None if payload is None else json.dumps(payload).encode()
    return signed_request(room.url, app_key, secret, method, path, body=body, clock=room.clock)


def status_times(room: Classroom) -> list[float]:
    return [t for t, _m, path, _s in list(room.requests_seen) if path == "/_class/status"]


def log_in(page, token: str) -> None:
    page.get_by_label("Teacher token").fill(token)
    page.get_by_role("button", name="Open the dashboard").click()


def row(page, student: str):
    return page.locator(f'#rows tr[data-student="{student}"]')


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_the_page_follows_three_students_and_a_scenario_click_reaches_the_status(
    browser, room, request
) -> None:
    page = open_page(browser, room, request)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.goto(room.url + "/_class/")
    expect(page.get_by_role("heading", name="Class dashboard")).to_be_visible()

    # A wrong token: refused, asked again, forgotten.
    log_in(page, "not-the-teacher-token")
    expect(page.locator("#login-error")).to_contain_text("refused this teacher token")
    expect(page.locator("#board")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0

    log_in(page, room.teacher_token)
    expect(page.locator("#rows tr")).to_have_count(3)
    expect(page.locator("#summary")).to_have_text("3 students: 3 NONE")
    # The token is kept in this tab's session storage only, never in the URL or localStorage.
    assert room.teacher_token not in page.url
    stored = page.evaluate("Object.values(sessionStorage)")
    assert stored == [room.teacher_token]
    assert page.evaluate("localStorage.length") == 0

    # s01 creates a token; s02 reaches NORMAL through its signed control plane; s03 signs
    # with a wrong secret.
    assert call(room, "s01", "POST", CREATE, {}).status_code == 200
    assert call(room, "s02", "POST", CREATE, {}).status_code == 200
    (sms,) = call(room, "s02", "GET", "/_sim/sms").json()
    assert call(room, "s02", "POST", "/_sim/verify", sms).status_code == 200
    assert call(room, "s03", "GET", ACCOUNTS, secret="not-the-secret").status_code == 401
    passed = {"exercise": "signature", "passed": True, "detail": "by hand"}
    assert call(room, "s02", "POST", "/_class/exercise", passed).status_code == 200
    reason = room.status()["students"][2]["last_error"]
    assert reason.startswith("wrong secret")

    for student, status in (("s01", "PENDING"), ("s02", "NORMAL"), ("s03", "NONE")):
        badge = row(page, student).locator(".badge")
        expect(badge).to_have_text(status, timeout=5_000)
        expect(badge).to_have_class(re.compile(rf"\b{status}\b"))
    s03 = row(page, "s03")
    expect(s03.locator("td.signature_errors")).to_have_text("1", timeout=5_000)
    expect(s03.locator("td.signature_errors")).to_have_class(re.compile(r"\bhot\b"))
    expect(s03.locator("td.last_error")).to_have_text(reason)
    expect(s03.locator("td.last_seen")).to_have_text(re.compile(r"^\d+ s ago$"))
    expect(row(page, "s01").locator("td.last_error")).to_have_text("—")
    expect(page.locator("#changes")).to_contain_text("s02: NONE → NORMAL")
    expect(row(page, "s02").locator("td.exercises")).to_have_text("1: signature")
    expect(page.locator("#changes")).to_contain_text("s02 passed signature.")
    expect(page.locator("#changes")).to_contain_text(f"s03: signature error: {reason}")
    expect(page.locator("#summary")).to_have_text("3 students: 1 NONE, 1 PENDING, 1 NORMAL")

    # A scenario for one student: the target, the parameter, the button.
    page.get_by_label("Start for").select_option("s02")
    page.get_by_label("seconds").fill("0.5")
    page.get_by_role("button", name="Slow answers").click()
    expect(page.locator("#scenario-result")).to_have_text("slow started for s02.")
    assert room.status()["students"][1]["scenarios"] == {"slow": {"seconds": 0.5}}
    expect(row(page, "s02").locator(".chip")).to_have_text(re.compile(r"slow answers \(0.5 s\)"))
    screenshot(page, "classroom-dashboard.png")  # the README's (docs/img/)
    row(page, "s02").get_by_role("button", name="Turn off slow answers (0.5 s) for s02").click()
    expect(row(page, "s02").locator(".chip")).to_have_count(0)
    expect(page.locator("#changes")).to_contain_text("s02: slow answers (0.5 s) started.")
    expect(page.locator("#changes")).to_contain_text("s02: slow answers (0.5 s) ended.")
    assert room.status()["students"][1]["scenarios"] == {}

    # For everyone: a lasting one shows in the class bar; expire_tokens ends every token.
    page.get_by_label("Start for").select_option("")
    page.get_by_role("button", name="No device").click()
    expect(page.locator("#class-scenarios")).to_contain_text("no device")
    page.get_by_role("button", name="Expire tokens now").click()
    expect(row(page, "s01").locator(".badge")).to_have_text("EXPIRED", timeout=5_000)
    expect(row(page, "s02").locator(".badge")).to_have_text("INVALID")
    page.get_by_role("button", name="Turn off no device for everyone").click()
    expect(page.locator("#class-scenarios")).to_have_text("none")
    assert room.status()["scenarios"] == {}

    # At most one status request a second, whatever the clicks.
    times = status_times(room)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) >= 3 and min(gaps) >= 0.9, gaps  # answers: latency may vary a little

    # Nothing but this server was asked, and the token never went into a URL.
    ours = [url for url in asked if url != room.url + "/favicon.ico"]  # the browser's own
    assert ours and all(url.startswith(room.url + "/_class/") for url in ours), asked
    assert not [url for url in asked if room.teacher_token in url]

    # The token survives a reload of the tab, and nothing is asked again.
    page.reload()
    expect(page.locator("#rows tr")).to_have_count(3)
    expect(page.locator("#login")).to_be_hidden()

    # Dark: the same page, readable (the badges keep their words).
    page.emulate_media(color_scheme="dark")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(13, 17, 23)", background
    expect(row(page, "s02").locator(".badge")).to_have_text("INVALID")
    screenshot(page, "classroom-dashboard-dark.png")

    # The server goes away: said on the page, retried with a growing wait.
    room.stop()
    expect(page.locator("#conn")).to_contain_text("Cannot get the class status", timeout=10_000)
    expect(page.locator("#conn")).to_contain_text("Trying again in")


def test_the_page_pauses_while_hidden_and_asks_again_after_a_401(browser, room, request) -> None:
    page = open_page(browser, room, request)
    page.goto(room.url + "/_class/")
    log_in(page, room.teacher_token)
    expect(page.locator("#rows tr")).to_have_count(3)
    page.evaluate(
        """() => {
          Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
          document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    before = len(status_times(room))
    page.wait_for_timeout(2500)  # measuring that nothing happens takes the time it measures
    assert len(status_times(room)) <= before + 1  # one may have been under way
    paused = len(status_times(room))
    shown = page.locator("#updated").inner_text()
    page.evaluate(
        """() => {
          Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});
          document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    expect(page.locator("#updated")).not_to_have_text(shown, timeout=5_000)  # a new answer
    assert len(status_times(room)) > paused

    # The token stops being accepted (here: replaced in storage): asked again, forgotten.
    page.evaluate("sessionStorage.setItem('webull-nb:teacher-token', 'stale')")
    expect(page.locator("#login-error")).to_contain_text("refused this teacher token")
    expect(page.get_by_label("Teacher token")).to_be_focused()
    assert page.evaluate("sessionStorage.length") == 0


def test_the_page_draws_what_the_server_says_as_text(browser, room, request) -> None:
    hostile = {
        "now": 1_000_000.0,
        "scenarios": {PWNED: {"x": PWNED}},
        "students": [
            {
                "student": PWNED,
                "status": PWNED,
                "checks": PWNED,
                "rate_limited": 2,
                "signature_errors": 0,
                "last_error": PWNED,
                "last_seen": 999_988.0,
                "exercises": [PWNED],
                "scenarios": {"slow": {"seconds": PWNED}},
            }
        ],
    }
    page = open_page(browser, room, request)
    page.route(
        "**/_class/status",
        lambda route: route.fulfill(status=200, json=hostile),
    )
    page.goto(room.url + "/_class/")
    log_in(page, room.teacher_token)
    first = page.locator("#rows tr").first
    expect(first.locator("td.last_error")).to_have_text(PWNED)
    expect(first.locator("th.student")).to_have_text(PWNED)
    expect(first.locator("td.last_seen")).to_have_text("12 s ago")
    expect(first.locator("td.checks")).to_have_text("?")
    expect(first.locator("td.rate_limited")).to_have_class(re.compile(r"\bhot\b"))
    expect(first.locator(".badge")).to_have_class(re.compile(r"\bNONE\b"))  # colour of none
    expect(page.locator("#class-scenarios")).to_contain_text(PWNED)
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__pwned") is None


# --- the notebook widget's view (dashboard.js), on a model the test plays ---------------------

FAKE_MODEL = """async ([source, state]) => {
  window.__sent = [];
  const listeners = {};
  window.__model = {
    state,
    get(name) { return name === 'state' ? this.state : undefined; },
    on(event, callback) { listeners[event] = callback; },
    off(event) { delete listeners[event]; },
    send(content) { window.__sent.push(content); },
  };
  window.__publish = (next) => { window.__model.state = next; listeners['change:state'](); };
  const module = await import('data:text/javascript;base64,' + source);
  const host = document.createElement('div');
  document.body.append(host);
  window.__cleanup = module.default.render({ model: window.__model, el: host });
}"""


def widget_state(room: Classroom, **extra: Any) -> dict[str, Any]:
    """The state webull_nb.ui.dashboard publishes, from the real server's status."""
    from webull_nb.ui.dashboard import SCENARIOS, clean_status

    return {
        "url": room.url,
        **clean_status(room.status()),
        "error": "",
        "notice": "",
        "refused": False,
        "polling": True,
        "alive_every_s": 15.0,
        "scenario_names": list(SCENARIOS),
        **extra,
    }


def test_the_widgets_view_draws_the_rows_and_sends_messages(browser, room, request) -> None:
    page = open_page(browser, room, request)
    page.set_content("<style>" + (STATIC / "dashboard.css").read_text() + "</style><body></body>")
    call(room, "s01", "POST", CREATE, {})
    source = base64.b64encode((STATIC / "dashboard.js").read_bytes()).decode()
    page.evaluate(FAKE_MODEL, [source, widget_state(room)])
    widget = page.locator(".wnb-dashboard")
    expect(widget.locator("tr[data-student]")).to_have_count(3)
    expect(widget.locator('tr[data-student="s01"] .wnb-dash-badge')).to_have_text("PENDING")
    expect(widget.locator(".wnb-dash-summary")).to_contain_text("3 students: 2 NONE, 1 PENDING")
    sent = page.evaluate("window.__sent")
    assert sent[0]["action"] == "hello" and sent[0]["view"]

    call(room, "s03", "GET", ACCOUNTS, secret="not-the-secret")
    page.evaluate("(s) => window.__publish(s)", widget_state(room))
    s03 = widget.locator('tr[data-student="s03"]')
    expect(s03.locator(".wnb-dash-col-signature_errors")).to_have_text("1")
    expect(s03.locator(".wnb-dash-col-last_error")).to_have_text(re.compile("^wrong secret"))

    s03.get_by_role("button", name="Start a scenario for s03").click()
    widget.get_by_label("minutes").fill("-3")
    widget.get_by_role("button", name="Clock offset").click()
    last = page.evaluate("window.__sent.at(-1)")
    assert {k: v for k, v in last.items() if k != "view"} == {
        "action": "scenario",
        "scenario": "clock_offset",
        "student": "s03",
        "off": False,
        "params": {"minutes": -3},
    }

    # After a 401 the view asks for the token; it goes to the kernel and leaves the page.
    page.evaluate(
        "(s) => window.__publish(s)",
        widget_state(room, error="The class server refused the teacher token.", refused=True),
    )
    expect(widget.get_by_role("alert")).to_contain_text("refused the teacher token")
    widget.get_by_label("Teacher token", exact=True).fill(room.teacher_token)
    widget.get_by_role("button", name="Use this token").click()
    assert page.evaluate("window.__sent.at(-1).action") == "token"
    expect(widget.get_by_label("Teacher token", exact=True)).to_have_value("")
    assert room.teacher_token not in json.dumps(page.evaluate("window.__model.state"))
    screenshot(page, "classroom-widget.png")

    page.evaluate("window.__cleanup()")
    assert page.evaluate("window.__sent.at(-1).action") == "bye"
