"""The Redis store against a real ``redis-server``: one token, one SMS, one budget across hosts.

"Hosts" are processes with their own HOME and token directory that share only the Redis URL
(tests/account_worker.py). The server is started per test (tests/redis_server.py); without
``redis-server`` these tests skip, except under ``WEBULL_NB_REQUIRE_REDIS=1`` (CI).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from helpers import approve_latest
from test_account import Worker, most_in_any_window, server_calls, start_together

from webull_nb.core.errors import StoreUnavailableError, WebullError
from webull_nb.core.secrets import Secret
from webull_nb.session import Session
from webull_nb.shared.storage import StoredToken
from webull_nb.simulator import DEMO_APP_KEY, DEMO_APP_SECRET

ROOT = Path(__file__).resolve().parents[2]


SECRET = "s3cret"


def redis_storage(url: str, secret: str = SECRET, account: str = "test:us:0123456789abcdef"):
    """A RedisStorage of one made-up account."""
    from webull_nb.shared.redisstore.backend import RedisStorage

    return RedisStorage(url, account, "app-key-in-clear", Secret(secret))


def sim_session(sim, token_dir: Path | None = None, store: str | None = None) -> Session:
    """A Session of the simulator's demo account, on ``store`` (Redis) and ``token_dir``."""
    return Session(sim.app_key, sim.app_secret, endpoint=sim.url, token_dir=token_dir, store=store)


def hosts(sim, tmp_path: Path, url: str, count: int, action: str, *args: str, **env: str):
    """``count`` worker processes, each with its own HOME and token dir, sharing ``url``."""
    workers = []
    for n in range(count):
        home = tmp_path / f"host{n}-{action}"
        home.mkdir(parents=True)
        workers.append(
            Worker(
                sim.url,
                home / "tokens",
                action,
                *args,
                HOME=str(home),
                WORKER_STORE=url,
                **env,
            )
        )
    return workers


