"""The panel without a browser: its state per token status, its actions, threads, no secrets.

The browser side (webull_nb/ui/static/panel.js) is driven in tests/browser/; here the kernel side
is driven the way the view drives it, through custom messages.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from ipywidgets.widgets import widget as ipywidget

import webull_nb
from webull_nb.core import messages
from webull_nb.core.timefmt import countdown
from webull_nb.errors import StoreError
from webull_nb.session import Session
from webull_nb.simulator import Simulator
from webull_nb.simulator.phone import SimulatedPhone
from webull_nb.ui.panel import NEW_CODE_QUIET, STATIC, TokenPanel
from webull_nb.ui.view import render_html, view_state

SECRET = "s3cret-value-that-must-never-leak"


@pytest.fixture
def sim(clock):
    with Simulator(app_secret=SECRET, clock=clock) as simulator:
        yield simulator


def click(panel: TokenPanel, action: str, **content: str) -> None:
    """Send what the view sends when a button is clicked."""
    panel._on_message(panel, {"action": action, **content}, [])


@pytest.fixture
def make_panel(sim, clock):
    made: list[TokenPanel] = []

    def make(session: Session | None = None, **kw) -> TokenPanel:
        if session is None:
            session = Session(
                sim.app_key, SECRET, endpoint=sim.url, clock=clock, poll_interval=1e6, **kw
            )
        panel = webull_nb.panel(session)
        panel.background = False
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.close()
        panel.session.close()


def saved(panel: TokenPanel) -> str:
    """Everything the panel's models would put in a notebook's saved widget state."""
    return json.dumps([panel.get_state(), panel.layout.get_state()], default=str)


def test_panel_is_a_function_and_importing_the_package_loads_no_widgets() -> None:
    import webull_nb.ui.panel as module

    assert webull_nb.panel is module.panel
    code = (
        "import sys, webull_nb; "
        "assert not {'ipywidgets', 'anywidget'} & set(sys.modules), 'widgets loaded at import'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_view_model_works_without_widgets() -> None:
    code = (
        "import sys\n"
        "from webull_nb.session import Session\n"
        "from webull_nb.ui.view import render_html, view_state\n"
        "session = Session(credentials_later=True)\n"
        "assert view_state(session)['badge_text'] == 'NO TOKEN'\n"
        "assert 'WEBULL_APP_KEY' in render_html(session)\n"
        "session.close()\n"
        "assert not {'ipywidgets', 'anywidget'} & set(sys.modules), 'widgets loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_browser_counts_down_as_the_kernel_does() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node to run the panel's JavaScript")
    source = (STATIC / "panel.js").read_text()
    start = source.index("function mmss(")
    mmss = source[start : source.index("\n}\n", start) + 3]
    seconds = [-5, 0, 0.0004, 0.001, 0.4, 1, 1.0001, 59.2, 59.999, 60, 61.5, 299.9, 300, 3599.5]
    script = f"{mmss}\nconsole.log(JSON.stringify({json.dumps(seconds)}.map(s => mmss(s * 1000))));"
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [countdown(s) for s in seconds]


def test_one_anywidget_of_at_most_three_models_with_its_front_end_shipped(sim) -> None:
    import anywidget

    before = set(ipywidget._instances)
    panel = webull_nb.panel(simulator=sim)
    models = set(ipywidget._instances) - before
    assert isinstance(panel, anywidget.AnyWidget) and panel.phone["sms"] == ""
    assert len(models) <= 3, len(models)
    assert "export default" in panel._esm and ".wnb-badge" in panel._css
    assert (STATIC / "panel.js").is_file() and (STATIC / "panel.css").is_file()
    panel.close()
    panel.session.close()
    assert not models & set(ipywidget._instances), "close() left models open"


def test_credentials_message_hands_the_secret_to_the_session_only(sim, clock) -> None:
    panel = webull_nb.panel(endpoint=sim.url, clock=clock)
    panel.background = False
    assert webull_nb.current() is panel.session
    assert not panel.state["has_credentials"] and "WEBULL_APP_KEY" in panel.state["guidance"]
    assert panel.state["choices"]["region"][0] == "us"
    click(panel, "credentials", app_key=sim.app_key, app_secret=SECRET, region="hk", api="v2")
    assert panel.session.has_credentials and panel.session.region == "hk"
    assert panel.state["has_credentials"] and panel.state["region"] == "hk"
    click(panel, "create")
    assert panel.state["status"] == "PENDING"
    token = sim.sms_inbox()[-1]["token"]
    state = saved(panel)
    assert SECRET not in state and token not in state and sim.app_key not in state
    assert not {"app_secret", "app_key"} & set(panel.trait_names())
    panel.close()
    panel.session.close()


def test_bad_credentials_are_reported_in_the_panel(sim, clock) -> None:
    panel = webull_nb.panel(endpoint=sim.url, clock=clock)
    panel.background = False
    click(panel, "credentials", app_key=sim.app_key, app_secret="")
    assert "both the app key and the app secret are needed" in panel.state["error"]
    panel.close()
    panel.session.close()
    panel = webull_nb.panel()  # no explicit endpoint: the region's published hosts
    panel.background = False
    click(
        panel, "credentials", app_key=sim.app_key, app_secret=SECRET, region="au", environment="uat"
    )
    assert "publishes no uat API host for region 'au'" in panel.state["error"]
    assert not panel.state["has_credentials"] and SECRET not in saved(panel)
    panel.close()
    panel.session.close()


def test_no_token_state(make_panel) -> None:
    state = make_panel().state
    assert (state["status"], state["badge"], state["badge_text"]) == ("NONE", "NONE", "NO TOKEN")
    assert state["deadline_ms"] is None and "Create token" in state["guidance"]
    # The panel's words for a status are core.messages', not its own.
    assert messages.html(messages.advice("NONE", messages.PANEL)) in state["guidance"]


def test_pending_state_carries_the_deadline_and_the_kernels_clock(make_panel, clock) -> None:
    panel = make_panel(region="uk")
    click(panel, "create")
    state = panel.state
    assert state["status"] == "PENDING" and state["badge_text"].startswith("PENDING")
    assert state["deadline_ms"] == panel.session.deadline.timestamp() * 1000
    assert state["deadline_ms"] - state["clock_ms"] == pytest.approx(300_000, abs=1_000)
    guidance = state["guidance"]
    assert "Menu → Messages → OpenAPI Notifications" in guidance and "Check Now" in guidance
    assert "Send a new code" in guidance
    assert all(messages.html(step) in guidance for step in messages.PHONE_STEPS)
    assert "https://developer.webull-uk.com/apis/docs/authentication/token" in guidance


def test_pending_sends_nothing_while_the_poller_checks_and_runs_no_ticker(sim, clock) -> None:
    session = Session(sim.app_key, SECRET, endpoint=sim.url, clock=clock)  # a real poller
    panel = webull_nb.panel(session)
    panel.background = False
    click(panel, "create")
    sent, checked = [], threading.Semaphore(0)
    panel.observe(lambda change: sent.append(change["name"]), names=["state", "phone"])
    session.observe(lambda change: checked.release(), names=["checks_made"])
    for _ in range(4):
        clock.advance(20)
        session.check_soon()
        assert checked.acquire(timeout=10), "the poller did not check"
    assert session.status == "PENDING" and sent == []
    assert not [t for t in threading.enumerate() if "ticker" in t.name]
    panel.close()
    session.close()


def test_one_create_click_publishes_few_states(make_panel) -> None:
    panel = make_panel()
    statuses = []
    panel.observe(lambda change: statuses.append(change["new"]["status"]), names=["state"])
    click(panel, "create")
    assert statuses[-1] == "PENDING" and len(statuses) <= 3, statuses


def test_hello_republishes_a_fresh_clock(make_panel, clock) -> None:
    panel = make_panel()
    first = panel.state["clock_ms"]
    clock.advance(120)
    click(panel, "hello")
    assert panel.state["clock_ms"] - first == pytest.approx(120_000, abs=1_000)


def test_normal_state_shows_the_masked_token_and_its_idle_clock(
    make_panel, sim, clock, approve_latest
) -> None:
    panel = make_panel()
    click(panel, "create")
    token = sim.sms_inbox()[-1]["token"]
    approve_latest(sim)
    panel.session.check_token()
    state = panel.state
    assert state["status"] == "NORMAL" and state["deadline_ms"] is None
    assert state["token_hint"] == panel.session.token_hint and token not in saved(panel)
    until = panel.session.valid_until()
    assert state["valid_until_ms"] == until.timestamp() * 1000
    assert state["idle_warning_ms"] == timedelta(days=2).total_seconds() * 1000
    assert f"<code>{state['token_hint']}</code>" in state["token_info"]
    assert "valid until about" in state["token_info"] and token not in state["token_info"]
    # The browser puts the hours left in place of {left} as they pass.
    assert state["idle_warning"].startswith("{left} left on the 15-day idle clock")
    assert "Under 2 days left" not in render_html(panel.session)
    clock.advance(13.5 * 86400)
    assert "Under 2 days left on the 15-day idle clock" in render_html(panel.session)


def test_expired_and_invalid_states(make_panel, sim, clock, approve_latest) -> None:
    panel = make_panel()
    click(panel, "create")
    clock.advance(301)
    panel.session.check_token()
    guidance = panel.state["guidance"]
    assert panel.state["badge"] == "EXPIRED" and "within its 5-minute window" in guidance
    click(panel, "create")
    approve_latest(sim)
    panel.session.check_token()
    clock.advance(15 * 86400 + 1)
    click(panel, "check")  # NORMAL: the button checks at once
    assert panel.state["badge_text"].startswith("INVALID")
    assert "unused for 15 days" in panel.state["guidance"]


class Monotonic:
    """A fake monotonic clock for the panel's own timing (the 'new code' quiet time)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_send_a_new_code_replaces_the_pending_token(make_panel, sim) -> None:
    panel = make_panel()
    panel._monotonic = mono = Monotonic()
    click(panel, "create")
    first = sim.sms_inbox()[-1]["token"]
    mono.now += NEW_CODE_QUIET
    click(panel, "new_code")
    assert panel.state["status"] == "PENDING" and sim.sms_inbox()[-1]["token"] != first


