"""The storage interface's contract (``shared.storage``), run against every backend alike.

Each test runs on the memory backend, the file backend (a token directory under tmp_path) and
the Redis backend (a real ``redis-server`` of the test's own). A "twin" is a second storage
object of the same account: a second ``FileStorage`` on the same directory, a second
``RedisStorage`` on the same server and account; memory shares by instance (accounts of one
process share one ``MemoryStorage``), so its twin is the instance itself. Where a backend
legitimately differs (memory lives in this process only; Redis keeps short sections in
atomic scripts), the case is skipped with the reason, never loosened.

Time: the memory and file ledgers take an injected clock, moved by hand. The Redis ledger's
scripts read the server's clock, so there the same cases run over a short window in real
time (``Timeline``), and those variants are marked slow.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from test_redis_store import redis_storage

from webull_nb.core.errors import StoreError, StoreLockError
from webull_nb.core.status import RATE_LIMIT, RATE_WINDOW
from webull_nb.shared.host import HOST
from webull_nb.shared.storage import Ledger, Storage, StoredToken, may_replace

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "test:us:0123456789abcdef"  # redis_storage()'s default account

# Tokens of the cases: printable ASCII, as long as real ones.
A = "tok-A-" + "a" * 40
B = "tok-B-" + "b" * 40
C = "tok-C-" + "c" * 40
D = "tok-D-" + "d" * 40

# Whole milliseconds: the file backend keeps the expiry in epoch milliseconds (the SDK's format).
T0 = datetime(2026, 9, 21, 8, 30, 15, 123000, tzinfo=timezone.utc)

# A change made through one storage object shows in a watcher of another within this long:
# below every backend's fallback look (Redis reads every 60 s while idle, files every 0.5 s
# where the OS reports nothing), far above a pub/sub message's or inotify's latency.
NOTICE = 1.0
# A contender for a held lock gives up after this long.
SHORT = 0.1


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        """The time now."""
        return self.now


class Timeline:
    """Time as a ledger sees it: a fake clock moved by hand, or real time over a short window.

    ``period`` is the budget window the timed ledger cases use, ``lease`` the lease length,
    ``tolerance`` how far a wait measured in real time may be off (network, scheduling).
    """

    def __init__(self, clock: FakeClock | None, period: float, lease: float, tolerance: float):
        self.clock = clock
        self.period = period
        self.lease = lease
        self.tolerance = tolerance

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        if self.clock is not None:
            self.clock.now += seconds
        else:
            # The Redis scripts read the server's clock: only real time moves it, and there is
            # no event to wait on for a window to pass.
            time.sleep(seconds)

    @property
    def margin(self) -> float:
        """How far past a moment to go to be surely past it."""
        return self.tolerance + 0.01

    def approx(self, expected: float) -> Any:
        """``expected``, give or take what real time adds."""
        return pytest.approx(expected, abs=self.tolerance or 1e-9)


def record(token: str = A, status: str = "NORMAL", **fields: Any) -> StoredToken:
    """A token record with every field a round trip must keep."""
    values: dict[str, Any] = {
        "expires": T0 + timedelta(days=15),
        "created": T0,
        "last_used": T0 + timedelta(minutes=5),
        "confirmed": T0 + timedelta(minutes=1),
    }
    values.update(fields)
    return StoredToken(token, status=status, **values)


class Backend:
    """One backend under test: storage objects of one account, and what the contract needs."""

    name = ""

    def open(self) -> Storage:
        """A storage object of the account."""
        raise NotImplementedError

    def ledger(
        self,
        storage: Storage,
        *,
        clock: FakeClock | None = None,
        limit: int = RATE_LIMIT,
        period: float = RATE_WINDOW,
        host: str = HOST,
    ) -> Ledger:
        """A ledger over the same shared state as ``storage.ledger``, with these settings."""
        from webull_nb.shared.ledger import SharedLedger

        return SharedLedger(
            storage.ledger.state,  # type: ignore[attr-defined]
            clock=clock or time.monotonic,
            limit=limit,
            period=period,
            host=host,
        )

    def timeline(self) -> Timeline:
        """The ledger's time: a fake clock, which the memory and file ledgers take."""
        return Timeline(FakeClock(), period=RATE_WINDOW, lease=10.0, tolerance=0.0)

    def corruptions(self, storage: Storage) -> list[tuple[str, Callable[[], None]]]:
        """Ways to damage the stored record (the first leaves it replaceable by a save)."""
        raise NotImplementedError

    def lose_everything(self) -> None:
        """Make the store lose every record, as a store restarted empty does."""
        raise NotImplementedError

    def make_unreachable(self, storage: Storage) -> None:
        """Take the store away from under ``storage``."""
        raise NotImplementedError

    def change_silently(self, storage: Storage) -> object:
        """Change the record without the notification a write sends; return its signature."""
        raise NotImplementedError

    def child(self) -> list[str]:
        """The arguments for ``LOCK_HOLDER`` to open this account's storage in another process."""
        raise NotImplementedError


