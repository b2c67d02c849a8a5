"""session.sdk_api_client() on a Redis-store session: the SDK reads a private local copy.

The official SDK only reads ``token.txt`` in a directory; with a Redis store the account writes
the NORMAL token into this host's own token dir (file 0600) and points the SDK there, each time
the SDK asks, so a host that never created the token uses it with no SMS.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("webull.core.client", reason="webull-openapi-python-sdk is not installed")

from helpers import approve_latest
from webull.trade.trade_client import TradeClient

from webull_nb.session import Session
from webull_nb.simulator import DEMO_APP_KEY, DEMO_APP_SECRET

OTHER_HOST = """
import json, sys
from webull_nb.session import Session
from webull.trade.trade_client import TradeClient

url, key, secret, token_dir, store = sys.argv[1:]
with Session(key, secret, endpoint=url, token_dir=token_dir, store=store) as session:
    status = session.status
    api = session.sdk_api_client()
    accounts = TradeClient(api).account_v2.get_account_list().json()
print(json.dumps({"status": status, "accounts": len(accounts)}))
"""


def token_file(directory: Path) -> tuple[str, int]:
    """(the token in ``directory``'s token.txt, the file's permission bits)."""
    path = directory / "token.txt"
    return path.read_text().splitlines()[0], stat.S_IMODE(path.stat().st_mode)


def test_sdk_clients_on_a_redis_session_get_the_normal_token_in_a_private_file(
    live_sim, redis_url, tmp_path: Path
) -> None:
    sim = live_sim
    local = tmp_path / "tokens"
    with Session(
        sim.app_key, sim.app_secret, endpoint=sim.url, token_dir=local, store=redis_url
    ) as session:
        session.create_token()
        first = approve_latest(sim)["token"]
        assert session.check_token() == "NORMAL"
        assert not (local / "token.txt").exists()  # the token lives in Redis only, so far
        api = session.sdk_api_client()
        assert token_file(local) == (first, 0o600)
        assert stat.S_IMODE(local.stat().st_mode) == 0o700
        TradeClient(api).account_v2.get_account_list()

        # A new token replaces the first (as another host might do): the same client, asked
        # again, is pointed at a copy of the new one, not at the stale file.
        session.forget_token()
        session.create_token()
        second = approve_latest(sim)["token"]
        assert session.check_token() == "NORMAL" and second != first
        assert token_file(local)[0] == first
        TradeClient(api).account_v2.get_account_list()
        assert token_file(local) == (second, 0o600)
        assert sim.sms_inbox() == []  # the SDK sent no SMS of its own (none awaits a code)


@pytest.mark.slow
def test_another_host_uses_the_stored_token_through_the_sdk_with_no_sms(
    live_sim, redis_url, tmp_path: Path
) -> None:
    sim = live_sim
    with Session(
        DEMO_APP_KEY,
        DEMO_APP_SECRET,
        endpoint=sim.url,
        token_dir=tmp_path / "host-a",
        store=redis_url,
    ) as session:
        session.create_token()
        token = approve_latest(sim)["token"]
        assert session.check_token() == "NORMAL"
    other = tmp_path / "host-b"  # its own HOME and token dir: it shares only the Redis URL
    other.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            OTHER_HOST,
            sim.url,
            DEMO_APP_KEY,
            DEMO_APP_SECRET,
            str(other / "tokens"),
            redis_url,
        ],
        cwd=other,
        env={"PATH": "/usr/bin:/bin", "HOME": str(other), "PYTHONPATH": ":".join(sys.path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert out["status"] == "NORMAL" and out["accounts"] > 0
    assert token_file(other / "tokens") == (token, 0o600)
    assert sim.sms_inbox() == []  # no SMS: the other host's SDK used the stored token