def until(condition, timeout: float) -> bool:
    """Whether ``condition()`` holds within ``timeout`` s (news arrives on other threads)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def every_value(server) -> str:
    """Every key and value in the server, as one text (what a dump would show)."""
    import redis

    client = redis.Redis.from_url(server.url, decode_responses=False)
    parts = []
    for key in client.scan_iter("*"):
        parts.append(repr(key))
        kind = client.type(key)
        if kind == b"hash":
            parts.append(repr(client.hgetall(key)))
        elif kind == b"zset":
            parts.append(repr(client.zrange(key, 0, -1, withscores=True)))
        elif kind == b"string":
            parts.append(repr(client.get(key)))
        parts.append(repr(client.dump(key)))
    client.close()
    return "\n".join(parts)


# --- the acceptance run: six hosts, one SMS ----------------------------------------------------


@pytest.mark.slow
def test_six_hosts_share_one_sms_one_budget_and_see_normal_together(
    live_sim, redis_server, tmp_path
) -> None:
    home = tmp_path / "env-host"
    home.mkdir()
    # One host names the store through the environment only, as a JupyterHub spawner would.
    env_host = Worker(
        live_sim.url,
        home / "tokens",
        "ensure",
        HOME=str(home),
        WEBULL_NB_STORE=redis_server.url,
        WORKER_GET="/openapi/account/list",
    )
    others = hosts(
        live_sim, tmp_path, redis_server.url, 5, "ensure", WORKER_GET="/openapi/account/list"
    )
    workers = [env_host, *others]
    try:
        start_together(workers)
        pending = [w.next("status", status="PENDING") for w in workers]
        assert len({event["token"] for event in pending}) == 1  # one token for all six
        time.sleep(35)  # the user takes their time: the token stays PENDING past 30 s
        sms = approve_latest(live_sim)
        approved = time.time()
        normal = [w.next("status", timeout=20, status="NORMAL") for w in workers]
        gets = [w.next("get", timeout=20) for w in workers]
    finally:
        for worker in workers:
            worker.finish()
    lags = [event["t"] - approved for event in normal]
    assert max(lags) < 5, lags
    assert {event["token"] for event in normal} == {pending[0]["token"]}
    assert [event["http"] for event in gets] == [200] * 6
    assert len(server_calls(live_sim, "token/create")) == 1  # one SMS
    checks = server_calls(live_sim, "token/check")
    assert [status for _, status in checks if status == 429] == []
    assert most_in_any_window([t for t, _ in checks]) <= 10

    # Three more hosts, four waiting checks each on the NORMAL token: all done, no 429.
    before = len(server_calls(live_sim, "token/check"))
    more = hosts(live_sim, tmp_path / "more", redis_server.url, 3, "waitchecks", "4")
    try:
        start_together(more)
        done = [[w.next("check", timeout=120) for _ in range(4)] for w in more]
    finally:
        for worker in more:
            worker.finish()
    assert all(event["status"] == "NORMAL" for row in done for event in row)
    after = server_calls(live_sim, "token/check")[before:]
    assert len(after) == 12
    assert [status for _, status in after if status == 429] == []

    # What a dump of Redis shows: no token, no app secret, no app key.
    dump = every_value(redis_server)
    for secret in (DEMO_APP_SECRET, DEMO_APP_KEY, sms["token"]):
        assert secret not in dump


@pytest.mark.slow
def test_redis_restarted_empty_while_pending_costs_no_second_sms(
    live_sim, redis_server, tmp_path
) -> None:
    workers = hosts(live_sim, tmp_path, redis_server.url, 3, "ensure")
    try:
        start_together(workers)
        for worker in workers:
            worker.next("status", status="PENDING")
        redis_server.restart()  # killed and back, empty: no record, no ledger, no lease
        time.sleep(2)  # hosts notice (their subscriptions drop) and write the token back
        approve_latest(live_sim)
        for worker in workers:
            worker.next("status", timeout=20, status="NORMAL")
    finally:
        for worker in workers:
            worker.finish()
    assert len(server_calls(live_sim, "token/create")) == 1
    assert [s for _, s in server_calls(live_sim, "token/check") if s == 429] == []


@pytest.mark.slow
def test_redis_paused_ten_seconds_hangs_nothing_and_sends_no_sms(
    live_sim, redis_server, tmp_path
) -> None:
    workers = hosts(live_sim, tmp_path, redis_server.url, 2, "ensure")
    here = sim_session(live_sim, tmp_path / "here", redis_server.url)
    try:
        start_together(workers)
        for worker in workers:
            worker.next("status", status="PENDING")
        assert until(lambda: here.status == "PENDING", 5)  # news by pub/sub, in ms
        redis_server.pause()
        started = time.monotonic()
        # A cell during the pause: a bounded wait, then a typed error (or an answer).
        with pytest.raises(WebullError):
            here.check_token(wait=True)
        assert time.monotonic() - started < 10
        assert here.status == "PENDING" and here.token_hint  # the token is not dropped
        time.sleep(max(0.0, 10 - (time.monotonic() - started)))
        redis_server.resume()
        approve_latest(live_sim)
        for worker in workers:
            worker.next("status", timeout=40, status="NORMAL")
        assert until(lambda: here.status == "NORMAL", 40)
    finally:
        redis_server.resume()
        here.close()
        for worker in workers:
            worker.finish()
    assert len(server_calls(live_sim, "token/create")) == 1
    assert [s for _, s in server_calls(live_sim, "token/check") if s == 429] == []


HOLDER = textwrap.dedent(
    """
    import sys, time
    from webull_nb.core.secrets import Secret
    from webull_nb.shared.redisstore.backend import RedisStorage
    storage = RedisStorage(sys.argv[1], "test:us:0123456789abcdef", "app-key", Secret("s"))
    if sys.argv[2] == "lock":
        storage.create_lock.hold(timeout=5).__enter__()
    else:
        assert storage.ledger.claim_lease("dead-poller", 9.0) == 0
    print("held", flush=True)
    time.sleep(120)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("what", ["lock", "lease"])
def test_a_host_killed_holding_the_create_lock_or_lease_frees_it_within_its_ttl(
    redis_server, what
) -> None:
    from webull_nb.shared.redisstore.locks import TTL

    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis_server.url, what],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        holder.kill()
        holder.wait()
        killed = time.monotonic()
        storage = redis_storage(redis_server.url, secret="s")
        if what == "lock":
            with storage.create_lock.hold(timeout=TTL + 5):
                taken = time.monotonic() - killed
            assert taken <= TTL + 0.5
        else:
            assert storage.ledger.claim_lease("me", 9.0) > 0  # still the dead one's
            while storage.ledger.claim_lease("me", 9.0) > 0:
                time.sleep(0.1)
            assert time.monotonic() - killed <= 9.5
    finally:
        holder.kill()


# --- faults at start --------------------------------------------------------------------------


