"""One token per account: threads, processes and the official SDK share one lifecycle.

Concurrency claims are tested with real threads and real processes (tests/account_worker.py)
against a simulator on the real clock, since the shared rate ledger is kept in wall time.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import Canned, FaultServer, approve_latest

from webull_nb.errors import RateLimitError
from webull_nb.session import Session
from webull_nb.shared.files.store import TokenStore
from webull_nb.shared.storage import StoredToken
from webull_nb.simulator import Simulator

WORKER = Path(__file__).resolve().parents[1] / "account_worker.py"


def server_calls(sim: Simulator, path_part: str) -> list[tuple[float, int]]:
    """(time, HTTP status) of the requests the simulator saw whose path contains ``path_part``."""
    return [(t, status) for t, _, path, status in list(sim.requests_seen) if path_part in path]


def most_in_any_window(times: list[float], window: float = 30.0) -> int:
    """The largest number of ``times`` in any ``window`` seconds."""
    times = sorted(times)
    best = 0
    for i, start in enumerate(times):
        best = max(best, sum(1 for t in times[i:] if t < start + window))
    return best


class Worker:
    """One tests/account_worker.py process and the JSON events it prints."""

    def __init__(self, url: str, token_dir: Path, action: str, *args: str, **env: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), url, str(token_dir), action, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **env},
        )
        self.events: queue.Queue[dict] = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put({"event": "exit"})

    def next(self, event: str, timeout: float = 30.0, **match: object) -> dict:
        """Return the next event of this kind (and fields), failing after ``timeout``."""
        end = time.monotonic() + timeout
        while True:
            item = self.events.get(timeout=max(0.01, end - time.monotonic()))
            self.seen.append(item)
            if item["event"] == event and all(item.get(k) == v for k, v in match.items()):
                return item
            assert item["event"] != "exit", f"worker ended early: {self.seen}"

    def start(self) -> None:
        """Let the worker begin its action."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self) -> None:
        """Wait for the process to end (killing it after a while)."""
        try:
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def start_together(workers: list[Worker]) -> None:
    """Start every worker's action at the same moment, once all are ready."""
    for worker in workers:
        worker.next("ready")
    for worker in workers:
        worker.start()


# --- single flight ----------------------------------------------------------------------------


