"""The test harness's ``redis-server``: its own port and directory, nothing kept, and the
pause and restart the fault tests rely on."""

from __future__ import annotations

import pytest
import redis_server as harness


def test_the_server_answers_keeps_nothing_and_restarts_empty(redis_server) -> None:
    assert redis_server.command("PING") in (True, "PONG")
    assert redis_server.command("CONFIG", "GET", "save") == {"save": ""}
    assert redis_server.command("CONFIG", "GET", "appendonly") == {"appendonly": "no"}
    redis_server.command("SET", "k", "v")
    port = redis_server.port
    redis_server.restart()
    assert redis_server.port == port
    assert redis_server.command("GET", "k") is None


def test_a_paused_server_times_out_and_answers_after_resume(redis_server) -> None:
    import redis

    client = redis.Redis.from_url(redis_server.url, socket_timeout=0.3)
    try:
        redis_server.pause()
        with pytest.raises(redis.exceptions.TimeoutError):
            client.ping()
        redis_server.resume()
        client.connection_pool.disconnect()
        assert client.ping() is True
    finally:
        client.close()


def test_a_missing_server_skips_here_and_fails_under_ci(monkeypatch) -> None:
    monkeypatch.setattr(harness.shutil, "which", lambda name: None)
    monkeypatch.delenv(harness.REQUIRE, raising=False)
    with pytest.raises(pytest.skip.Exception):
        harness.redis_server_binary()
    monkeypatch.setenv(harness.REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match="WEBULL_NB_REQUIRE_REDIS"):
        harness.redis_server_binary()
