"""``webull-nb token ... --store URL``: the terminal on a Redis store, against a real server.

Most tests run the command in this process (``main([...])``, as the console script does) for
speed; the last runs it as a real process for its exit code and its one line on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import approve_latest, normal_on_another_host
from redis_server import free_port

from webull_nb.cli.args import EXIT_ACTION, EXIT_ERROR, EXIT_OK, EXIT_USAGE, shown_store
from webull_nb.cli.main import main

PASSWORD = "hunter2-the-password"


@pytest.fixture
def token(live_sim, monkeypatch, capsys):
    """``token(*args)``: run ``webull-nb token ARGS --endpoint SIM``; (exit code, out, err)."""
    monkeypatch.setenv("WEBULL_APP_KEY", live_sim.app_key)
    monkeypatch.setenv("WEBULL_APP_SECRET", live_sim.app_secret)
    monkeypatch.delenv("WEBULL_NB_STORE", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["token", *args, "--endpoint", live_sim.url])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def normal_token_in(sim, url: str, token_dir: Path) -> str:
    """Create and approve a token on another "host" (its own token dir); return its hint."""
    with normal_on_another_host(sim, url, token_dir) as other:
        return other.token_hint


def test_status_of_an_empty_store_names_the_store_without_its_password(
    token, redis_server_with_password
) -> None:
    server = redis_server_with_password
    where = f"redis://127.0.0.1:{server.port}/0"
    code, out, err = token("status", "--store", server.url)
    assert code == EXIT_ACTION
    assert out.splitlines() == ["status:    NONE", f"store:     {where}"]
    # The hint repeats --store so that it can be pasted, with the password left out.
    assert f"--store 'redis://:***@127.0.0.1:{server.port}/0'" in err, err
    assert PASSWORD not in out + err and server.password not in out + err

    code, out, err = token("status", "--store", server.url, "--json")
    assert code == EXIT_ACTION
    result = json.loads(out)
    assert result["status"] == "NONE" and result["token"] is None
    assert (result["store"], result["token_dir"]) == (where, None)
    assert server.password not in out + err


def test_status_shows_the_normal_token_redis_holds(token, live_sim, redis_url, tmp_path) -> None:
    hint = normal_token_in(live_sim, redis_url, tmp_path / "another-host")
    code, out, err = token("status", "--store", redis_url)
    assert code == EXIT_OK, err
    lines = out.splitlines()
    assert lines[:2] == ["status:    NORMAL", f"token:     {hint}"]
    assert lines[-1] == f"store:     {redis_url}" and "token dir" not in out

    code, out, _ = token("status", "--store", redis_url, "--json")
    result = json.loads(out)
    assert code == EXIT_OK and result["status"] == "NORMAL" and result["token"] == hint
    assert (result["store"], result["token_dir"]) == (redis_url, None)


def test_the_environment_picks_the_store_and_the_flag_wins(
    token, live_sim, redis_url, tmp_path, monkeypatch
) -> None:
    hint = normal_token_in(live_sim, redis_url, tmp_path / "another-host")
    monkeypatch.setenv("WEBULL_NB_STORE", redis_url)
    code, out, _ = token("status", "--json")
    result = json.loads(out)
    assert code == EXIT_OK and result["token"] == hint and result["store"] == redis_url

    code, out, _ = token("status", "--json", "--store", "files", "--token-dir", str(tmp_path / "t"))
    result = json.loads(out)
    assert code == EXIT_ACTION and result["status"] == "NONE"
    assert (result["store"], result["token_dir"]) == ("files", str(tmp_path / "t"))


def test_export_copies_the_token_redis_holds_into_a_directory(
    token, live_sim, redis_url, tmp_path
) -> None:
    hint = normal_token_in(live_sim, redis_url, tmp_path / "another-host")
    target = tmp_path / "for-the-sdk"
    code, out, err = token("export", "--to", str(target), "--store", redis_url, "--json")
    assert code == EXIT_OK, err
    assert json.loads(out)["exported_to"] == str(target / "token.txt")
    stored = (target / "token.txt").read_text().splitlines()
    assert stored[0][:4] == hint[:4] and stored[2] == "NORMAL"


def test_an_unreachable_store_is_one_line_and_exit_1(token) -> None:
    port = free_port()
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    code, out, err = token("status", "--store", url)
    assert code == EXIT_ERROR and out == ""
    assert err.splitlines() == [
        f"webull-nb token status: cannot reach Redis at redis://127.0.0.1:{port}/0: "
        f"Error 111 connecting to 127.0.0.1:{port}. Connection refused."
    ]
    code, out, err = token("check", "--store", url, "--json")
    result = json.loads(out)
    assert code == EXIT_ERROR and result["status"] is None
    assert f"cannot reach Redis at redis://127.0.0.1:{port}/0" in result["error"]
    assert PASSWORD not in out + err


def test_a_store_that_is_no_url_is_a_usage_error_that_does_not_repeat_it(
    token, monkeypatch, capsys
) -> None:
    for bad in (f"http://:{PASSWORD}@host", f"redis://:{PASSWORD}@[::1"):
        with pytest.raises(SystemExit) as exited:
            token("status", "--store", bad)
        usage = capsys.readouterr().err  # argparse's usage line and message
        assert exited.value.code == EXIT_USAGE and "--store: not a store" in usage
        assert PASSWORD not in usage
    monkeypatch.setenv("WEBULL_NB_STORE", f"memcached://:{PASSWORD}@host")
    code, out, err = token("status")
    assert code == EXIT_USAGE and "WEBULL_NB_STORE is not a store" in err
    assert PASSWORD not in out + err


def test_without_the_redis_extra_the_error_names_it(token, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # as if redis-py were not installed
    code, out, err = token("status", "--store", "redis://127.0.0.1:6379/0")
    assert code == EXIT_ERROR and out == ""
    assert err.splitlines() == [
        "webull-nb token status: a Redis store needs the redis client and cryptography: "
        "pip install 'webull-nb[redis]'"
    ]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:pw@h:1/0", "redis://:***@h:1/0"),
        (
            "rediss://alice:pw@h:1/2?ssl_cert_reqs=none",
            "rediss://alice:***@h:1/2?ssl_cert_reqs=none",
        ),
        ("redis://alice@h/0?password=pw&db=1", "redis://alice@h/0?password=***&db=1"),
        ("unix://:pw@/run/redis.sock?db=0", "unix://:***@/run/redis.sock?db=0"),
        ("files", "files"),
    ],
)
def test_hints_repeat_a_store_without_its_password(url: str, shown: str) -> None:
    assert shown_store(url) == shown


@pytest.mark.slow
def test_the_command_on_an_unreachable_store_exits_1_with_one_line(live_sim, tmp_path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "WEBULL_APP_KEY": live_sim.app_key,
        "WEBULL_APP_SECRET": live_sim.app_secret,
        "WEBULL_NB_STORE": f"redis://:{PASSWORD}@127.0.0.1:{port}/0",  # as a spawner sets it
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "webull_nb.cli", "token", "create", "--endpoint", live_sim.url],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == EXIT_ERROR
    assert result.stderr.splitlines() == [
        f"webull-nb token create: cannot reach Redis at redis://127.0.0.1:{port}/0: "
        f"Error 111 connecting to 127.0.0.1:{port}. Connection refused."
    ]
    assert PASSWORD not in result.stdout + result.stderr
    assert live_sim.sms_inbox() == []  # nothing was created without a store to keep it


@pytest.mark.slow
def test_a_token_created_in_one_terminal_is_normal_in_another_hosts(
    live_sim, redis_url, tmp_path
) -> None:
    def cli(host: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        home = tmp_path / host  # each "host" has its own HOME and token dir
        env = {
            **{k: v for k, v in os.environ.items() if k != "WEBULL_NB_STORE"},
            "WEBULL_APP_KEY": live_sim.app_key,
            "WEBULL_APP_SECRET": live_sim.app_secret,
            "HOME": str(home),
            "XDG_STATE_HOME": str(home / "state"),
            **extra,
        }
        command = [sys.executable, "-m", "webull_nb.cli", "token", *args]
        return subprocess.run(
            [*command, "--endpoint", live_sim.url],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            stdin=subprocess.DEVNULL,
        )

    approved = threading.Event()

    def phone() -> None:
        deadline = time.monotonic() + 30
        while not live_sim.sms_inbox() and time.monotonic() < deadline:
            time.sleep(0.05)  # the SMS arrives when the terminal's create reaches the simulator
        approve_latest(live_sim)
        approved.set()

    thread = threading.Thread(target=phone, daemon=True)
    thread.start()
    created = cli("laptop", "create", "--wait", "30", "--store", redis_url, "--json")
    thread.join(30)
    assert approved.is_set() and created.returncode == EXIT_OK, created.stderr
    token = json.loads(created.stdout)["token"]
    # Another host, naming the store through the environment only (as a spawner sets it).
    status = cli("server", "status", "--json", WEBULL_NB_STORE=redis_url)
    assert status.returncode == EXIT_OK, status.stderr
    result = json.loads(status.stdout)
    assert (result["status"], result["token"], result["store"]) == ("NORMAL", token, redis_url)
    # The token stayed in Redis: nothing was written into that host's token dir.
    assert list((tmp_path / "server").rglob("token.txt")) == []