def join_actions() -> None:
    for worker in threading.enumerate():
        if worker.name == "webull-nb-panel-action":
            worker.join(10)


def test_two_new_code_messages_100_ms_apart_send_one_sms(sim, clock) -> None:
    session = Session(sim.app_key, SECRET, endpoint=sim.url, clock=clock)
    panel = webull_nb.panel(session)
    panel._monotonic = mono = Monotonic()
    try:  # as in a notebook: each click runs in a worker thread
        click(panel, "create")
        join_actions()
        assert session.status == "PENDING" and len(sim.sms_inbox()) == 1
        mono.now += 60
        click(panel, "new_code")
        time.sleep(0.1)  # the double click this guards against, 100 ms apart
        click(panel, "new_code")
        join_actions()
        assert len(sim.sms_inbox()) == 2, "a double click sent two new codes"
        assert "a new code was just sent" in panel.state["error"].lower()
        assert session.status == "PENDING"
    finally:
        panel.close()
        session.close()


def test_a_new_code_is_sent_again_only_after_the_quiet_time(make_panel, sim) -> None:
    panel = make_panel()
    panel._monotonic = mono = Monotonic()
    click(panel, "create")
    click(panel, "new_code")  # a double click on Create lands on "Send a new code"
    assert len(sim.sms_inbox()) == 1
    assert "a new code was just sent" in panel.state["error"].lower()
    mono.now += NEW_CODE_QUIET
    click(panel, "new_code")
    assert len(sim.sms_inbox()) == 2
    for _ in range(1000):  # an impatient burst
        click(panel, "new_code")
    mono.now += NEW_CODE_QUIET - 0.5
    click(panel, "new_code")
    assert len(sim.sms_inbox()) == 2
    mono.now += 0.5
    click(panel, "new_code")
    assert len(sim.sms_inbox()) == 3 and panel.state["status"] == "PENDING"
    assert panel.state["error"] == ""


