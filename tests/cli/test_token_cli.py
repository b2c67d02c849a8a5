"""``webull-nb token ...`` in real processes against ``python -m webull_nb.simulator``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from helpers import approve_latest, start_simulator

from webull_nb.shared.files.store import TokenStore
from webull_nb.shared.storage import StoredToken

ACTION_NEEDED = 2


class Cli:
    """Runs ``python -m webull_nb.cli token ...`` with credentials in the environment only."""

    def __init__(self, url: str, key: str, secret: str, home: Path) -> None:
        self.url = url
        self.env = {
            **os.environ,
            "WEBULL_APP_KEY": key,
            "WEBULL_APP_SECRET": secret,
            "XDG_STATE_HOME": str(home / "state"),
            "HOME": str(home),
        }
        self.env.pop("WEBULL_OPENAPI_TOKEN_DIR", None)
        self.outputs: list[str] = []

    def __call__(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "webull_nb.cli", "token", *args, "--endpoint", self.url],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            stdin=subprocess.DEVNULL,
        )
        self.outputs += [result.stdout, result.stderr]
        return result


def enter_code_after(url: str, delay: float, entered: list[float]) -> threading.Thread:
    """A phone that enters the SMS code ``delay`` seconds after the SMS arrives."""

    def phone() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            inbox = requests.get(url + "/_sim/sms", timeout=5).json()
            if inbox:
                arrived = time.monotonic()
                time.sleep(delay)  # the user reading the SMS and typing the code
                approve_latest(url)
                entered.append(arrived)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=phone, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
def test_create_approve_status_export_forget(simulator_process, tmp_path: Path) -> None:
    url, key, secret = simulator_process
    cli = Cli(url, key, secret, tmp_path)

    assert cli("status").returncode == ACTION_NEEDED  # no token yet

    entered: list[float] = []
    phone = enter_code_after(url, 3.0, entered)
    start = time.monotonic()
    created = cli("create", "--wait", "30")
    took = time.monotonic() - start
    phone.join()
    noticed = start + took - entered[0] - 3.0  # from the code's entry to the command's end
    print(
        f"\ntoken create --wait 30, code entered 3 s after the SMS: {took:.1f} s, exit "
        f"{created.returncode} ({noticed:.1f} s after the code was entered)"
    )
    assert created.returncode == 0, created.stderr
    # It ends at the first check after the approval (one every 3.05 s), not when --wait runs out.
    assert noticed < 15, f"NORMAL seen {noticed:.1f} s after the code was entered"
    assert "Open the Webull App" in created.stderr
    assert "status:    NORMAL" in created.stdout and "valid if unused until" in created.stdout

    status = cli("status", "--json")
    assert status.returncode == 0
    facts = json.loads(status.stdout)
    assert facts["status"] == "NORMAL" and facts["valid_until"]
    token_dir = Path(facts["token_dir"])
    token = (token_dir / "token.txt").read_text().splitlines()[0]
    assert facts["token"] == f"{token[:4]}…{token[-4:]}"
    assert cli("check").returncode == 0

    bot = tmp_path / "bot" / "tokens"
    exported = cli("export", "--to", str(bot), "--parents", "--json")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["exported_to"] == str(bot / "token.txt")
    copied, original = (bot / "token.txt").read_text(), (token_dir / "token.txt").read_text()
    assert copied.splitlines() == original.splitlines()
    assert (bot / "token.txt").stat().st_mode & 0o777 == 0o600
    assert bot.stat().st_mode & 0o777 == 0o700

    # A server's own, different NORMAL token is never replaced without --force.
    other = StoredToken("other-normal-token-of-the-bot", None, "NORMAL")
    TokenStore(bot).save(other)
    refused = cli("export", "--to", str(bot))
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert TokenStore(bot).load().token == other.token
    assert cli("export", "--to", str(bot), "--force").returncode == 0
    assert TokenStore(bot).load().token == token

    assert cli("forget").returncode == 0
    assert not (token_dir / "token.txt").exists()
    assert cli("status").returncode == ACTION_NEEDED

    for text in cli.outputs:
        assert token not in text and secret not in text


@pytest.mark.slow
def test_a_second_create_joins_the_pending_token(simulator_process, tmp_path: Path) -> None:
    url, key, secret = simulator_process
    cli = Cli(url, key, secret, tmp_path)
    first = cli("create", "--wait", "1", "--json")
    assert first.returncode == ACTION_NEEDED
    facts = json.loads(first.stdout)
    assert facts["status"] == "PENDING" and 0 < facts["seconds_left"] <= 300
    assert "Still waiting for approval" in first.stderr

    second = cli("create", "--wait", "0", "--json")
    assert second.returncode == ACTION_NEEDED
    assert json.loads(second.stdout)["token"] == facts["token"]
    assert "no new SMS" in second.stderr
    assert len(requests.get(url + "/_sim/sms", timeout=5).json()) == 1


def test_no_available_device(tmp_path: Path) -> None:
    proc, url, key, secret = start_simulator("--no-device")
    try:
        result = Cli(url, key, secret, tmp_path)("create", "--wait", "5", "--json")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
    assert result.returncode == 1
    assert "log in to the Webull App" in result.stderr and "NO_AVAILABLE_DEVICE" in result.stderr
    assert json.loads(result.stdout)["status"] == "NONE"


def test_idle_clock_warning_under_two_days(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    last_used = datetime.now(timezone.utc) - timedelta(days=13, hours=12)
    TokenStore(tokens).save(
        StoredToken("a-normal-token-unused-for-13-days", None, "NORMAL", None, last_used)
    )
    # status reads the store only: no simulator needed.
    cli = Cli("http://127.0.0.1:9", "key", "secret", tmp_path)
    result = cli("status", "--token-dir", str(tokens))
    assert result.returncode == 0
    assert "valid if unused until" in result.stdout and "(1 d 11 h left" in result.stdout
    assert "warning: the token goes INVALID if unused for 1 d 11 h more" in result.stderr


def test_no_credentials_and_no_terminal_is_an_error(tmp_path: Path) -> None:
    cli = Cli("http://127.0.0.1:9", "", "", tmp_path)
    result = cli("status")
    assert result.returncode == 1
    assert "WEBULL_APP_KEY" in result.stderr


def test_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "webull_nb.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    from webull_nb import __version__

    assert result.returncode == 0 and result.stdout.strip() == f"webull-nb {__version__}"
