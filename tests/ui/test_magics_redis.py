"""``%webull --store URL``: the magic's panel keeps its token in the Redis store it names."""

from __future__ import annotations

import pytest
from helpers import normal_on_another_host

from webull_nb.ui.magics import webull_magic
from webull_nb.ui.panel import TokenPanel

PASSWORD = "hunter2-the-password"


@pytest.fixture
def shown():
    """Panels made by a test, closed with their sessions (and simulators) after it."""
    made: list[TokenPanel] = []
    yield made
    for panel in made:
        panel.close()
        panel.session.close()
        if panel.simulated_phone is not None and not isinstance(
            panel.simulated_phone.simulator, str
        ):
            panel.simulated_phone.simulator.stop()


def test_magic_passes_the_store_to_the_panel(
    live_sim, redis_server, shown, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("WEBULL_APP_KEY", live_sim.app_key)
    monkeypatch.setenv("WEBULL_APP_SECRET", live_sim.app_secret)
    with normal_on_another_host(live_sim, redis_server.url, tmp_path / "another-host"):
        panel = webull_magic(f"--endpoint {live_sim.url} --store {redis_server.url}")
        shown.append(panel)
        assert isinstance(panel, TokenPanel)
        assert panel.session.account.storage.where.startswith(
            f"redis://127.0.0.1:{redis_server.port}/"
        )
        assert panel.state["status"] == "NORMAL"  # found in Redis: the token dirs differ


def test_magic_with_a_simulator_and_a_store(redis_server, shown) -> None:
    panel = webull_magic(f"--simulator --store={redis_server.url}")
    shown.append(panel)
    assert panel.simulated_phone is not None
    assert panel.session.account.storage.where.startswith(f"redis://127.0.0.1:{redis_server.port}/")


def test_magic_with_an_unreachable_store_shows_a_panel_with_the_error(
    live_sim, shown, monkeypatch, capsys
) -> None:
    from redis_server import free_port

    monkeypatch.setenv("WEBULL_APP_KEY", live_sim.app_key)
    monkeypatch.setenv("WEBULL_APP_SECRET", live_sim.app_secret)
    port = free_port()
    panel = webull_magic(f"--endpoint {live_sim.url} --store redis://:{PASSWORD}@127.0.0.1:{port}")
    shown.append(panel)
    assert f"cannot reach Redis at redis://127.0.0.1:{port}/0" in panel.state["error"]
    out, err = capsys.readouterr()
    assert PASSWORD not in panel.state["error"] + out + err + repr(panel)


def test_magic_refuses_a_store_that_is_no_url_in_one_line_without_repeating_it(capsys) -> None:
    assert webull_magic(f"--store http://user:{PASSWORD}@host:6379") is None
    assert webull_magic(f"--store redis://:{PASSWORD}@[::1") is None  # urlsplit refuses it
    assert webull_magic("--store") is None
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 3 and err == ""
    for line in lines[:2]:
        assert line.startswith("%webull: argument --store: not a store: use a Redis URL")
    assert "expected one argument" in lines[2]
    assert all("[--store URL]" in line for line in lines)
    assert PASSWORD not in out
