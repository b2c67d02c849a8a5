"""The panel on a Redis store: ``panel(store=...)`` shares the token, and a store it cannot
reach is a message in its error box (never a traceback, never the password)."""

from __future__ import annotations

import json
import socket
import time

import pytest
from helpers import approve_latest, normal_on_another_host

import webull_nb
from webull_nb.ui.panel import TokenPanel
from webull_nb.ui.view import render_html

PASSWORD = "hunter2-the-password"


def click(panel: TokenPanel, action: str, **content: str) -> None:
    """Send what the view sends when a button is clicked."""
    panel._on_message(panel, {"action": action, **content}, [])


def everything_shown(panel: TokenPanel) -> str:
    """What the panel syncs, saves and prints: its models' state, its HTML and its repr."""
    states = [panel.get_state(), panel.layout.get_state()]
    return json.dumps(states, default=str) + render_html(panel.session) + repr(panel)


def until(condition, timeout: float = 15.0) -> bool:
    """Whether ``condition()`` became true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)  # the account's poller and watcher are threads of their own
    return True


@pytest.fixture
def shown():
    """Panels made by a test, closed with their sessions after it."""
    made: list[TokenPanel] = []
    yield made
    for panel in made:
        panel.close()
        panel.session.close()


def closed_port() -> int:
    """A local TCP port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_panel_with_a_store_keeps_its_token_in_redis_and_reaches_normal(
    live_sim, redis_server, shown
) -> None:
    panel = webull_nb.panel(simulator=live_sim, store=redis_server.url)
    shown.append(panel)
    panel.background = False
    assert panel.session.account.storage.where.startswith(f"redis://127.0.0.1:{redis_server.port}")
    click(panel, "create")
    assert panel.state["status"] == "PENDING"
    sms = approve_latest(live_sim)
    click(panel, "check")
    assert until(lambda: panel.state["status"] == "NORMAL"), panel.state
    assert panel.state["error"] == ""
    # The token is in Redis (sealed), where every other host of the account finds it.
    keys = redis_server.command("KEYS", "webull-nb:*")
    assert any(key.endswith(":token") for key in keys), keys
    assert panel.session.store.load().token == sms["token"]


def test_the_panel_reads_credentials_from_the_environment_and_uses_the_store(
    live_sim, redis_server, shown, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("WEBULL_APP_KEY", live_sim.app_key)
    monkeypatch.setenv("WEBULL_APP_SECRET", live_sim.app_secret)
    with normal_on_another_host(live_sim, redis_server.url, tmp_path / "elsewhere"):
        # Another token dir: only the store can tell the panel about the token.
        panel = webull_nb.panel(endpoint=live_sim.url, store=redis_server.url)
        shown.append(panel)
        assert panel.state["status"] == "NORMAL" and panel.state["has_credentials"]


def test_an_unreachable_store_is_shown_in_the_error_box_without_its_password(
    live_sim, shown, monkeypatch
) -> None:
    monkeypatch.setenv("WEBULL_APP_KEY", live_sim.app_key)
    monkeypatch.setenv("WEBULL_APP_SECRET", live_sim.app_secret)
    port = closed_port()
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    started = time.monotonic()
    panel = webull_nb.panel(endpoint=live_sim.url, store=url)
    shown.append(panel)
    assert time.monotonic() - started < 10
    assert webull_nb.current() is panel.session
    error = panel.state["error"]
    assert f"127.0.0.1:{port}" in error and "run the cell again" in error, error
    assert panel.state["badge"] == "ERROR" and not panel.state["has_credentials"]
    assert "Traceback" not in error
    assert PASSWORD not in everything_shown(panel) + repr(panel.session)
    # The form tries the store again; while it still cannot, the box keeps saying why.
    panel.background = False
    click(panel, "credentials", app_key=live_sim.app_key, app_secret=live_sim.app_secret)
    assert "cannot reach Redis" in panel.state["error"] and not panel.state["has_credentials"]
    assert PASSWORD not in everything_shown(panel)


def test_a_simulator_panel_with_an_unreachable_store_is_still_drawn(live_sim, shown) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{closed_port()}/0"
    panel = webull_nb.panel(simulator=live_sim, store=url)
    shown.append(panel)
    assert "cannot reach Redis" in panel.state["error"] and panel.phone is not None
    assert PASSWORD not in everything_shown(panel)


def test_store_is_for_a_new_session_only(session) -> None:
    with pytest.raises(ValueError, match="new session"):
        webull_nb.panel(session, store="redis://127.0.0.1:6379/0")


@pytest.mark.slow
def test_a_paused_store_is_shown_within_seconds_and_the_form_retries_it(
    live_sim, redis_server_with_password, shown, monkeypatch
) -> None:
    server = redis_server_with_password
    monkeypatch.setenv("WEBULL_APP_KEY", live_sim.app_key)
    monkeypatch.setenv("WEBULL_APP_SECRET", live_sim.app_secret)
    server.pause()  # SIGSTOP: connections are accepted, nothing is answered
    try:
        started = time.monotonic()
        panel = webull_nb.panel(endpoint=live_sim.url, store=server.url)
        shown.append(panel)
        assert time.monotonic() - started < 10
    finally:
        server.resume()
    assert "did not answer" in panel.state["error"], panel.state["error"]
    assert server.password not in everything_shown(panel)
    panel.background = False
    click(panel, "credentials", app_key=live_sim.app_key, app_secret=live_sim.app_secret)
    assert panel.state["has_credentials"] and panel.state["error"] == "", panel.state
    assert panel.session.account.storage.where.startswith("redis://127.0.0.1")