class MemoryBackend(Backend):
    """``shared.memory``: accounts of one process share one instance."""

    name = "memory"

    def __init__(self) -> None:
        from webull_nb.shared.memory import MemoryStorage

        self.storage = MemoryStorage()

    def open(self) -> Storage:
        """The one instance: its twin is itself."""
        return self.storage


class FilesBackend(Backend):
    """``shared.files``: one token directory, shared by every ``FileStorage`` on it."""

    name = "files"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def open(self) -> Storage:
        """A new ``FileStorage`` on the directory."""
        from webull_nb.shared.files.backend import FileStorage

        return FileStorage(self.directory)

    def corruptions(self, storage: Storage) -> list[tuple[str, Callable[[], None]]]:
        """Junk in token.txt, an impossible expiry, then a directory where token.txt belongs."""
        path = self.directory / "token.txt"

        def junk() -> None:
            path.write_bytes(b"\x00\xff\xfe binary junk \x80\n\x81\n")

        def expiry() -> None:
            path.write_text(f"{A}\n99999999999999999\nNORMAL\n")

        def directory() -> None:
            path.unlink()
            path.mkdir()

        return [("junk", junk), ("an impossible expiry", expiry), ("a directory", directory)]

    def make_unreachable(self, storage: Storage) -> None:
        """A file where the token directory was."""
        shutil.rmtree(self.directory)
        self.directory.write_text("not a directory")

    def child(self) -> list[str]:
        """The directory."""
        return ["files", str(self.directory)]


class RedisBackend(Backend):
    """``shared.redisstore``: every ``RedisStorage`` of one account on one server."""

    name = "redis"

    def __init__(self, server: Any) -> None:
        self.server = server

    def open(self) -> Storage:
        """A new ``RedisStorage`` of the account."""
        return redis_storage(self.server.url)

    def ledger(
        self,
        storage: Storage,
        *,
        clock: FakeClock | None = None,
        limit: int = RATE_LIMIT,
        period: float = RATE_WINDOW,
        host: str = HOST,
    ) -> Ledger:
        """A ``RedisLedger`` on the same keys (the server's clock: none can be injected)."""
        from webull_nb.shared.redisstore.ledger import RedisLedger
        from webull_nb.shared.redisstore.records import Fence

        assert clock is None, "the Redis ledger reads the server's clock"
        redis = storage  # a RedisStorage
        return RedisLedger(
            redis.client,  # type: ignore[attr-defined]
            redis.keys,  # type: ignore[attr-defined]
            Fence(),
            limit=limit,
            period=period,
            host=host,
        )

    def timeline(self) -> Timeline:
        """Real time over a short window: the scripts read the server's clock."""
        return Timeline(None, period=0.8, lease=0.6, tolerance=0.12)

    def corruptions(self, storage: Storage) -> list[tuple[str, Callable[[], None]]]:
        """A damaged sealed token, then a token sealed under another app secret."""
        key = storage.keys.record  # type: ignore[attr-defined]

        def damaged() -> None:
            self.server.command("HSET", key, "sealed", "not base64 at all!")

        def foreign() -> None:
            other = redis_storage(self.server.url, secret="another-secret")
            other.records.clear()
            assert other.records.save(record(B))

        return [("a damaged seal", damaged), ("another app secret's seal", foreign)]

    def lose_everything(self) -> None:
        """FLUSHALL, as a server restarted without persistence."""
        self.server.command("FLUSHALL")

    def make_unreachable(self, storage: Storage) -> None:
        """Stop the server."""
        self.server.stop()

    def change_silently(self, storage: Storage) -> object:
        """A new stamp without a PUBLISH: a message lost in a reconnect."""
        stamp = uuid.uuid4().hex
        self.server.command("HSET", storage.keys.record, "stamp", stamp)  # type: ignore[attr-defined]
        return stamp

    def child(self) -> list[str]:
        """The server's URL and the account."""
        return ["redis", self.server.url, ACCOUNT]


BACKENDS = ("memory", "files", "redis")
# Where a backend legitimately differs from the others: backend -> case -> why the case does
# not apply there. Tests name their cases in ``backends(...)``, which skips them with this reason.
DIFFERS: dict[str, dict[str, str]] = {
    "memory": {
        "processes": "memory lives in this process only",
        "corrupt": "memory holds the record as a Python value: nothing can damage it",
        "lost": "memory never loses a record by itself",
        "unreachable": "memory is always there and always writable",
        "silent": "every write wakes the watcher itself: there is no notification to lose",
    },
    "files": {
        "lost": "a missing token.txt means forgotten (the SDK deletes it too), never lost",
        "silent": "the OS reports every change of a token directory: none is lost for wake",
    },
    "redis": {
        # backend.py: "The short-section lock is this process's only: every shared write is
        # one atomic script."
        "shared lock": "the short-section lock is the storage object's own; shared writes "
        "are atomic scripts",
        "write age": "writes are one atomic script: there is never a half-written record to "
        "wait out, so there is no age to report",
    },
}