@pytest.mark.parametrize(
    "content",
    [
        ["create"],
        "create",
        None,
        {},
        {"action": ["create"]},
        {"action": {"create": 1}},
        {"action": None},
        {"action": 7},
        {"action": "launch"},
        {"action": "sms", "code": 123456},
        {"action": "sms", "code": None},
        {"action": "credentials", "app_key": "k", "app_secret": "s", "region": ["us"]},
    ],
)
def test_messages_of_unknown_shape_are_ignored_with_a_message(make_panel, sim, content) -> None:
    panel = make_panel()
    panel._on_message(panel, content, [])  # never raises: ipywidgets would show a traceback
    state = panel.state
    assert state["status"] == "NONE" and not sim.sms_inbox()
    assert "ignored a message" in state["error"], state["error"]
    assert "Traceback" not in state["error"]


@pytest.mark.parametrize(
    ("key", "secret"),
    [(None, SECRET), ("KEY", None), ("KEY", 12345), (["KEY"], SECRET), ("KEY", {"s": 1})],
)
def test_credentials_that_are_not_text_are_refused(sim, clock, key, secret) -> None:
    panel = webull_nb.panel(endpoint=sim.url, clock=clock)
    panel.background = False
    try:
        panel._on_message(
            panel, {"action": "credentials", "app_key": key, "app_secret": secret}, []
        )
        assert not panel.session.has_credentials and not panel.state["has_credentials"]
        error = panel.state["error"]
        assert "app key and the app secret must both be text" in error, error
        assert "None" not in error and "12345" not in error
    finally:
        panel.close()
        panel.session.close()


