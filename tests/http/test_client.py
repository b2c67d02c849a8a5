"""The client against the simulator and a fault-injecting server: every path, every error kind."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timezone

import pytest
from helpers import Canned, FaultServer
from hypothesis import given
from hypothesis import strategies as st

from webull_nb.client import Client, RateLimiter, TokenStatus
from webull_nb.core.tokens import TokenInfo
from webull_nb.errors import (
    AuthenticationError,
    ClockSkewError,
    InvalidTokenError,
    ProtocolError,
    RateLimitError,
    RequestError,
    ServerError,
    TransportError,
    WebullError,
)
from webull_nb.simulator import ManualClock, Simulator

SECRET = "s3cret-value-that-must-never-leak"
TOKEN = "tok_ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"


def client_for(sim, clock=None, **kw) -> Client:
    return Client(
        sim.app_key,
        sim.app_secret,
        base_url=sim.url,
        clock=clock or sim.clock,
        sleep=kw.pop("sleep", lambda s: None),
        **kw,
    )


def fault_client(server: FaultServer, **kw) -> Client:
    kw.setdefault("sleep", lambda s: None)
    return Client("key", SECRET, base_url=server.url, **kw)


# --- happy paths against the simulator -----------------------------------------------------------


@pytest.mark.parametrize("api", ["v2", "v3"])
@pytest.mark.parametrize("algorithm", ["HMAC-SHA1", "HMAC-SHA256"])
def test_full_token_flow(sim, api, algorithm, approve_latest) -> None:
    client = client_for(sim, api=api, algorithm=algorithm)
    assert client.config() == {"token_check_enabled": True}
    created = client.create_token()
    assert created.status is TokenStatus.PENDING
    assert created.expires == datetime.fromtimestamp(
        int((sim.clock() + 300) * 1000) / 1000, tz=timezone.utc
    )
    assert client.check_token(created.token).status is TokenStatus.PENDING
    approve_latest(sim)
    assert client.check_token(created.token).status is TokenStatus.NORMAL
    again = client.create_token(created.token)
    assert (again.token, again.status) == (created.token, TokenStatus.NORMAL)
    accounts = client.request("GET", "/openapi/account/list", token=created.token)
    assert [a["account_id"] for a in accounts.json()] == ["SIM0000001", "SIM0000002"]


def test_request_signs_query_and_json_body(sim) -> None:
    client = client_for(sim)
    response = client.request(
        "POST",
        "/openapi/auth/token/check",
        params={"b": ["x y", "ü"], "a": 1},
        json={"token": "ünï"},
    )
    assert response.json()["status"] == "INVALID"


def test_wire_format_headers_and_body() -> None:
    reply = Canned(body={"token": TOKEN, "expires": 1, "status": "PENDING"})
    with FaultServer([reply]) as server:
        fault_client(server, api="v3").create_token("prévu")
        fault_client(server).request("GET", "/openapi/account/list", token=TOKEN)
    create, listing = server.received
    assert create["body"] == '{"token":"prévu"}'.encode()
    assert create["headers"]["content-type"] == "application/json"
    assert create["headers"]["x-version"] == "v3"
    assert create["path"] == "/auth/tokens/create"
    assert listing["headers"]["x-access-token"] == TOKEN
    # The path's own version (the endpoint catalog's), not the v2 token profile's.
    assert listing["headers"]["x-version"] == "v3"
    assert "content-type" not in listing["headers"]


# --- TokenInfo ------------------------------------------------------------------------------------


def test_token_info_parsing_and_masked_repr() -> None:
    info = TokenInfo.from_response({"token": TOKEN, "expires": 1_790_000_000_000, "status": 1})
    assert info.status is TokenStatus.NORMAL
    assert info.expires == datetime(2026, 9, 21, 14, 13, 20, tzinfo=timezone.utc)
    assert TOKEN not in repr(info) and "tok_…6789" in repr(info)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ([], "JSON object"),
        ({"expires": 1, "status": "NORMAL"}, "no token"),
        ({"token": "t", "expires": 1, "status": "WEIRD"}, "unknown status 'WEIRD'"),
        ({"token": "t", "expires": "soon", "status": "NORMAL"}, "unreadable expiry"),
    ],
)
def test_token_info_rejects_malformed_answers(payload, match) -> None:
    with pytest.raises(ProtocolError, match=match):
        TokenInfo.from_response(payload)


# --- error mapping --------------------------------------------------------------------------------


def test_wrong_app_key_says_check_environment(sim) -> None:
    client = Client("someone-else", sim.app_secret, base_url=sim.url, clock=sim.clock)
    with pytest.raises(AuthenticationError, match="test keys do not work in production") as info:
        client.config()
    assert info.value.error_code == "UNAUTHORIZED" and info.value.http_status == 401
    assert info.value.request_id


def test_wrong_secret_keeps_canonical_string_without_secret(sim) -> None:
    client = Client(sim.app_key, SECRET, base_url=sim.url, clock=sim.clock)
    with pytest.raises(AuthenticationError) as info:
        client.config()
    assert info.value.error_code == "INCORRECT_SIGN"
    assert client.last_canonical_string.startswith("/openapi/config&host=127.0.0.1:")
    assert SECRET not in client.last_canonical_string and SECRET not in str(info.value)


def test_invalid_token_is_its_own_type(sim) -> None:
    with pytest.raises(InvalidTokenError, match="approve it in the Webull App"):
        client_for(sim).request("GET", "/openapi/account/list", token=TOKEN)


def test_clock_skew_is_corrected_and_retried_once(sim) -> None:
    seven_minutes_behind = ManualClock(sim.clock() - 420)
    client = client_for(sim, clock=seven_minutes_behind)
    assert client.config() == {"token_check_enabled": True}
    assert client.clock_offset == pytest.approx(420, abs=1.5)
    assert [status for *_, status in sim.requests_seen] == [401, 200]


def test_clock_skew_error_says_how_far_off() -> None:
    skewed = Canned(
        401,
        {"error_code": "CLOCK_SKEW_EXCEEDED", "message": "too far"},
        {"Date": "Thu, 01 Jan 2026 00:00:00 GMT"},
    )
    local = ManualClock(datetime(2026, 1, 1, 0, 7, tzinfo=timezone.utc).timestamp())
    expected = "your clock is 7 min ahead of the server"
    with FaultServer([skewed]) as server, pytest.raises(ClockSkewError, match=expected):
        fault_client(server, clock=local).config()
    assert len(server.received) == 2  # corrected once, then gave up


@pytest.mark.parametrize(
    ("skew", "text"),
    [
        (30, "30 s ahead of"),
        (-420, "7 min behind"),
        (3 * 3600, "3 h ahead of"),
        (-10 * 86400, "10 days behind"),
    ],
)
def test_skew_descriptions(skew, text) -> None:
    from webull_nb.http.errormap import describe_skew as _describe_skew

    assert _describe_skew(skew) == f"your clock is {text} the server"


def test_server_rate_limit_carries_retry_after() -> None:
    reply = Canned(429, {"error_code": "TOO_MANY_REQUESTS"}, {"Retry-After": "12"})
    with FaultServer([reply]) as server, pytest.raises(RateLimitError, match="12 s") as info:
        fault_client(server).check_token(TOKEN)
    assert info.value.retry_after == 12


@pytest.mark.parametrize(
    ("reply", "kind", "match"),
    [
        (
            Canned(502, "<html><body>Bad gateway</body></html>", {"Content-Type": "text/html"}),
            ServerError,
            "HTTP 502",
        ),
        (
            Canned(
                200, "<!DOCTYPE html><p>Sign in to the Wi-Fi</p>", {"Content-Type": "text/html"}
            ),
            ProtocolError,
            "HTML page instead of JSON",
        ),
        (Canned(200, "not json"), ProtocolError, "not JSON"),
        (Canned(200, b""), ProtocolError, "empty body"),
        (Canned(200, {"token": TOKEN}), ProtocolError, "unknown status"),
        (Canned(404, "<html>nope</html>", {"Content-Type": "text/html"}), ProtocolError, "HTML"),
        (
            Canned(400, {"error_code": "INVALID_PARAMETER", "message": "bad"}),
            RequestError,
            "INVALID_PARAMETER: bad",
        ),
    ],
)
def test_malformed_and_failed_answers(reply, kind, match) -> None:
    with FaultServer([reply]) as server, pytest.raises(kind, match=match):
        fault_client(server).check_token(TOKEN)


def test_server_echoing_the_token_never_reaches_the_message() -> None:
    reply = Canned(400, {"error_code": "BAD", "message": f"token {TOKEN} is odd"})
    with FaultServer([reply]) as server, pytest.raises(WebullError) as info:
        fault_client(server).check_token(TOKEN)
    assert TOKEN not in str(info.value) and "tok_…6789" in str(info.value)


def test_check_and_config_retry_5xx_but_create_never_does() -> None:
    ok = Canned(200, {"token": TOKEN, "expires": 1, "status": "PENDING"})
    with FaultServer([Canned(503, b""), Canned(500, b""), ok]) as server:
        assert fault_client(server).check_token(TOKEN).status is TokenStatus.PENDING
    assert len(server.received) == 3
    with FaultServer([Canned(503, b""), ok]) as server, pytest.raises(ServerError):
        fault_client(server).create_token()
    assert len(server.received) == 1
    with FaultServer([Canned(503, b"")]) as server, pytest.raises(ServerError):
        fault_client(server).config()
    assert len(server.received) == 3  # at most three tries


def test_timeout_is_a_transport_error_and_create_is_not_repeated() -> None:
    with FaultServer([Canned(hang=True)]) as server:
        with pytest.raises(TransportError, match="did not answer within"):
            fault_client(server, timeout=0.3).create_token()
        assert len(server.received) == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_connection_is_a_transport_error_with_a_hint() -> None:
    sleeps: list[float] = []
    client = Client(
        "key", SECRET, base_url=f"http://127.0.0.1:{_closed_port()}", sleep=sleeps.append
    )
    with pytest.raises(TransportError, match=r"could not connect .* check the network"):
        client.create_token()  # never reached the server, so retrying was safe
    assert len(sleeps) == 2


def test_secret_never_in_repr_or_messages(sim) -> None:
    client = Client(sim.app_key, SECRET, base_url=sim.url, clock=sim.clock)
    assert SECRET not in repr(client)
    assert SECRET not in json.dumps(vars(client), default=repr)
    with pytest.raises(WebullError) as info:
        client.create_token()
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


# --- client-side rate limit -----------------------------------------------------------------------


def test_limiter_blocks_the_eleventh_call_in_a_window() -> None:
    now = [0.0]
    limiter = RateLimiter(10, 30.5, monotonic=lambda: now[0])
    assert all(limiter.try_acquire() == 0 for _ in range(10))
    assert limiter.try_acquire() == pytest.approx(30.5)
    now[0] = 20
    assert limiter.wait_time() == pytest.approx(10.5)
    now[0] = 30.5
    assert limiter.try_acquire() == 0


@given(st.lists(st.floats(0, 5), min_size=1, max_size=60))
def test_limiter_never_admits_more_than_ten_in_any_thirty_seconds(gaps) -> None:
    now = [0.0]
    limiter = RateLimiter(10, 30.0, monotonic=lambda: now[0])
    admitted = []
    for gap in gaps:
        now[0] += gap
        if limiter.try_acquire() == 0:
            admitted.append(now[0])
    for i, start in enumerate(admitted):
        assert sum(1 for t in admitted[i:] if t - start < 30.0) <= 10


def test_client_raises_before_the_service_would(sim) -> None:
    client = client_for(sim, wait_for_rate_limit=False)
    for _ in range(10):
        client.check_token(TOKEN)
    with pytest.raises(RateLimitError, match=r"next slot is free in 3[01] s") as info:
        client.check_token(TOKEN)
    assert info.value.retry_after > 29
    assert all(status == 200 for *_, status in sim.requests_seen)


def test_client_waits_for_a_slot_when_asked(sim) -> None:
    waits: list[float] = []
    client = client_for(sim, sleep=waits.append)
    client.check_limiter._monotonic = lambda: 0.0  # frozen: every slot is taken until reset
    for _ in range(10):
        client.check_token(TOKEN)

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        sim.clock.advance(seconds)
        client.check_limiter._calls.clear()

    client._sleep = sleep
    client.check_token(TOKEN)
    assert waits == [pytest.approx(30.5)]


def test_limiters_are_shared_per_app_key(sim) -> None:
    a, b = client_for(sim), client_for(sim)
    assert a.check_limiter is b.check_limiter and a.create_limiter is not a.check_limiter
    with Simulator("other-key", "other-secret", clock=sim.clock) as other:
        assert client_for(other).check_limiter is not a.check_limiter