def test_redis_down_at_start_is_a_typed_error_without_the_password(live_sim, tmp_path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends
    url = f"redis://:hunter2-the-password@127.0.0.1:{port}/0"
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as caught:
        sim_session(live_sim, store=url)
    assert time.monotonic() - started < 10
    assert isinstance(caught.value, WebullError)
    assert f"127.0.0.1:{port}" in str(caught.value)
    for text in (str(caught.value), repr(caught.value), repr(caught.value.args)):
        assert "hunter2" not in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_wrong_password_says_so(live_sim, redis_server_with_password) -> None:
    server = redis_server_with_password
    wrong = server.url.replace(server.password, "not-it")
    with pytest.raises(StoreUnavailableError, match="password") as caught:
        sim_session(live_sim, store=wrong)
    assert "not-it" not in str(caught.value)
    right = sim_session(live_sim, store=server.url)
    right.close()


def test_an_acl_that_denies_a_command_says_which(live_sim, redis_server_with_acl, tmp_path) -> None:
    session = None
    with pytest.raises(StoreUnavailableError, match="denies") as caught:
        session = sim_session(live_sim, tmp_path, redis_server_with_acl.url)
        session.create_token()
    if session is not None:
        session.close()
    assert "evalsha" in str(caught.value).lower() or "eval" in str(caught.value).lower()
    assert len(server_calls(live_sim, "token/create")) == 0  # no SMS for a token not kept


# --- what is stored, and how ------------------------------------------------------------------


def test_the_record_is_sealed_and_opens_only_with_the_app_secret(redis_server) -> None:
    storage = redis_storage(redis_server.url)
    token = "tok-" + "x" * 40
    assert storage.records.save(StoredToken(token, None, "NORMAL"))
    dump = every_value(redis_server)
    assert token not in dump and SECRET not in dump and "app-key-in-clear" not in dump
    assert storage.records.load().token == token
    other = redis_storage(redis_server.url, secret="another-secret")
    assert other.records.load() is None
    assert "does not open" in other.records.problem
    assert SECRET not in repr(storage.records) + repr(storage) + repr(storage.ledger)


def test_a_poller_that_lost_its_lease_cannot_write(redis_server) -> None:
    storage = redis_storage(redis_server.url)
    token = "tok-" + "p" * 40
    assert storage.records.save(StoredToken(token, None, "PENDING"))
    claimed, lapsed = threading.Event(), threading.Event()
    outcome: list[bool] = []

    def old_poller() -> None:
        assert storage.ledger.claim_lease("old", 0.2) == 0
        claimed.set()
        lapsed.wait(10)  # stopped (SIGSTOP, a long GC pause) while a newer poller took over
        outcome.append(storage.records.save(StoredToken(token, None, "EXPIRED"), news_only=True))

    thread = threading.Thread(target=old_poller)
    thread.start()
    claimed.wait(10)
    while storage.ledger.claim_lease("new", 5.0) > 0:
        time.sleep(0.05)
    lapsed.set()
    thread.join(10)
    assert outcome == [False]
    assert storage.records.load().status == "PENDING"
    # The new holder's own writes go through.
    assert storage.records.save(StoredToken(token, None, "NORMAL"), news_only=True)


def test_a_normal_token_in_the_token_dir_moves_into_an_empty_store(
    live_sim, redis_server, tmp_path
) -> None:
    local = sim_session(live_sim, tmp_path)
    local.create_token()
    approve_latest(live_sim)
    local.check_token()
    assert local.status == "NORMAL"
    local.close()
    creates = len(server_calls(live_sim, "token/create"))
    moved = sim_session(live_sim, tmp_path, redis_server.url)
    try:
        assert moved.status == "NORMAL"
        assert moved.ensure_token(timeout=5) == "NORMAL"
        assert len(server_calls(live_sim, "token/create")) == creates  # no SMS
        assert "webull-nb:{" in every_value(redis_server)
    finally:
        moved.close()


def test_a_store_that_lost_everything_gets_the_token_back(live_sim, redis_server, tmp_path):
    session = sim_session(live_sim, tmp_path, redis_server.url)
    try:
        session.create_token()
        approve_latest(live_sim)
        session.check_token()
        redis_server.command("FLUSHALL")
        storage = session.account.storage
        deadline = time.monotonic() + 10
        while storage.records.load() is None and time.monotonic() < deadline:
            storage.wake()
            time.sleep(0.05)
        assert storage.records.load().status == "NORMAL"
        assert session.status == "NORMAL"
    finally:
        session.close()
