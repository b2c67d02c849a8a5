"""Shared fixtures: conformance vectors, an isolated token directory, simulators on a fake or
the real clock, a Session on the fake one, and the phone that approves the newest SMS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def signing_vectors() -> list[dict]:
    """The 40 cases computed by Webull's official signers."""
    return json.loads((DATA / "signing-vectors.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep every test away from the user's real credentials and token store."""
    for name in (
        "WEBULL_APP_KEY",
        "WEBULL_APP_SECRET",
        "WEBULL_REGION",
        "WEBULL_ENVIRONMENT",
        "WEBULL_OPENAPI_TOKEN_DIR",
        "WEBULL_NB_STORE",  # a developer's own Redis store must not become the suite's
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))


@pytest.fixture(autouse=True)
def _fresh_rate_limiters() -> None:
    """Rate limiters are process-wide per app key; give every test its own."""
    from webull_nb.http.ratelimit import forget_limiters

    forget_limiters()


@pytest.fixture
def clock():
    """A fake wall clock shared by the simulator and the client."""
    from webull_nb.simulator import ManualClock

    return ManualClock(1_790_000_000.0)


@pytest.fixture
def sim(clock):
    """A running simulator on a fake clock."""
    from webull_nb.simulator import Simulator

    with Simulator(clock=clock) as simulator:
        yield simulator


@pytest.fixture
def live_sim():
    """A running simulator on the real clock: for other processes, the shared rate ledger (kept
    in wall time) and the official SDK (which signs with the real time)."""
    from webull_nb.simulator import Simulator

    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def session(sim, tmp_path: Path):
    """A Session on the ``sim`` simulator and its fake clock, with a token directory of its own."""
    from webull_nb.session import Session

    made = Session(
        sim.app_key,
        sim.app_secret,
        endpoint=sim.url,
        token_dir=tmp_path / "tokens",
        clock=sim.clock,
    )
    yield made
    made.close()


@pytest.fixture
def normal_session(session, sim, approve_latest):
    """The ``session`` fixture with a NORMAL token (created, then approved on the phone)."""
    session.create_token()
    approve_latest(sim)
    assert session.check_token() == "NORMAL"
    return session


@pytest.fixture
def approve_latest():
    """``approve_latest(sim or url)``: enter the newest SMS code, as the user would on the phone."""
    from helpers import approve_latest

    return approve_latest


@pytest.fixture
def simulator_process():
    """``python -m webull_nb.simulator`` in a process of its own: (url, key, secret)."""
    from helpers import start_simulator

    proc, url, key, secret = start_simulator()
    try:
        yield url, key, secret
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        proc.stdout.close()


@pytest.fixture
def redis_server():
    """A real ``redis-server`` of this test's own (tests/redis_server.py); skips without one,
    except under ``WEBULL_NB_REQUIRE_REDIS=1``."""
    from redis_server import RedisServer

    with RedisServer() as server:
        yield server
    _forget_redis_clients()


@pytest.fixture
def redis_url(redis_server) -> str:
    """The URL of this test's ``redis_server``."""
    return redis_server.url


@pytest.fixture
def redis_server_with_password():
    """A ``redis-server`` that requires a password (``.password``; ``.url`` carries it)."""
    from redis_server import RedisServer

    with RedisServer(password="right-horse-battery") as server:
        yield server
    _forget_redis_clients()


@pytest.fixture
def redis_server_with_acl():
    """A ``redis-server`` whose user ``alice`` (in ``.url``) may not run Lua scripts."""
    from redis_server import RedisServer

    with RedisServer(acl_user=("alice", "alices-pass", "+@all -eval -evalsha")) as server:
        yield server
    _forget_redis_clients()


def _forget_redis_clients() -> None:
    """Drop the cached clients of a server that is gone, so the next test dials afresh."""
    from webull_nb.shared.redisstore.connect import forget_clients

    forget_clients()