def test_a_store_error_from_create_is_a_message_in_the_panel(make_panel, monkeypatch) -> None:
    panel = make_panel()

    def refuse(force: bool = False) -> str:
        raise StoreError("cannot write the token directory /somewhere: Permission denied")

    monkeypatch.setattr(panel.session, "create_token", refuse)
    click(panel, "create")
    error = panel.state["error"]
    assert "cannot write the token directory /somewhere" in error and "Traceback" not in error


def test_error_badge_and_message_without_traceback(sim, clock, make_panel) -> None:
    session = Session(sim.app_key, "wrong-secret", endpoint=sim.url, clock=clock)
    panel = make_panel(session)
    click(panel, "create")
    assert panel.state["badge"] == "ERROR" and "signature did not match" in panel.state["error"]
    assert "Traceback" not in panel.state["error"] and "wrong-secret" not in saved(panel)


def test_unexpected_exception_becomes_a_message(make_panel, monkeypatch) -> None:
    panel = make_panel()
    monkeypatch.setattr(panel.session, "create_token", lambda force=False: 1 / 0)
    click(panel, "create")
    assert "Create token failed: division by zero" in panel.state["error"]


def test_rate_limited_check_publishes_when_the_next_check_is_allowed(
    make_panel, sim, approve_latest
) -> None:
    panel = make_panel()
    click(panel, "create")
    approve_latest(sim)
    panel.session.check_token()
    for _ in range(9):
        click(panel, "check")
    wait = panel.state["next_check_ms"] - panel.state["clock_ms"]
    assert 25_000 <= wait <= 32_000, wait


@pytest.mark.slow
def test_check_while_pending_asks_the_poller_and_never_exceeds_the_limit(make_panel, sim) -> None:
    panel = make_panel()  # its poller never checks by itself: only the clicks ask
    session = panel.session
    click(panel, "create")
    checked = threading.Event()
    session.observe(lambda change: checked.set(), names=["checks_made"])
    for _ in range(12):
        checked.clear()
        click(panel, "check")  # each click: "check as soon as the limit allows"
        checked.wait(1.5)  # the 11th and 12th wait for the shared budget instead
    answers = [status for *_, path, status in sim.requests_seen if path.endswith("check")]
    assert len(answers) == 10 and 429 not in answers
    assert panel.state["error"] == ""


def test_uat_guidance(clock) -> None:
    with Simulator(environment="uat", clock=clock) as sim:
        session = Session(
            sim.app_key, sim.app_secret, endpoint=sim.url, environment="uat", clock=clock
        )
        panel = webull_nb.panel(session)
        panel.background = False
        assert "need no verification" in panel.state["guidance"]
        click(panel, "create")
        assert panel.state["status"] == "NORMAL"
        panel.close()
        session.close()