def backends(*cases: str, timed: bool = False, **values: Any) -> list[Any]:
    """Every backend as a parameter of ``backend``, skipped where one of ``cases`` differs.

    ``timed``: time passes in the test, which on Redis is real time (seconds): marked slow.
    ``values``: further parameters of the same case, after the backend.
    """
    params = []
    for name in BACKENDS:
        marks: list[Any] = [
            pytest.mark.skip(reason=f"{name}: {DIFFERS[name][case]}")
            for case in cases
            if case in DIFFERS[name]
        ][:1]
        if timed and name == "redis":
            marks.append(pytest.mark.slow)
        params.append(
            pytest.param(
                name, *values.values(), marks=marks, id="-".join([name, *map(str, values.values())])
            )
        )
    return params


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each backend in turn (Redis on a server of the test's own)."""
    if request.param == "memory":
        return MemoryBackend()
    if request.param == "files":
        return FilesBackend(tmp_path / "tokens")
    return RedisBackend(request.getfixturevalue("redis_server"))


# --- records -----------------------------------------------------------------------------------


def test_an_empty_store_loads_none_without_a_problem(backend: Backend) -> None:
    records = backend.open().records
    assert records.load() is None
    assert records.problem == ""
    assert records.seconds_since_write() is None


@pytest.mark.parametrize("expires", [T0 + timedelta(days=15), None], ids=["expiry", "no-expiry"])
def test_a_saved_record_loads_back_field_for_field_in_every_storage_object(
    backend: Backend, expires: datetime | None
) -> None:
    first, twin = backend.open(), backend.open()
    saved = record(A, "NORMAL", expires=expires, written=T0 - timedelta(days=3))
    before = datetime.now(timezone.utc)
    assert first.records.save(saved, "app-key-hint") is True
    after = datetime.now(timezone.utc)
    for storage in (first, twin):
        loaded = storage.records.load()
        assert loaded is not None
        for name in ("token", "expires", "status", "created", "last_used", "confirmed"):
            assert getattr(loaded, name) == getattr(saved, name), name
        # ``written`` is the store's own: when the record was written, not what was passed.
        assert loaded.written is not None
        assert before - timedelta(seconds=1) <= loaded.written <= after + timedelta(seconds=1)
        assert storage.records.problem == ""


# (case, stored, new, news_only, whether the new record wins); stored is (token, status) or
# None. The last column spells out what ``may_replace`` decides: the table pins the rule too.
REPLACE_CASES = [
    ("a first token", None, (A, "PENDING"), False, True),
    ("approval of the stored token", (A, "PENDING"), (A, "NORMAL"), False, True),
    ("news of the approval", (A, "PENDING"), (A, "NORMAL"), True, True),
    ("the same news again", (A, "NORMAL"), (A, "NORMAL"), True, True),
    ("news that a NORMAL token went INVALID", (A, "NORMAL"), (A, "INVALID"), True, True),
    ("EXPIRED then INVALID (as far along)", (A, "EXPIRED"), (A, "INVALID"), True, True),
    ("a late PENDING answer after NORMAL", (A, "NORMAL"), (A, "PENDING"), True, False),
    ("an older status, not as news", (A, "NORMAL"), (A, "PENDING"), False, False),
    ("NORMAL news after INVALID", (A, "INVALID"), (A, "NORMAL"), True, False),
    ("an unverified new token over a NORMAL one", (A, "NORMAL"), (B, "PENDING"), False, False),
    ("an INVALID other token over a NORMAL one", (A, "NORMAL"), (B, "INVALID"), False, False),
    ("a new NORMAL token over a NORMAL one", (A, "NORMAL"), (B, "NORMAL"), False, True),
    ("a new token over a PENDING one", (A, "PENDING"), (B, "PENDING"), False, True),
    ("a new token over an EXPIRED one", (A, "EXPIRED"), (B, "PENDING"), False, True),
    ("a new token over an INVALID one", (A, "INVALID"), (B, "PENDING"), False, True),
    ("news about another token", (A, "PENDING"), (B, "NORMAL"), True, False),
    ("news of a token created as long ago", (A, "NORMAL"), (B, "NORMAL"), True, False),
]


@pytest.mark.parametrize(
    ("created", "status", "wins"),
    [
        (T0 + timedelta(minutes=1), "NORMAL", True),  # approved: what "Send a new code" was for
        (T0 + timedelta(minutes=1), "PENDING", False),  # not yet: the good token stays
        (T0 - timedelta(minutes=1), "NORMAL", False),  # a late answer about an older token
        (None, "NORMAL", False),  # when it was created is unknown: nothing to go by
    ],
)
def test_news_of_a_newer_token_approved_replaces_a_stored_normal_one(
    backend: Backend, created: datetime | None, status: str, wins: bool
) -> None:
    first, twin = backend.open(), backend.open()
    assert first.records.save(record(A, "NORMAL"))
    incoming = record(B, status, created=created)
    assert twin.records.save(incoming, news_only=True) is wins
    assert first.records.load().token == (B if wins else A)


@pytest.mark.parametrize(
    ("stored", "new", "news_only", "wins"),
    [case[1:] for case in REPLACE_CASES],
    ids=[case[0] for case in REPLACE_CASES],
)
def test_a_save_wins_exactly_when_may_replace_says_so(
    backend: Backend,
    stored: tuple[str, str] | None,
    new: tuple[str, str],
    news_only: bool,
    wins: bool,
) -> None:
    first, twin = backend.open(), backend.open()
    current = record(*stored, last_used=None) if stored else None
    if current is not None:
        assert first.records.save(current) is True
    incoming = record(*new, last_used=T0 + timedelta(hours=1))
    assert may_replace(current, incoming, news_only=news_only) is wins
    before = first.records.signature()
    # Through the twin: the rule holds whichever storage object writes.
    assert twin.records.save(incoming, news_only=news_only) is wins
    loaded = first.records.load()
    kept = incoming if wins else current
    if kept is None:
        assert loaded is None
    else:
        assert loaded is not None
        assert (loaded.token, loaded.status, loaded.last_used) == (
            kept.token,
            kept.status,
            kept.last_used,
        )
    assert (first.records.signature() != before) is wins  # a refused save writes nothing


def test_news_never_brings_back_a_forgotten_token(backend: Backend) -> None:
    first, twin = backend.open(), backend.open()
    assert first.records.save(record(A, "PENDING"))
    twin.records.clear()
    assert first.records.load() is None
    assert first.records.save(record(A, "NORMAL"), news_only=True) is False
    assert twin.records.load() is None
    assert first.records.save(record(B, "PENDING")) is True  # a new token is welcome


def test_news_on_a_store_that_never_held_a_record_lands_only_where_it_counts_as_lost(
    backend: Backend,
) -> None:
    records = backend.open().records
    assert records.load() is None
    # A store that cannot tell "never written" from "lost everything" (Redis) says it is
    # vacant and takes the news, as it takes a write-back; where an empty store means
    # forgotten (memory, files), news about no token is dropped.
    lost = records.vacant()
    assert records.save(record(A, "NORMAL"), news_only=True) is lost
    assert (records.load() is not None) is lost


def test_touch_records_a_use_of_the_stored_token_only(backend: Backend) -> None:
    first, twin = backend.open(), backend.open()
    twin.records.touch(A, T0)  # nothing stored: nothing to touch
    assert first.records.load() is None
    saved = record(A, "NORMAL", last_used=None)
    assert first.records.save(saved)
    before = first.records.signature()
    used = T0 + timedelta(hours=2)
    twin.records.touch(A, used)
    loaded = first.records.load()
    assert loaded is not None and loaded.last_used == used
    for name in ("token", "status", "expires", "created", "confirmed"):
        assert getattr(loaded, name) == getattr(saved, name), name
    touched = first.records.signature()
    assert touched != before
    twin.records.touch(B, used + timedelta(hours=1))  # not the stored token
    loaded = first.records.load()
    assert loaded is not None and loaded.last_used == used
    assert first.records.signature() == touched


def test_clear_forgets_for_every_storage_object(backend: Backend) -> None:
    first, twin = backend.open(), backend.open()
    twin.records.clear()  # nothing to clear: no error
    assert first.records.save(record(A))
    before = twin.records.signature()
    first.records.clear()
    assert twin.records.signature() != before
    assert twin.records.load() is None and first.records.load() is None
    assert twin.records.problem == ""
    assert twin.records.save(record(B, "PENDING"))
    assert first.records.load().token == B


def test_the_signature_changes_on_every_write_and_never_on_a_read(backend: Backend) -> None:
    first, twin = backend.open(), backend.open()
    seen = [first.records.signature()]

    def wrote() -> None:
        now = first.records.signature()
        assert now != seen[-1], "a write left the signature as it was"
        assert twin.records.signature() == now, "two objects disagree about one record"
        seen.append(now)

    def read_only() -> None:
        first.records.load()
        twin.records.load()
        first.records.vacant()
        assert first.records.signature() == seen[-1], "a read changed the signature"

    read_only()
    assert first.records.save(record(A, "PENDING"))
    wrote()
    read_only()
    assert twin.records.save(record(A, "NORMAL"), news_only=True)
    wrote()
    twin.records.touch(A, T0 + timedelta(days=1))
    wrote()
    assert not first.records.save(record(A, "PENDING"), news_only=True)  # refused: no write
    read_only()
    assert first.records.save(record(A, "NORMAL"), news_only=True)  # the same record again
    wrote()
    first.records.clear()
    wrote()
    read_only()
    assert twin.records.save(record(A, "NORMAL"))  # the very first record once more
    wrote()


def test_a_forget_is_not_a_loss(backend: Backend) -> None:
    records = backend.open().records
    assert records.save(record(A))
    assert records.load() is not None
    assert records.vacant() is False
    records.clear()
    assert records.load() is None
    assert records.vacant() is False


@pytest.mark.parametrize("backend", backends("lost"), indirect=True)
def test_a_store_that_lost_everything_is_vacant_and_takes_news_back(backend: Backend) -> None:
    first, twin = backend.open(), backend.open()
    assert first.records.save(record(A, "PENDING"))
    assert first.records.load() is not None
    backend.lose_everything()
    assert twin.records.load() is None
    assert twin.records.vacant() is True
    first.records.signature()  # what a watcher looks at first
    assert first.records.vacant() is True
    # A process that knows the token writes it back; news about it may land too.
    assert twin.records.save(record(A, "NORMAL"), news_only=True)
    assert first.records.load().status == "NORMAL"
    assert first.records.vacant() is False


@pytest.mark.parametrize("backend", backends("write age"), indirect=True)
def test_seconds_since_write_counts_from_the_last_write(backend: Backend) -> None:
    first, twin = backend.open(), backend.open()
    started = time.monotonic()
    assert first.records.save(record(A))
    age = twin.records.seconds_since_write()
    assert age is not None
    assert 0 <= age <= time.monotonic() - started + 1  # files: mtime is coarse


@pytest.mark.parametrize("backend", backends("corrupt"), indirect=True)
def test_a_damaged_record_reads_as_none_with_a_problem_and_never_raises(backend: Backend) -> None:
    storage = backend.open()
    for label, damage in backend.corruptions(storage):
        storage.records.clear()
        assert storage.records.save(record(A)), label
        damage()
        assert storage.records.load() is None, label
        assert storage.records.problem, label
        storage.records.signature()  # neither raises
        storage.records.vacant()


@pytest.mark.parametrize("backend", backends("corrupt"), indirect=True)
def test_a_new_token_replaces_a_damaged_record(backend: Backend) -> None:
    storage = backend.open()
    assert storage.records.save(record(A))
    _, damage = backend.corruptions(storage)[0]
    damage()
    assert storage.records.load() is None and storage.records.problem
    assert storage.records.save(record(B, "PENDING")) is True
    loaded = storage.records.load()
    assert loaded is not None and loaded.token == B
    assert storage.records.problem == ""


@pytest.mark.parametrize("backend", backends("unreachable"), indirect=True)
def test_a_store_out_of_reach_never_raises_on_reading_and_refuses_a_new_token(
    backend: Backend,
) -> None:
    storage = backend.open()
    storage.records.ensure_writable()  # while it is there: no error
    assert storage.records.save(record(A))
    last = storage.records.load()
    backend.make_unreachable(storage)
    loaded = storage.records.load()
    # Redis shows the token as last read (a good token is never dropped for a paused
    # server); a token directory that is gone holds none.
    assert loaded == (last if backend.name == "redis" else None)
    assert storage.records.problem
    storage.records.signature()
    storage.records.vacant()
    with pytest.raises(StoreError):
        storage.records.ensure_writable()


def test_housekeeping_and_wake_leave_the_record_alone(backend: Backend) -> None:
    storage = backend.open()
    assert storage.records.save(record(A))
    before = storage.records.signature()
    storage.housekeeping()
    storage.wake()
    assert storage.records.signature() == before
    assert storage.records.load().token == A


# --- the ledger: budget, line, lease, clock offset ---------------------------------------------


def test_ten_checks_per_window_then_the_eleventh_is_told_to_wait(backend: Backend) -> None:
    first, twin = backend.open(), backend.open()
    ledger = first.ledger
    started = time.monotonic()
    assert [ledger.try_acquire("check") for _ in range(RATE_LIMIT)] == [0.0] * RATE_LIMIT
    taken = time.monotonic() - started
    wait = ledger.try_acquire("check")
    # Refused: the wait until the oldest of the ten leaves the 30.5 s window.
    assert RATE_WINDOW - taken - 1 <= wait <= RATE_WINDOW
    assert RATE_WINDOW - taken - 1 <= ledger.wait_time("check") <= RATE_WINDOW
    since, until = ledger.timing("check")
    assert 0 <= since <= taken + 1 and until == pytest.approx(wait, abs=1)
    # One budget for every storage object of the account, and through its limiter.
    assert twin.ledger.try_acquire("check") > 0
    assert twin.ledger.limiter("check").try_acquire() > 0
    assert twin.ledger.limiter("check").wait_time() > 0
    # Kinds have budgets of their own.
    assert twin.ledger.timing("create")[0] == float("inf")
    assert twin.ledger.limiter("create").try_acquire() == 0.0


def test_a_limiter_spends_the_same_budget(backend: Backend) -> None:
    storage = backend.open()
    limiter = storage.ledger.limiter("check")
    assert [limiter.try_acquire() for _ in range(RATE_LIMIT)] == [0.0] * RATE_LIMIT
    assert storage.ledger.try_acquire("check") > 0


@pytest.mark.parametrize("backend", backends(timed=True), indirect=True)
def test_the_window_frees_the_budget_and_a_refused_caller_takes_nothing(
    backend: Backend,
) -> None:
    line = backend.timeline()
    period = line.period
    first, twin = backend.open(), backend.open()
    ledger = backend.ledger(first, clock=line.clock, period=period)
    other = backend.ledger(twin, clock=line.clock, period=period)
    assert [ledger.try_acquire("check") for _ in range(RATE_LIMIT)] == [0.0] * RATE_LIMIT
    assert other.try_acquire("check") == line.approx(period)
    line.advance(period / 2)
    assert other.try_acquire("check") == line.approx(period / 2)
    assert ledger.wait_time("check") == line.approx(period / 2)
    line.advance(period / 2 + line.margin)
    # The refused calls took nothing: a whole budget again, and not one slot more.
    assert [other.try_acquire("check") for _ in range(RATE_LIMIT)] == [0.0] * RATE_LIMIT
    assert ledger.try_acquire("check") == line.approx(period)


@pytest.mark.parametrize("backend", backends(timed=True), indirect=True)
def test_waiters_are_served_in_order_ahead_of_callers_that_do_not_wait(
    backend: Backend,
) -> None:
    line = backend.timeline()
    period, gap = line.period, line.period * 0.375
    first, twin = backend.open(), backend.open()
    mine = backend.ledger(first, clock=line.clock, limit=2, period=period)
    theirs = backend.ledger(twin, clock=line.clock, limit=2, period=period)
    assert mine.try_acquire("check") == 0.0  # the first slot
    line.advance(gap)
    assert theirs.try_acquire("check") == 0.0  # the second, ``gap`` later: the budget is spent
    first_turn = mine.try_acquire("check", "waiter-a")
    assert first_turn == line.approx(period - gap)  # when the first slot leaves the window
    # The second in line waits for the second slot, even asking through another object.
    assert theirs.try_acquire("check", "waiter-b") == line.approx(period)
    # A caller that does not wait goes behind every waiter: the first slot's next round.
    assert mine.try_acquire("check") == line.approx(2 * period - gap)
    assert theirs.timing("check")[1] == line.approx(2 * period - gap)
    assert mine.try_acquire("check", "waiter-a") == line.approx(first_turn)  # its place kept
    line.advance(first_turn + line.margin)  # one slot free, the other not yet
    assert theirs.try_acquire("check", "waiter-b") > 0  # not its turn: a is first
    assert theirs.try_acquire("check") > 0  # nor a passer-by's
    assert mine.try_acquire("check", "waiter-a") == 0.0  # a's turn
    second_turn = theirs.try_acquire("check", "waiter-b")
    assert second_turn == line.approx(gap - line.margin)  # now first in line
    line.advance(second_turn + line.margin)
    assert theirs.try_acquire("check", "waiter-b") == 0.0


def test_a_waiter_that_leaves_the_line_lets_the_next_one_up(backend: Backend) -> None:
    line = backend.timeline()
    first, twin = backend.open(), backend.open()
    # A one-slot budget: a full window that does not pass during the test, even in real time.
    mine = backend.ledger(first, clock=line.clock, limit=1)
    theirs = backend.ledger(twin, clock=line.clock, limit=1)
    assert mine.try_acquire("check") == 0.0
    turn = mine.try_acquire("check", "waiter-a")
    assert turn == pytest.approx(RATE_WINDOW, abs=1)
    assert theirs.try_acquire("check", "waiter-b") == pytest.approx(turn + RATE_WINDOW, abs=1)
    mine.leave_queue("check", "waiter-a")
    assert theirs.try_acquire("check", "waiter-b") == pytest.approx(turn, abs=1)
    theirs.leave_queue("check", "waiter-b")
    theirs.leave_queue("check", "nobody-in-line")  # no error
    assert mine.try_acquire("check") == pytest.approx(turn, abs=1)  # nobody in line now


@pytest.mark.parametrize("backend", backends(timed=True), indirect=True)
def test_the_poll_lease_is_held_renewed_refused_taken_over_and_released(
    backend: Backend,
) -> None:
    line = backend.timeline()
    length = line.lease
    first, twin = backend.open(), backend.open()
    mine = backend.ledger(first, clock=line.clock)
    theirs = backend.ledger(twin, clock=line.clock)
    assert mine.claim_lease("poller-a", length) == 0.0
    assert mine.claim_lease("poller-a", length) == 0.0  # its holder renews it
    left = theirs.claim_lease("poller-b", length)
    assert 0 < left <= length
    theirs.release_lease("poller-b")  # not the holder: nothing to give up
    assert theirs.claim_lease("poller-b", length) > 0
    line.advance(length * 0.6)
    assert mine.claim_lease("poller-a", length) == 0.0  # renewed: another full length
    line.advance(length * 0.6)  # past the first claim's end, within the renewal's
    left = theirs.claim_lease("poller-b", length)
    assert left == line.approx(length * 0.4)
    assert left > 0
    line.advance(left + line.margin)
    assert theirs.claim_lease("poller-b", length) == 0.0  # lapsed: taken over
    assert mine.claim_lease("poller-a", length) > 0  # and no longer the old holder's
    mine.release_lease("poller-a")  # the old holder lets go of what it lost: no effect
    assert mine.claim_lease("poller-a", length) > 0
    theirs.release_lease("poller-b")
    assert mine.claim_lease("poller-a", length) == 0.0  # free at once


def test_the_service_clock_offset_is_shared_with_this_hosts_processes(backend: Backend) -> None:
    first, twin = backend.open(), backend.open()
    assert first.ledger.service_offset() is None
    first.ledger.record_offset(1.25)
    assert twin.ledger.service_offset() == 1.25
    twin.ledger.record_offset(-0.5)
    assert first.ledger.service_offset() == -0.5
    # An offset is against this host's clock: another host's is not ours.
    elsewhere = backend.ledger(twin, host="another-host-clock")
    assert elsewhere.service_offset() is None


# --- locks -------------------------------------------------------------------------------------


LOCKS = ["lock", "create_lock"]


class Holder:
    """A thread that holds a lock until told to let go."""

    def __init__(self, lock: Any) -> None:
        self.lock = lock
        self.held = threading.Event()
        self.let_go = threading.Event()
        self.failed: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            with self.lock.hold(timeout=5):
                self.held.set()
                self.let_go.wait(30)
        except BaseException as exc:  # reported to the test's thread
            self.failed = exc
            self.held.set()

    def __enter__(self) -> Holder:
        self.thread.start()
        assert self.held.wait(10)
        assert self.failed is None, self.failed
        return self

    def __exit__(self, *exc: object) -> None:
        self.let_go.set()
        self.thread.join(10)


def contender(lock: Any, timeout: float) -> tuple[threading.Thread, threading.Event]:
    """A thread that waits up to ``timeout`` for ``lock``; the event is set once it has it."""
    got = threading.Event()

    def run() -> None:
        with contextlib.suppress(StoreLockError), lock.hold(timeout=timeout):
            got.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, got


@pytest.mark.parametrize(
    ("backend", "objects", "which"),
    [
        param
        for objects in ("one object", "two objects")
        for which in LOCKS
        for param in backends(
            *(["shared lock"] if (objects, which) == ("two objects", "lock") else []),
            objects=objects,
            which=which,
        )
    ],
    indirect=["backend"],
)
def test_a_held_lock_excludes_other_threads_until_it_is_released(
    backend: Backend, objects: str, which: str
) -> None:
    first = backend.open()
    second = first if objects == "one object" else backend.open()
    with Holder(getattr(first, which)):
        started = time.monotonic()
        with pytest.raises(StoreLockError), getattr(second, which).hold(timeout=SHORT):
            pytest.fail("held by two threads at once")
        waited = time.monotonic() - started
        assert SHORT - 0.01 <= waited < SHORT + 3  # the documented error, after the timeout
        thread, got = contender(getattr(second, which), timeout=10)
        assert not got.wait(SHORT)  # still held
    assert got.wait(5)  # handed over once released
    thread.join(5)


@pytest.mark.parametrize("which", LOCKS)
def test_a_section_that_raises_still_lets_go(backend: Backend, which: str) -> None:
    lock = getattr(backend.open(), which)
    with pytest.raises(RuntimeError), lock.hold(timeout=SHORT):
        raise RuntimeError("the section failed")
    thread, got = contender(lock, timeout=SHORT)
    thread.join(5)
    assert got.is_set()


LOCK_HOLDER = textwrap.dedent(
    """
    import sys
    kind, where, *rest = sys.argv[1:]
    which = rest.pop()
    if kind == "files":
        from webull_nb.shared.files.backend import FileStorage
        storage = FileStorage(where)
    else:
        from webull_nb.core.secrets import Secret
        from webull_nb.shared.redisstore.backend import RedisStorage
        storage = RedisStorage(where, rest[0], "app-key-in-clear", Secret("s3cret"))
    with getattr(storage, which).hold(timeout=10):
        print("held", flush=True)
        sys.stdin.readline()
    print("released", flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("backend", "which"),
    [
        *backends("processes", "shared lock", which="lock"),
        *backends("processes", which="create_lock"),
    ],
    indirect=["backend"],
)
def test_a_lock_held_by_another_process_excludes_this_one(backend: Backend, which: str) -> None:
    lock = getattr(backend.open(), which)
    child = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, *backend.child(), which],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(StoreLockError), lock.hold(timeout=SHORT):
            pytest.fail("held by two processes at once")
        child.stdin.write("\n")
        child.stdin.flush()
        with lock.hold(timeout=10):
            assert child.stdout.readline().strip() == "released"
        assert child.wait(10) == 0
    finally:
        child.kill()
        child.wait()
        child.stdin.close()
        child.stdout.close()


# --- change notification -----------------------------------------------------------------------


class Adopter:
    """A ``storage.Watched`` that adopts what its storage's record holds, as an account does."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.adopted = storage.records.signature()
        #: (token, status, signature, thread name) of every reload.
        self.reloads: list[tuple[str | None, str | None, object, str]] = []
        self.changed = threading.Condition()

    def store_signature(self) -> object:
        """The signature as last adopted."""
        return self.adopted

    def current_signature(self) -> object:
        """The signature now."""
        return self.storage.records.signature()

    def reload(self) -> None:
        """Adopt the record, and tell the test."""
        signature = self.storage.records.signature()
        stored = self.storage.records.load()
        with self.changed:
            self.adopted = signature
            self.reloads.append(
                (
                    stored.token if stored else None,
                    stored.status if stored else None,
                    signature,
                    threading.current_thread().name,
                )
            )
            self.changed.notify_all()

    def watch_fast(self) -> bool:
        """No change is expected soon: notification must not rely on a fast fallback."""
        return False

    def saw(self, token: str | None, status: str | None = None, timeout: float = NOTICE) -> bool:
        """Wait until a reload found ``token`` (with ``status``, if given)."""

        def found() -> bool:
            return any(
                t == token and (status is None or s == status) for t, s, _, _ in self.reloads
            )

        with self.changed:
            return self.changed.wait_for(found, timeout)


@contextlib.contextmanager
def watching(storage: Storage, *adopters: Adopter) -> Iterator[None]:
    """``storage`` notifies ``adopters`` within the block."""
    for adopter in adopters:
        storage.watch(adopter)
    try:
        yield
    finally:
        for adopter in adopters:
            storage.unwatch(adopter)


def test_a_write_through_another_storage_object_reaches_a_watcher(backend: Backend) -> None:
    first, twin = backend.open(), backend.open()
    assert first.records.save(record(A, "PENDING"))
    adopter = Adopter(first)
    with watching(first, adopter):
        assert twin.records.save(record(A, "NORMAL"), news_only=True)
        assert adopter.saw(A, "NORMAL")
        twin.records.clear()
        assert adopter.saw(None)  # a forget, too
        assert twin.records.save(record(B, "PENDING"))
        assert adopter.saw(B, "PENDING")
    # From a background thread, never the writer's.
    assert threading.current_thread().name not in {name for *_, name in adopter.reloads}


def test_an_unwatched_target_hears_no_more(backend: Backend) -> None:
    first, twin = backend.open(), backend.open()
    assert first.records.save(record(A))
    kept, dropped = Adopter(first), Adopter(first)
    with watching(first, kept):
        first.watch(dropped)
        first.unwatch(dropped)
        # Three writes, each seen by the target still watched: a look that began before the
        # unwatch may still reach the other with the first, never with the last.
        for token in (B, C, D):
            assert twin.records.save(record(token))
            assert kept.saw(token)
    assert D not in {token for token, *_ in dropped.reloads}


@pytest.mark.parametrize("backend", backends("silent"), indirect=True)
def test_wake_finds_a_change_whose_notification_was_lost(backend: Backend) -> None:
    storage, twin = backend.open(), backend.open()
    assert storage.records.save(record(A))
    adopter = Adopter(storage)
    with watching(storage, adopter):
        # Once a notified write has been adopted, the watcher has had its first look: the
        # next one without a notification is due to ``wake`` alone.
        assert twin.records.save(record(B))
        assert adopter.saw(B)
        signature = backend.change_silently(storage)
        storage.wake()
        with adopter.changed:
            assert adopter.changed.wait_for(
                lambda: any(s == signature for _, _, s, _ in adopter.reloads), NOTICE
            )
