"""Webull's real failure modes, typed: no device, verification lock-out, market-data refusals;
and the simulator's data routes that the official SDK's first calls need."""

from __future__ import annotations

import pytest
from helpers import Canned, FaultServer, approve_latest, signed_request

from webull_nb.client import Client
from webull_nb.errors import (
    AuthenticationError,
    InvalidTokenError,
    NoDeviceError,
    VerificationLockedError,
)
from webull_nb.simulator import Simulator

SECRET = "s3cret-value-that-must-never-leak"


def test_no_device_simulator_refuses_new_tokens_but_keeps_existing_ones(clock) -> None:
    with Simulator(clock=clock, no_device=True) as sim:
        client = Client(sim.app_key, sim.app_secret, base_url=sim.url, clock=clock)
        with pytest.raises(NoDeviceError) as caught:
            client.create_token()
        assert caught.value.http_status == 400 and caught.value.error_code == "NO_AVAILABLE_DEVICE"
        message = str(caught.value)
        assert "no device can receive the verification" in message
        assert "log in to the Webull App" in message and "notifications on" in message
        assert sim.sms_inbox() == []
        # A token created while a device was logged in can still be joined.
        sim.no_device = False
        token = client.create_token().token
        sim.no_device = True
        assert client.create_token(token).token == token


def test_verification_lock_out_is_typed() -> None:
    body = {"error_code": "VERIFY_FAILURE_EXCEED_LIMIT", "message": "verify failure exceed limit"}
    with FaultServer([Canned(400, body)]) as server:
        client = Client("key", SECRET, base_url=server.url)
        with pytest.raises(VerificationLockedError, match="too many verification attempts"):
            client.create_token()
    assert issubclass(VerificationLockedError, AuthenticationError)


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize(
    "path", ["/market-data/stocks/snapshots/list", "/openapi/market-data/stock/snapshot"]
)
def test_market_data_refusals_name_the_subscription(status: int, path: str) -> None:
    body = {"error_code": "FORBIDDEN", "message": "no permission"}
    with FaultServer([Canned(status, body)]) as server:
        client = Client("key", SECRET, base_url=server.url)
        with pytest.raises(AuthenticationError, match="market-data subscription") as caught:
            client.request("GET", path, params={"symbols": "AAPL"}, token="t" * 20)
    assert caught.value.http_status == status


def test_trading_refusals_and_token_errors_keep_their_own_messages() -> None:
    with FaultServer([Canned(403, {"error_code": "FORBIDDEN"})]) as server:
        client = Client("key", SECRET, base_url=server.url)
        with pytest.raises(AuthenticationError) as caught:
            client.request("GET", "/trading/accounts/list")
        assert "market-data" not in str(caught.value)
    bad_sign = {"error_code": "INCORRECT_SIGN", "message": "sign mismatch"}
    with FaultServer([Canned(401, bad_sign)]) as server:
        client = Client("key", SECRET, base_url=server.url)
        with pytest.raises(AuthenticationError, match="the signature did not match"):
            client.request("GET", "/market-data/stocks/snapshots/list")
    invalid = {"error_code": "INVALID_TOKEN", "message": "bad token"}
    with FaultServer([Canned(401, invalid)]) as server:
        client = Client("key", SECRET, base_url=server.url)
        with pytest.raises(InvalidTokenError):
            client.request("GET", "/market-data/stocks/snapshots/list")


def _normal_token(sim: Simulator) -> str:
    client = Client(sim.app_key, sim.app_secret, base_url=sim.url, clock=sim.clock)
    token = client.create_token().token
    approve_latest(sim)
    return token


SDK_ROUTES = [
    ("/trading/accounts/list", [], lambda body: body[0]["account_id"] == "SIM0000001"),
    (
        "/trading/assets/balances/get",
        [("account_id", "SIM0000001")],
        lambda body: body["total_asset"] == "25000.00",
    ),
    (
        "/trading/assets/positions/list",
        [("account_id", "SIM0000001")],
        lambda body: [p["symbol"] for p in body] == ["AAPL", "SPY"],
    ),
    (
        "/market-data/stocks/snapshots/list",
        [("category", "US_STOCK"), ("symbols", "AAPL")],
        lambda body: body[0]["symbol"] == "AAPL" and body[0]["price"] == "189.84",
    ),
]


@pytest.mark.parametrize(("path", "params", "check"), SDK_ROUTES)
def test_sdk_routes_need_signature_token_and_v3(sim, path, params, check) -> None:
    token = _normal_token(sim)

    def call(**kw):
        return signed_request(
            sim.url, sim.app_key, sim.app_secret, "GET", path, params=params, clock=sim.clock, **kw
        )

    good = call(extra={"x-version": "v3", "x-access-token": token})
    assert good.status_code == 200 and check(good.json())
    assert call(extra={"x-version": "v3"}).json()["error_code"] == "INVALID_TOKEN"
    wrong_version = call(extra={"x-version": "v2", "x-access-token": token})
    assert wrong_version.status_code == 404
    bad_sign = call(
        extra={"x-version": "v3", "x-access-token": token}, override={"x-signature": "AAAA"}
    )
    assert bad_sign.json()["error_code"] == "INCORRECT_SIGN"


def test_unknown_account_is_a_404(sim) -> None:
    token = _normal_token(sim)
    reply = signed_request(
        sim.url,
        sim.app_key,
        sim.app_secret,
        "GET",
        "/trading/assets/balances/get",
        params=[("account_id", "NOPE")],
        clock=sim.clock,
        extra={"x-version": "v3", "x-access-token": token},
    )
    assert reply.status_code == 404 and reply.json()["error_code"] == "ACCOUNT_NOT_FOUND"