def test_a_change_during_a_publish_is_published_by_the_running_publisher(make_panel) -> None:
    # Observers fire on any thread: none of them waits for another, and the last publish
    # reflects the session's latest state.
    panel = make_panel()
    entered, release = threading.Event(), threading.Event()
    real = panel._publish

    def slow(clock: bool, phone: bool) -> None:
        entered.set()
        release.wait(10)
        real(clock, phone)

    panel._publish = slow
    first = threading.Thread(target=panel.refresh)
    first.start()
    assert entered.wait(5)
    second = threading.Thread(target=lambda: panel.session.note_error("changed meanwhile"))
    second.start()
    second.join(5)
    waited = second.is_alive()
    release.set()
    first.join(5)
    assert not waited and panel.state["error"] == "changed meanwhile"


def test_close_never_waits_for_the_publishers_lock(make_panel) -> None:
    # ipywidgets closes a collected widget from __del__, on whatever thread collects it.
    panel = make_panel()
    with panel._flag:
        closer = threading.Thread(target=panel.close)
        closer.start()
        closer.join(5)
        assert not closer.is_alive()
    panel.session.note_error("after close")
    assert panel.state["error"] == ""


def test_views_stay_in_sync_and_closing_one_leaves_the_session(
    make_panel, sim, approve_latest
) -> None:
    first = make_panel()
    second = webull_nb.panel(first.session)
    click(first, "create")
    assert second.state["status"] == "PENDING" and second.state == first.state
    second.close()
    assert second.comm is None and first.session.status == "PENDING"
    assert first.session.account.poller.alive
    approve_latest(sim)
    first.session.check_token()
    third = webull_nb.panel(first.session)
    assert third.state["status"] == "NORMAL"
    third.close()


