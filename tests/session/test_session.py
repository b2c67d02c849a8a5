"""The Session model: lifecycle, poller, waiting, stored tokens, signed headers for later cells."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from helpers import Canned, FaultServer

import webull_nb
from webull_nb.errors import (
    CredentialsError,
    RateLimitError,
    StoreError,
    TokenStateError,
    WebullError,
)
from webull_nb.session import Session, current
from webull_nb.shared.files.store import TokenStore
from webull_nb.shared.storage import StoredToken
from webull_nb.simulator import Simulator

SECRET = "s3cret-value-that-must-never-leak"


@pytest.fixture
def sessions():
    made: list[Session] = []

    def make(sim, **kw) -> Session:
        kw.setdefault("clock", sim.clock)
        session = Session(sim.app_key, sim.app_secret, endpoint=sim.url, **kw)
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()


def wait_for(session: Session, predicate, timeout: float = 10.0) -> None:
    """Block until ``predicate(session)`` holds, woken by trait changes (no polling sleeps)."""
    changed = threading.Event()
    handler = lambda change: changed.set()  # noqa: E731
    session.observe(handler)
    try:
        end = time.monotonic() + timeout
        while not predicate(session):
            assert time.monotonic() < end, f"timed out; session is {session!r}"
            changed.wait(0.5)
            changed.clear()
    finally:
        session.unobserve(handler)


def trait_values(session: Session) -> str:
    return json.dumps({name: str(getattr(session, name)) for name in session.trait_names()})


# --- credentials ----------------------------------------------------------------------------------


def test_no_credentials_says_how_to_supply_them() -> None:
    with pytest.raises(CredentialsError, match="WEBULL_APP_KEY and WEBULL_APP_SECRET"):
        Session()
    later = Session(credentials_later=True)
    assert not later.has_credentials
    with pytest.raises(CredentialsError, match="set_credentials"):
        later.create_token()


def test_credentials_and_region_from_environment(monkeypatch, sim) -> None:
    monkeypatch.setenv("WEBULL_APP_KEY", sim.app_key)
    monkeypatch.setenv("WEBULL_APP_SECRET", sim.app_secret)
    monkeypatch.setenv("WEBULL_REGION", "hk")
    monkeypatch.setenv("WEBULL_ENVIRONMENT", "uat")
    session = Session(endpoint=sim.url, clock=sim.clock)
    assert (session.region, session.environment, session.has_credentials) == ("hk", "uat", True)
    assert session.guide_url == "https://developer.webull.hk/apis/docs/authentication/token"
    session.close()


def test_wrong_secret_shows_what_was_signed(sim, session) -> None:
    session.set_credentials(sim.app_key, SECRET)
    with pytest.raises(WebullError, match="last_canonical_string shows what was signed"):
        session.create_token()
    assert session.last_canonical_string.startswith("/openapi/auth/token/create&host=")
    assert SECRET not in session.last_canonical_string


def test_secret_and_full_token_never_in_traits_or_repr(sim, session) -> None:
    session.set_credentials(sim.app_key, SECRET)  # wrong on purpose: the error must not leak
    with pytest.raises(WebullError):
        session.create_token()
    session.set_credentials(sim.app_key, sim.app_secret)
    session.create_token()
    token = sim.sms_inbox()[-1]["token"]
    for text in (repr(session), trait_values(session), str(vars(session))):
        assert SECRET not in text and sim.app_secret not in text and token not in text


# --- lifecycle ------------------------------------------------------------------------------------


def test_create_verify_wait_normal_and_stored(sim, sessions, clock, approve_latest) -> None:
    session = sessions(sim, poll_interval=0.05)
    assert session.create_token() == "PENDING"
    assert session.deadline == datetime.fromtimestamp(
        int((clock() + 300) * 1000) / 1000, tz=timezone.utc
    )
    assert session.seconds_left() == pytest.approx(300, abs=1)
    assert session.token_hint.count("…") == 1
    approve_latest(sim)
    assert session.wait(10) == "NORMAL"
    assert session.deadline is None and session.checks_made >= 1
    stored = session.store.load()
    assert stored.status == "NORMAL" and sim.token_status(stored.token) == "NORMAL"


def test_five_minute_window_on_a_fake_clock(session, clock) -> None:
    session.create_token()
    clock.advance(301)
    assert session.check_token() == "EXPIRED"
    assert "create a new token" in session.error and session.seconds_left() is None


def test_fifteen_idle_days_on_a_fake_clock(sim, session, clock, approve_latest) -> None:
    session.create_token()
    approve_latest(sim)
    assert session.check_token() == "NORMAL"
    session.get("/openapi/account/list")
    assert session.last_used == datetime.fromtimestamp(clock(), tz=timezone.utc)
    assert session.valid_until() == session.last_used + timedelta(days=15)
    clock.advance(15 * 86400 + 1)
    assert session.check_token() == "INVALID"
    with pytest.raises(TokenStateError, match="unused for 15 days"):
        session.headers("GET", "/openapi/account/list")


def test_a_token_that_cannot_be_kept_is_never_created(sim, sessions, tmp_path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    session = sessions(sim, token_dir=blocker)
    with pytest.raises(StoreError, match="it is a file, not a directory") as caught:
        session.create_token()
    assert str(blocker) in str(caught.value) and "no SMS was sent" in str(caught.value)
    assert session.error.startswith("Creating a token failed: cannot keep a token in")
    assert sim.sms_inbox() == [] and session.status == "NONE"


def test_create_again_reuses_the_pending_token_without_new_sms(sim, session) -> None:
    session.create_token()
    hint = session.token_hint
    session.create_token()
    assert session.token_hint == hint and len(sim.sms_inbox()) == 1


def test_forget_token_clears_here_and_in_the_store(sim, session, approve_latest) -> None:
    session.create_token()
    approve_latest(sim)
    session.check_token()
    session.forget_token()
    assert (session.status, session.token_hint) == ("NONE", "")
    assert session.store.load() is None


def test_new_session_reuses_a_stored_normal_token_without_sms(
    sim, sessions, approve_latest
) -> None:
    first = sessions(sim)
    first.create_token()
    approve_latest(sim)
    first.check_token()
    first.close()
    creates_before = sum(1 for *_, path, _ in sim.requests_seen if "create" in path)
    second = sessions(sim)
    assert (second.status, second.restored) == ("NORMAL", True)
    assert second.ensure_token() == "NORMAL"
    assert sim.sms_inbox() == []
    assert sum(1 for *_, path, _ in sim.requests_seen if "create" in path) == creates_before


def test_ensure_token_creates_and_waits(clock, sessions) -> None:
    with Simulator(clock=clock, auto_verify_after=0) as sim:
        session = sessions(sim, poll_interval=0.05)
        assert session.ensure_token(timeout=10) == "NORMAL"


def test_uat_needs_no_verification(clock, sessions) -> None:
    with Simulator(environment="uat", clock=clock) as sim:
        session = sessions(sim, environment="uat")
        assert session.ensure_token() == "NORMAL"
        assert session.token_check_enabled is False


# --- the poller -----------------------------------------------------------------------------------


def test_poller_stays_inside_the_rate_limit_shared_with_manual_checks(sim, sessions) -> None:
    session = sessions(sim, poll_interval=0)
    session.create_token()
    wait_for(session, lambda s: s.checks_made >= 10)
    assert session._client.check_limiter.wait_time() > 25
    with pytest.raises(RateLimitError, match="next slot is free in"):
        session.check_token()
    assert "next slot is free" in session.error
    statuses = [status for *_, path, status in sim.requests_seen if path.endswith("check")]
    assert len(statuses) == 10 and set(statuses) == {200}


@pytest.mark.slow
def test_poller_backs_off_and_reports_errors() -> None:
    pending = Canned(body={"token": "fault-token-0123456789", "expires": 0, "status": "PENDING"})
    with FaultServer([pending, Canned(503, b"")]) as server:
        session = Session("key", SECRET, endpoint=server.url, poll_interval=0.05)
        session.create_token()
        wait_for(session, lambda s: "retrying in" in s.error)
        assert session.status == "PENDING" and "HTTP 503" in session.error
        session.close()


def test_one_poller_per_session_and_close_stops_it(session) -> None:
    def pollers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "webull-nb-token-poller"}

    others = pollers()  # of sessions closed by earlier tests, maybe still on their way out
    session.create_token()
    session.create_token()
    (mine,) = pollers() - others
    session.close()
    mine.join(timeout=5)
    assert not mine.is_alive()


def test_poller_marks_expiry_when_the_window_passes(sim, sessions, clock) -> None:
    session = sessions(sim, poll_interval=0.05)
    session.create_token()
    clock.advance(301)
    poller = session.account.poller
    poller.wake()
    wait_for(session, lambda s: s.status == "EXPIRED")
    poller._thread.join(timeout=5)
    assert not poller.alive  # a final state ends the checks


# --- waiting --------------------------------------------------------------------------------------


def test_wait_times_out_pending(session) -> None:
    session.create_token()
    assert session.wait(0.2) == "PENDING"


def test_ctrl_c_ends_wait_cleanly_and_checks_go_on(session, capsys) -> None:
    session.create_token()
    main = threading.main_thread().ident
    threading.Timer(0.2, signal.pthread_kill, (main, signal.SIGINT)).start()
    started = time.monotonic()
    assert session.wait(30) == "PENDING"
    assert time.monotonic() - started < 10
    assert "wait interrupted" in capsys.readouterr().err
    assert session.account.poller.alive


def test_wait_async_does_not_block_the_loop(sim, sessions, approve_latest) -> None:
    session = sessions(sim, poll_interval=0.05)
    session.create_token()

    async def main() -> tuple[str, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        asyncio.get_running_loop().call_later(0.2, approve_latest, sim)
        status = await session.wait_async(10)
        task.cancel()
        return status, ticks

    status, ticks = asyncio.run(main())
    assert status == "NORMAL" and ticks >= 10


def test_terminal_status_line(sim, sessions, capsys, approve_latest) -> None:
    session = sessions(sim, poll_interval=0.05)
    session.create_token()
    threading.Timer(0.1, approve_latest, (sim,)).start()
    assert session.wait(10, progress=True) == "NORMAL"
    out = capsys.readouterr().out
    assert "Webull token: PENDING | 5:00 left to approve it in the Webull App" in out
    last = out.rstrip().rsplit("\x1b[2K", 1)[-1]
    assert last == f"Webull token: NORMAL | {session.token_hint} | valid 15.0 more days if unused"


# --- headers for later cells ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        ("none", "no access token yet"),
        ("pending", r"waits for approval: .*\(5:00 left\)"),
        ("expired", "expired before it was approved"),
    ],
)
def test_headers_without_usable_token_say_what_to_do(session, clock, setup, match) -> None:
    if setup != "none":
        session.create_token()
    if setup == "expired":
        clock.advance(301)
        session.check_token()
    with pytest.raises(TokenStateError, match=match):
        session.headers("GET", "/openapi/account/list")


def test_headers_auth_and_convenience_calls(sim, session, approve_latest) -> None:
    session.activate()
    assert current() is session and webull_nb.current() is session
    session.create_token()
    approve_latest(sim)
    session.check_token()
    headers = current().headers("POST", "/openapi/auth/token/check", body={"token": "x"})
    assert headers["x-access-token"] and headers["Content-Type"] == "application/json"
    assert headers["x-version"] == "v2" and len(headers) == 9
    # Signed at send time over the real URL, Host and body bytes:
    listing = requests.get(
        sim.url + "/openapi/account/list", params={"a": ["1", "2"]}, auth=session.auth, timeout=5
    )
    assert listing.status_code == 200, listing.text
    posted = requests.post(
        sim.url + "/openapi/auth/token/check", json={"token": "ü"}, auth=session.auth, timeout=5
    )
    assert posted.json()["status"] == "INVALID"
    assert session.get("/openapi/account/list").json()[1]["account_id"] == "SIM0000002"
    assert session.get(sim.url + "/openapi/account/list?x=1").status_code == 200
    assert session.last_used is not None
    with pytest.raises(ValueError, match="not on this session's endpoint"):
        session.get("https://example.com/openapi/account/list")


def test_uat_headers_need_no_token(clock, sessions) -> None:
    with Simulator(environment="uat", clock=clock) as sim:
        session = sessions(sim, environment="uat")
        assert "x-access-token" not in session.headers("GET", "/openapi/account/list")
        assert session.get("/openapi/account/list").status_code == 200


def test_current_without_session_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr("webull_nb.session.session._current", None)
    with pytest.raises(LookupError, match=r"webull_nb.panel\(\)"):
        current()


# --- faults never lose a good token ---------------------------------------------------------------

FAULTS = {
    "html instead of json": Canned(200, "<html>portal</html>", {"Content-Type": "text/html"}),
    "not json": Canned(200, "garbage"),
    "missing fields": Canned(200, {"status": "PENDING"}),
    "unknown status": Canned(200, {"token": "t" * 20, "expires": 1, "status": "MAYBE"}),
    "429": Canned(429, {"error_code": "TOO_MANY_REQUESTS"}, {"Retry-After": "9"}),
    "5xx": Canned(502, "<html>bad gateway</html>", {"Content-Type": "text/html"}),
    "clock skew": Canned(
        401, {"error_code": "CLOCK_SKEW_EXCEEDED"}, {"Date": "Thu, 01 Jan 2026 00:00:00 GMT"}
    ),
    "timeout": Canned(hang=True),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_failed_create_never_loses_a_good_token(tmp_path, fault) -> None:
    good = StoredToken("good-token-0123456789", None, "NORMAL")
    TokenStore(tmp_path).save(good)
    with FaultServer([FAULTS[fault]]) as server:
        session = Session("key", SECRET, endpoint=server.url, token_dir=tmp_path, timeout=0.3)
        with pytest.raises(WebullError) as info:
            session.create_token(force=True)  # "Send a new code" on purpose
        session.close()
    assert TokenStore(tmp_path).load().token == good.token
    assert session.error.startswith("Creating a token failed: ")
    assert SECRET not in session.error and "Traceback" not in session.error
    assert str(info.value) in session.error


def test_an_unverified_new_token_never_replaces_a_good_one(tmp_path, sim) -> None:
    good = StoredToken("good-token-0123456789", None, "NORMAL")
    TokenStore(tmp_path).save(good)
    session = Session(sim.app_key, sim.app_secret, endpoint=sim.url, token_dir=tmp_path)
    try:
        assert session.create_token(force=True) == "PENDING"  # a new SMS, never approved
    finally:
        session.close()
    assert TokenStore(tmp_path).load().token == good.token


def test_a_new_code_sent_on_purpose_replaces_the_stored_token_once_approved(
    sim, tmp_path, approve_latest
) -> None:
    def opened() -> Session:
        return Session(
            sim.app_key, sim.app_secret, endpoint=sim.url, token_dir=tmp_path, clock=sim.clock
        )

    with opened() as session:
        session.create_token()
        approve_latest(sim)
        session.check_token()
        old = session.token_hint
        sim.clock.advance(60)
        assert session.create_token(force=True) == "PENDING"  # "Send a new code"
        approve_latest(sim)
        assert session.check_token() == "NORMAL"
        new = session.token_hint
    assert new != old
    with opened() as later:  # another kernel, or the SDK, finds the new token
        assert (later.status, later.token_hint) == ("NORMAL", new)


def test_news_from_a_left_account_is_not_shown(sim, session) -> None:
    from dataclasses import replace

    old, in_flight = session.account, session._listener  # a notification already on its way
    session.set_credentials(sim.app_key, sim.app_secret, api="v3")
    assert session.account is not old  # another API profile: another Account object
    in_flight(replace(old.state, error="late news of the left account", version=10**6))
    assert session.error == ""


def test_headers_show_whether_the_service_wants_tokens(session) -> None:
    # The first signed request asks the service's config; the panel reads the answer.
    assert session.token_check_enabled is None
    with pytest.raises(TokenStateError, match="no access token yet"):
        session.headers("GET", "/openapi/account/list")
    assert session.token_check_enabled is True
