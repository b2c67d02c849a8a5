"""session.sdk_api_client(): the official SDK's clients on the session's token."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

pytest.importorskip("webull.core.client", reason="webull-openapi-python-sdk is not installed")

from webull.core import request as sdk_request
from webull.core.http import protocol_type
from webull.trade.trade_client import TradeClient

from webull_nb.errors import TokenStateError
from webull_nb.session import Session, sdk

SDK_SCRIPT = """
import json, sys, time
from webull_nb.session import Session
from webull_nb.simulator import Simulator
from webull.trade.trade_client import TradeClient
from webull.data.data_client import DataClient

url, key, secret, token_dir = sys.argv[1:]
session = Session(key, secret, endpoint=url, token_dir=token_dir)
api = session.sdk_api_client()
start = time.perf_counter()
trade = TradeClient(api)
built = time.perf_counter() - start
accounts = trade.account_v2.get_account_list().json()
balance = trade.account_v2.get_account_balance(accounts[0]["account_id"]).json()
positions = trade.account_v2.get_account_position(accounts[0]["account_id"]).json()
snapshot = DataClient(api).market_data.get_snapshot("AAPL", "US_STOCK").json()
try:
    trade.account_v2.get_account_balance("NO-SUCH-ACCOUNT")  # makes the SDK log an error
except Exception as exc:
    failure = type(exc).__name__
print(json.dumps({
    "built": built,
    "accounts": [a["account_id"] for a in accounts],
    "total_asset": balance["total_asset"],
    "symbols": [p["symbol"] for p in positions],
    "price": snapshot[0]["price"],
    "failure": failure,
}))
session.close()
"""


def test_sdk_clients_reuse_the_session_token_with_no_sms_and_no_log_files(
    simulator_process, tmp_path: Path, approve_latest
) -> None:
    url, key, secret = simulator_process
    tokens = tmp_path / "tokens"
    with Session(key, secret, endpoint=url, token_dir=tokens) as session:
        session.create_token()
        approve_latest(url)
        assert session.check_token() == "NORMAL"
    token = (tokens / "token.txt").read_text().splitlines()[0]
    workdir = tmp_path / "cwd"
    workdir.mkdir()

    result = subprocess.run(
        [sys.executable, "-c", SDK_SCRIPT, url, key, secret, str(tokens)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    print(f"\nTradeClient built from a NORMAL session in {out['built'] * 1000:.1f} ms")
    # Built at once: the SDK did not wait for a token check of its own (one every second).
    assert out["built"] < sdk.CHECK_INTERVAL, out["built"]
    assert out["accounts"] == ["SIM0000001", "SIM0000002"]
    assert out["total_asset"] == "25000.00" and out["symbols"] == ["AAPL", "SPY"]
    assert out["price"] == "189.84" and out["failure"] == "ServerException"
    assert requests.get(url + "/_sim/sms", timeout=5).json() == []  # no new token, no SMS
    assert (tokens / "token.txt").read_text().splitlines()[0] == token
    assert list(workdir.iterdir()) == []  # no webull_*_sdk.log
    # The SDK logged its error on stderr, with the token masked.
    assert "webull SDK ERROR" in result.stderr and "ACCOUNT_NOT_FOUND" in result.stderr
    assert token not in result.stderr + result.stdout
    assert "storage_token Note" not in result.stderr


def test_a_pending_token_fails_within_seconds_with_our_error(
    live_sim, tmp_path: Path, approve_latest
) -> None:
    sim = live_sim
    with Session(sim.app_key, sim.app_secret, endpoint=sim.url, token_dir=tmp_path) as session:
        with pytest.raises(TokenStateError, match="no access token yet"):
            session.sdk_api_client()
        session.create_token()
        with pytest.raises(TokenStateError, match="approve it in the Webull App"):
            session.sdk_api_client()
        approve_latest(sim)
        session.check_token()
        api = session.sdk_api_client()
        session.create_token(force=True)  # a new token, now PENDING, replaces the NORMAL one
        assert session.status == "PENDING"
        start = time.monotonic()
        with pytest.raises(TokenStateError, match="waits for approval"):
            TradeClient(api)
        assert time.monotonic() - start < 3
        assert len(sim.sms_inbox()) == 1  # the SDK sent no SMS of its own


def test_the_simulator_url_does_not_switch_the_sdk_to_http_for_everyone(
    live_sim, tmp_path: Path, monkeypatch, approve_latest
) -> None:
    sim = live_sim
    # Another test may have switched the SDK's process-wide default; start from the SDK's own.
    monkeypatch.setattr(sdk_request, "_default_protocol_type", protocol_type.HTTPS)
    with Session(sim.app_key, sim.app_secret, endpoint=sim.url, token_dir=tmp_path) as session:
        session.create_token()
        approve_latest(sim)
        session.check_token()
        api = session.sdk_api_client()
        TradeClient(api).account_v2.get_account_list()
    assert sdk_request.get_default_protocol_type() == protocol_type.HTTPS
    assert "token=" in repr(api) and sim.app_secret not in repr(api)


def test_uat_registers_hosts_for_every_api_type(tmp_path: Path) -> None:
    with Session("key", "secret", environment="uat", token_dir=tmp_path) as session:
        # As if the test environment had answered that it checks no tokens (no network here).
        session.account.token_check_enabled = False
        api = session.sdk_api_client()
    resolver = api._endpoint_resolver._user_customized_endpoint_resolver
    assert resolver._endpoint_entry_map == {
        "usapi": "api.sandbox.webull.com",
        "usquotes-api": "us-openapi-quotes-api.uat.webullbroker.com",
        "usevents-api": "us-openapi-events.uat.webullbroker.com",
    }


def test_without_the_sdk_the_error_names_the_extra(sim, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "webull.core", None)
    session = Session(sim.app_key, sim.app_secret, endpoint=sim.url, token_dir=tmp_path)
    with session, pytest.raises(ImportError, match=r"pip install 'webull-nb\[sdk\]'"):
        session.sdk_api_client()


def test_importing_webull_nb_does_not_import_the_sdk() -> None:
    code = textwrap.dedent(
        """
        import sys, webull_nb, webull_nb.session.sdk
        print(any(name.startswith("webull.") or name == "webull" for name in sys.modules))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