def test_text_and_html_representations(make_panel) -> None:
    panel = make_panel()
    click(panel, "create")
    data, _ = panel._repr_mimebundle_()
    assert data["text/plain"].startswith("Webull token: PENDING | 5:00 left")
    assert "PENDING: approve it in the Webull App" in data["text/html"]
    assert "5:00 left to approve the token" in data["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in data
    assert repr(panel).startswith("<TokenPanel Webull token: PENDING")


def test_simulated_phone_in_the_panel_takes_the_code(sim, clock) -> None:
    panel = webull_nb.panel(simulator=sim, clock=clock, poll_interval=1e6)
    panel.background = False
    assert panel.phone == {"sms": "", "result": "", "problem": ""}
    click(panel, "sms", code="123456")
    assert "click Create token first" in panel.phone["result"]
    click(panel, "create")
    sms = sim.sms_inbox()[-1]
    assert panel.phone["sms"] == sms["code"] and sms["token"] not in json.dumps(panel.phone)
    click(panel, "sms", code="000000" if sms["code"] != "000000" else "111111")
    assert "not right" in panel.phone["result"]
    click(panel, "sms", code=sms["code"][:5])
    assert "six digits" in panel.phone["result"]
    click(panel, "sms", code=sms["code"])
    assert "Approved" in panel.phone["result"] and panel.phone["sms"] == ""
    assert "turns NORMAL at its next check" in panel.phone["result"]
    panel.session.check_token()
    assert panel.state["status"] == "NORMAL" and "Approved" in panel.phone["result"]
    # Once NORMAL, the phone no longer promises what has happened (the README's screenshot).
    assert "next check" not in panel.phone["result"]
    assert "the token is NORMAL" in panel.phone["result"]
    click(panel, "create")  # NORMAL: the same token, no new SMS
    click(panel, "forget")
    click(panel, "create")
    assert panel.phone["result"] == "" and panel.phone["sms"] == sim.sms_inbox()[-1]["code"]
    panel.close()
    panel.session.close()


def test_phone_over_the_control_plane(sim) -> None:
    session = Session(sim.app_key, SECRET, endpoint=sim.url, clock=sim.clock, poll_interval=1e6)
    phone = SimulatedPhone(sim.url, session=session)
    session.create_token()
    code = sim.sms_inbox()[-1]["code"]
    assert phone.refresh()["sms"] == code
    assert "six digits" in phone.submit(code[:3])["result"]
    assert "Approved" in phone.submit(code)["result"]
    assert session.check_token() == "NORMAL"
    session.close()
    assert "Cannot reach" in SimulatedPhone("http://127.0.0.1:9").refresh()["problem"]


def test_magic_shows_a_panel_with_a_phone(clock) -> None:
    from webull_nb.ui.magics import webull_magic

    panel = webull_magic("--env uat --region hk --simulator")
    assert isinstance(panel, TokenPanel)
    assert (panel.session.environment, panel.session.region) == ("uat", "hk")
    assert panel.simulated_phone is not None and panel.phone["sms"] == ""
    panel.close()
    panel.session.close()
    panel.simulated_phone.simulator.stop()


def test_two_create_clicks_in_a_row_send_one_sms(sim, clock) -> None:
    session = Session(sim.app_key, SECRET, endpoint=sim.url, clock=clock)
    panel = webull_nb.panel(session)
    panel.background = True  # as in a notebook: each click runs in a worker thread
    try:
        click(panel, "create")
        click(panel, "create")
        for worker in threading.enumerate():
            if worker.name == "webull-nb-panel-action":
                worker.join(10)
        assert session.status == "PENDING"
        creates = [p for _, _, p, status in sim.requests_seen if p.endswith("/create")]
        assert len(creates) == 1 and len(sim.sms_inbox()) == 1
    finally:
        panel.close()
        session.close()


def test_the_header_says_simulator_when_the_endpoint_is_local(make_panel, sim, clock) -> None:
    panel = make_panel()  # the simulator on 127.0.0.1
    assert panel.state["where"] == "simulator · API v2"
    assert "(simulator · API v2)" in render_html(panel.session)
    assert "prod" not in render_html(panel.session).split("</small>")[0]
    nowhere = Session(credentials_later=True, region="hk", clock=clock)
    assert view_state(nowhere)["where"] == "prod · hk · API v2"
    phone = webull_nb.panel(simulator=sim.url, clock=clock, poll_interval=1e6)
    assert phone.state["where"] == "simulator · API v2"
    phone.close()
    phone.session.close()


FALLBACK_CELLS = [
    """
import os, webull_nb
from webull_nb.simulator import Simulator
SECRET = os.environ["FALLBACK_TEST_SECRET"]
sim = Simulator(app_secret=SECRET).start()
p = webull_nb.panel(endpoint=sim.url, token_dir=os.environ["FALLBACK_TEST_TOKENS"])
p.background = False
p
""",
    """
# the credentials form, then Create token, then the code entered on the phone
p._on_message(p, {"action": "credentials", "app_key": sim.app_key, "app_secret": SECRET}, [])
p._on_message(p, {"action": "create"}, [])
sms = sim.sms_inbox()[-1]
sim.verify(sms["token"], sms["code"])
print("final", p.session.check_token())
""",
]


@pytest.mark.kernel
def test_an_executed_notebook_saves_the_panels_final_state_as_its_html_fallback(
    tmp_path, monkeypatch
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    tokens = tmp_path / "tokens"
    monkeypatch.setenv("FALLBACK_TEST_SECRET", SECRET)
    monkeypatch.setenv("FALLBACK_TEST_TOKENS", str(tokens))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in FALLBACK_CELLS])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    saved = tmp_path / "saved.ipynb"
    nbformat.write(nb, saved)
    [shown] = nb.cells[0].outputs
    html, plain = shown["data"]["text/html"], shown["data"]["text/plain"]
    assert "final NORMAL" in nb.cells[1].outputs[0]["text"]
    assert "NORMAL: ready" in html and "NO TOKEN" not in html and "Create token" not in html
    assert plain.startswith("Webull token: NORMAL")
    assert "application/vnd.jupyter.widget-view+json" in shown["data"]
    token = (tokens / "token.txt").read_text().splitlines()[0]
    text = saved.read_text()
    assert token not in text
    assert SECRET not in text
