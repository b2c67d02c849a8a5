"""The storage seam: the account layer runs unchanged on an in-memory backend.

Two ``Account`` objects on one ``MemoryStorage`` stand for two processes on one token
directory: whatever the account promises across processes must hold here with no file.
"""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from helpers import approve_latest

from webull_nb.core.secrets import Secret
from webull_nb.http.client import Client
from webull_nb.shared.account import Account
from webull_nb.shared.memory import MemoryStorage
from webull_nb.simulator import Simulator


def account_on(storage: MemoryStorage, sim: Simulator, clock) -> Account:
    client = Client(
        sim.app_key,
        Secret(sim.app_secret),
        base_url=sim.url,
        wait_for_rate_limit=False,
        clock=clock,
        limiters=(storage.ledger.limiter("create"), storage.ledger.limiter("check")),
    )
    return Account(client, storage, poll_interval=1e6)  # checks only when asked


@pytest.fixture
def pair(clock):
    with Simulator(clock=clock) as sim:
        storage = MemoryStorage()
        first, second = account_on(storage, sim, clock), account_on(storage, sim, clock)
        yield sim, storage, first, second
        first.close()
        second.close()


def adopted(account: Account, status: str) -> bool:
    """Wait (on an event, not a timer) until ``account`` shows ``status``."""
    seen = threading.Event()

    def listener(state) -> None:
        if state.status == status:
            seen.set()

    if account.subscribe(listener).status == status:
        seen.set()
    try:
        return seen.wait(5)
    finally:
        account.unsubscribe(listener)


def test_the_account_layer_imports_no_backend() -> None:
    code = (
        "import sys, webull_nb.shared.account, webull_nb.shared.memory; "
        "print(sorted(m for m in sys.modules if m.startswith('webull_nb.shared.files')))"
    )
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "[]"


def test_a_token_created_by_one_account_is_adopted_by_the_other(pair) -> None:
    sim, storage, first, second = pair
    assert first.create().status == "PENDING"
    assert adopted(second, "PENDING")  # through the storage, no API call of its own
    assert second.state.checks_made == 0
    approve_latest(sim)
    assert first.check().status == "NORMAL"
    assert adopted(second, "NORMAL")
    assert storage.records.load().status == "NORMAL"


def test_creates_from_both_at_once_send_one_sms(pair) -> None:
    sim, _, first, second = pair
    barrier = threading.Barrier(8)
    results: list[str] = []

    def create(account: Account) -> None:
        barrier.wait()
        results.append(account.create().status)

    threads = [threading.Thread(target=create, args=(a,)) for a in [first, second] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["PENDING"] * 8
    assert len(sim.sms_inbox()) == 1
    assert first.state.token.matches(second.state.token)


def test_the_rate_budget_is_shared_through_the_backend(pair) -> None:
    from webull_nb.core.errors import RateLimitError

    _, _, first, second = pair
    first.create()
    assert adopted(second, "PENDING")
    for account in [first, second] * 6:
        try:
            account.check()
        except RateLimitError as exc:
            assert exc.http_status is None  # refused here, before anything went out
    # Ten for the two together (the first poller's check included), not ten each.
    assert first.state.checks_made + second.state.checks_made == 10


def test_forgetting_in_one_forgets_in_both(pair) -> None:
    sim, storage, first, second = pair
    first.create()
    approve_latest(sim)
    first.check()
    assert adopted(second, "NORMAL")
    second.forget()
    assert adopted(first, "NONE")
    assert storage.records.load() is None


def test_a_stored_normal_is_not_replaced_by_a_pending_one(pair) -> None:
    sim, storage, first, second = pair
    first.create()
    approve_latest(sim)
    first.check()
    good = storage.records.load()
    assert second.create(force=True).status == "PENDING"  # a new SMS on purpose
    assert storage.records.load().token == good.token  # the good token is kept