def test_twenty_threads_creating_at_once_send_one_sms(live_sim, tmp_path) -> None:
    session = Session(
        live_sim.app_key, live_sim.app_secret, endpoint=live_sim.url, token_dir=tmp_path
    )
    barrier = threading.Barrier(20)
    results: list[str] = []

    def create() -> None:
        barrier.wait()
        results.append(session.create_token())

    threads = [threading.Thread(target=create) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert results == ["PENDING"] * 20
        assert len(server_calls(live_sim, "/token/create")) == 1  # one SMS
        assert len(live_sim.sms_inbox()) == 1
        assert TokenStore(tmp_path).load().token == session.account.state.token.reveal()
        session.create_token()  # a second click joins too
        assert len(server_calls(live_sim, "/token/create")) == 1
        session.create_token(force=True)  # "Send a new code", on purpose
        assert len(server_calls(live_sim, "/token/create")) == 2
    finally:
        session.close()


@pytest.mark.slow
def test_processes_share_one_sms_one_budget_and_see_normal_together(live_sim, tmp_path) -> None:
    workers = [Worker(live_sim.url, tmp_path, "ensure") for _ in range(3)]
    try:
        start_together(workers)
        for worker in workers:
            worker.next("status", status="PENDING")  # every one of them: the same token
        approve_latest(live_sim)
        approved = time.time()
        seen = [worker.next("status", status="NORMAL")["t"] - approved for worker in workers]
        for worker in workers:
            assert worker.next("done")["status"] == "NORMAL"
    finally:
        for worker in workers:
            worker.finish()
    creates = server_calls(live_sim, "/token/create")
    checks = server_calls(live_sim, "/token/check")
    assert len(creates) == 1, "one SMS for the account"
    assert all(status != 429 for _, status in creates + checks)
    assert most_in_any_window([t for t, _ in checks]) <= 10
    assert max(seen) < 4.5, f"detection latencies {seen}"


@pytest.mark.slow
def test_two_processes_checking_never_draw_a_429(live_sim, tmp_path) -> None:
    session = Session(
        live_sim.app_key, live_sim.app_secret, endpoint=live_sim.url, token_dir=tmp_path
    )
    session.create_token()
    approve_latest(live_sim)
    assert session.check_token() == "NORMAL"
    session.close()
    workers = [Worker(live_sim.url, tmp_path, "checks", "12") for _ in range(2)]
    try:
        start_together(workers)
    finally:
        for worker in workers:
            worker.finish()
    checks = server_calls(live_sim, "/token/check")
    assert [status for _, status in checks].count(429) == 0
    assert len(checks) == 10  # 1 above plus 9 more: the budget, shared, and nothing over


@pytest.mark.slow
def test_the_poll_lease_moves_to_a_survivor_when_its_holder_dies(live_sim, tmp_path) -> None:
    creator = Session(
        live_sim.app_key, live_sim.app_secret, endpoint=live_sim.url, token_dir=tmp_path
    )
    creator.create_token()
    creator.close()  # gives up its lease: the workers now compete for it
    workers = [Worker(live_sim.url, tmp_path, "watch") for _ in range(2)]
    try:
        start_together(workers)
        ledger = tmp_path / "token.ledger.json"
        end = time.monotonic() + 10
        holder = None
        while holder is None and time.monotonic() < end:  # no event exists for a file write
            data = json.loads(ledger.read_text()) if ledger.exists() else {}
            pid = data.get("poller", {}).get("pid")
            holder = next((w for w in workers if w.proc.pid == pid), None)
            time.sleep(0.05)
        assert holder is not None, "nobody took the poll lease"
        os.kill(holder.proc.pid, signal.SIGKILL)
        survivor = next(w for w in workers if w is not holder)
        approve_latest(live_sim)
        approved = time.time()
        noticed = survivor.next("status", status="NORMAL", timeout=20)["t"] - approved
    finally:
        for worker in workers:
            worker.finish()
    assert noticed < 12.0  # the dead holder's lease runs out, then a check within 3 s


@pytest.mark.slow
def test_a_session_adopts_what_another_process_stored(live_sim, tmp_path) -> None:
    session = Session(
        live_sim.app_key, live_sim.app_secret, endpoint=live_sim.url, token_dir=tmp_path
    )
    changed = threading.Event()
    session.observe(lambda change: changed.set(), names=["status"])
    worker = Worker(live_sim.url, tmp_path, "create")
    try:
        start_together([worker])
        assert worker.next("done")["status"] == "PENDING"
        assert changed.wait(2) and session.status == "PENDING"  # from the store, no API call
        checks_before = len(server_calls(live_sim, "/token/check"))
        assert session.ensure_token(timeout=0.1) == "PENDING"  # joins: no second SMS
        assert len(server_calls(live_sim, "/token/create")) == 1
        assert len(server_calls(live_sim, "/token/check")) >= checks_before
    finally:
        worker.finish()
        session.close()


# --- the poller never writes after it was stopped ---------------------------------------------


@pytest.mark.slow
def test_a_stopped_pollers_error_never_lands(tmp_path) -> None:
    created = {"token": "pending-token-0123456789", "expires": 0, "status": "PENDING"}
    with FaultServer([Canned(200, created), Canned(hang=True)]) as server:
        session = Session("key", "secret", endpoint=server.url, token_dir=tmp_path, timeout=0.5)
        session.create_token()
        poller = session.account.poller
        end = time.monotonic() + 5
        while len(server.received) < 2:  # the poller's check is in flight
            assert time.monotonic() < end
            time.sleep(0.01)
        session.forget_token()
        poller._thread.join(5)  # its check times out and reports a failure... to nobody
        assert (session.status, session.error) == ("NONE", "")
        session.close()


def test_check_soon_spam_stays_within_the_servers_limit(live_sim, tmp_path) -> None:
    session = Session(
        live_sim.app_key,
        live_sim.app_secret,
        endpoint=live_sim.url,
        token_dir=tmp_path,
        poll_interval=0.0,
    )
    session.create_token()
    limited = 0
    for _ in range(15):
        session.check_soon()
        try:
            session.check_token()
        except RateLimitError as exc:
            assert exc.http_status is None  # refused here, never by the server
            limited += 1
    session.close()
    checks = server_calls(live_sim, "/token/check")
    assert [status for _, status in checks].count(429) == 0
    assert len(checks) == 10 and limited >= 5


def test_a_failure_about_a_forgotten_token_is_dropped(tmp_path) -> None:
    # The same guard for a failure that happens after the token was replaced.
    with FaultServer([Canned(200, {"token": "t" * 24, "expires": 0, "status": "PENDING"})]) as s:
        session = Session("key", "secret", endpoint=s.url, token_dir=tmp_path)
        session.create_token()
        token = session.account.state.token
        session.forget_token()
        session.account.poll_failed(token, "Checking the token failed: boom")
        assert session.error == ""
        session.close()


def test_a_late_pending_answer_never_overrides_normal(live_sim, tmp_path) -> None:
    # The poller's check (PENDING) can return after a manual check already saw NORMAL.
    from webull_nb.core.status import TokenStatus
    from webull_nb.core.tokens import TokenInfo

    session = Session(
        live_sim.app_key, live_sim.app_secret, endpoint=live_sim.url, token_dir=tmp_path
    )
    try:
        session.create_token()
        approve_latest(live_sim)
        assert session.check_token() == "NORMAL"
        token = session.account.state.token
        late = TokenInfo(token.reveal(), TokenStatus.PENDING, None)
        session.account._adopt_answer(late, expected=token)
        assert session.status == "NORMAL"
        assert TokenStore(tmp_path).load().status == "NORMAL"
        other = TokenStore(tmp_path)  # another process, still holding the stale answer
        assert not other.save(StoredToken(token.reveal(), None, "PENDING"))
    finally:
        session.close()
