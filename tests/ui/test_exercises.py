"""webull_nb.teach: a signature by hand, a polling loop and a recovery, each checked and shown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import warnings

import pytest
from helpers import Canned, FaultServer

from webull_nb.core.errors import RateLimitError
from webull_nb.core.signing import canonical_string, percent_encode, sign
from webull_nb.session import Session
from webull_nb.teach import (
    ExerciseResult,
    check_polling,
    check_recovery,
    check_recovery_async,
    check_signature,
)

KEY = "demo0000webullnb0000simulator000"
SECRET = "demo-secret-for-the-webull-nb-simulator"
REQUEST = {
    "host": "127.0.0.1:8123",
    "path": "/openapi/auth/token/check",
    "timestamp": "2026-03-01T12:00:00Z",
    "nonce": "6f1c2b7e-0d1a-4c55-9a0e-2f4b1f7c9e11",
    "query": {"b": "2", "a": "x y"},
    "body": b'{"token":"abc"}',
}
CHECK = "/openapi/auth/token/check"


def signature(secret: str = SECRET, **changes: object) -> str:
    return sign(KEY, secret, **{**REQUEST, **changes})["x-signature"]


def canonical(**changes: object) -> str:
    return canonical_string(KEY, **{**REQUEST, **changes})


def check(**given: object):
    return check_signature(app_key=KEY, app_secret=SECRET, report=False, **REQUEST, **given)


def shown(result) -> str:
    return repr(result) + str(result) + result._repr_html_()


# --- check_signature -------------------------------------------------------------------------


def test_the_right_answer_passes() -> None:
    result = check(
        signature=signature(), canonical=canonical(), string_to_sign=percent_encode(canonical())
    )
    assert result.ok and result.passed
    assert result.message == "right: your canonical string, string to sign and signature match"
    assert all(good for *_, good in result.parts)
    assert [part for part, *_ in result.parts][:2] == ["path", "parameter a"]
    # The expected signature is only hinted at (the answer is not given away).
    assert result.parts[-1][:2] == ("signature", signature()[:4] + "…")
    assert SECRET not in shown(result)


def test_a_wrong_body_digest_is_named_with_both_values() -> None:
    pretty = json.dumps({"token": "abc"}, indent=2).encode()
    result = check(canonical=canonical(body=pretty))
    assert not result.ok
    assert result.message.startswith("body digest differs: expected '")
    assert "(you hashed pretty JSON: hash the exact bytes you send)" in result.message
    (row,) = [row for row in result.parts if row[0] == "body digest"]
    assert row[3] is False and row[1] != row[2]
    assert all(good for part, *_, good in result.parts if part != "body digest")
    # The signature alone says the same in its own words.
    alone = check(signature=signature(body=pretty))
    assert alone.message == (
        "body digest differs: you signed other bytes than you sent "
        "(pretty JSON instead of compact JSON?)"
    )


def test_a_wrong_host_is_named() -> None:
    result = check(canonical=canonical(host="localhost:8123"))
    assert result.message == (
        "host differs: expected 'host=127.0.0.1:8123', yours 'host=localhost:8123'"
    )
    alone = check(signature=signature(host="localhost:8123"))
    assert alone.message == (
        "Host differs: you signed 'localhost:8123', the request went to '127.0.0.1:8123'"
    )


def test_a_wrong_secret_is_named() -> None:
    result = check(canonical=canonical(), signature=signature("my-guess-at-the-secret"))
    assert not result.ok
    assert result.message.startswith("wrong secret (")
    assert [part for part, *_, good in result.parts if not good] == ["signature"]


def test_the_usual_slips_are_named() -> None:
    assert check(canonical=canonical().replace("&host=127.0.0.1:8123", "")).message == (
        "host is missing: expected 'host=127.0.0.1:8123'"
    )
    assert check(string_to_sign=canonical()).message == (
        "string to sign differs: percent-encode the canonical string"
    )
    lower = canonical().rsplit("&", 1)
    assert check(canonical=f"{lower[0]}&{lower[1].lower()}").message.endswith(
        "(write it in upper-case hex)"
    )


def test_the_secret_is_never_shown() -> None:
    # Even pasted into the canonical string, and even when the answer is right.
    for result in (
        check(canonical=canonical() + "&" + SECRET, signature=SECRET),
        check(signature=signature()),
        check(signature=signature("wrong")),
    ):
        assert SECRET not in shown(result)
        assert SECRET not in result.message
        assert all(SECRET not in cell for row in result.parts for cell in row[1:3])


def test_the_secret_is_hidden_in_a_parts_name_and_where_a_cell_is_cut() -> None:
    start = percent_encode(canonical())[:60]
    for result in (
        # The secret glued to a name-less part: the part's own label holds it.
        check(canonical=REQUEST["path"] + "&" + "a" * 55 + SECRET),
        # Cut at the cell's edge: only the secret's start would show.
        check(string_to_sign=start + SECRET),
        check(string_to_sign=start + percent_encode(SECRET + "&")),
    ):
        assert not result.ok
        assert SECRET[:6] not in shown(result), shown(result)
        assert all(SECRET[:6] not in cell for row in result.parts for cell in row[:3])


def test_a_part_given_twice_is_not_passed_as_once() -> None:
    host = "host=" + REQUEST["host"]
    result = check(canonical=canonical().replace(host, host + "&host=evil.example"))
    assert not result.ok
    assert result.message.startswith(
        "repeated host: 'host=evil.example' comes a second time; each name appears once"
    )


def test_html_escapes_what_the_student_typed() -> None:
    result = check(canonical=canonical(path="/<script>x</script>"))
    assert "<script>" not in result._repr_html_()
    assert "&lt;script&gt;" in result._repr_html_()


def test_nothing_to_check_is_a_type_error_of_use() -> None:
    with pytest.raises(ValueError, match="signature="):
        check_signature(app_key=KEY, app_secret=SECRET, **REQUEST)


# --- check_polling ---------------------------------------------------------------------------


def test_a_polite_loop_passes(normal_session, clock) -> None:
    def polite(session: Session) -> None:
        while True:
            session.check_token()
            clock.advance(5)  # a notebook would time.sleep(5); this clock moves when told

    result = check_polling(polite, normal_session, seconds=30)
    assert isinstance(result, ExerciseResult)
    assert result.passed, result
    assert dict(result.facts)["checks"] == "6"
    assert result.message == "6 checks, at most 6 in any 30 s, no 429"
    # The session is itself again: no counting wrapper left behind.
    assert "check_token" not in vars(normal_session) and "request" not in vars(normal_session)
    assert result.reported == "not reported: this simulator is not a class server"


def test_a_greedy_loop_fails_with_the_numbers(normal_session) -> None:
    def greedy(session: Session) -> None:
        for _ in range(11):
            with contextlib.suppress(RateLimitError):  # a greedy loop swallows refusals
                session.check_token()

    result = check_polling(greedy, normal_session, report=False)
    assert not result.passed
    assert "11 checks in 30 s (at most 10): wait at least 3 s between checks" in result.message
    # The fixture's own checks (and its poller's) share the budget: at least one refusal.
    assert "; rate-limited " in result.message
    assert int(dict(result.facts)["refused by the shared budget"]) >= 1
    assert result.reported == ""
    assert "check_token" not in vars(normal_session)


def test_a_loop_of_raw_signed_checks_meets_the_services_429(normal_session, clock) -> None:
    clock.advance(30)

    def raw(session: Session) -> None:
        for _ in range(11):
            session.post(CHECK, json={"token": "not-mine"})

    result = check_polling(raw, normal_session, report=False)
    assert not result.passed
    assert dict(result.facts)["429 from the service"] == "1"
    assert dict(result.facts)["checks"] == "11"


def test_a_loop_that_stops_on_its_own_and_one_that_raises(normal_session) -> None:
    assert check_polling(lambda s: s.check_token(), normal_session, report=False).passed

    def broken(session: Session) -> None:
        raise KeyError("oops")

    result = check_polling(broken, normal_session, report=False)
    assert not result.passed
    assert "your function made no check" in result.message
    assert "your loop raised KeyError: 'oops'" in result.message


def test_the_counting_ends_even_when_the_loop_is_interrupted(normal_session) -> None:
    def interrupted(session: Session) -> None:
        session.check_token()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check_polling(interrupted, normal_session, report=False)
    assert "check_token" not in vars(normal_session)
    assert normal_session.check_token() == "NORMAL"


# --- check_recovery --------------------------------------------------------------------------


def test_recovery_from_invalid_passes_after_forget_and_create(
    normal_session, sim, clock, approve_latest
) -> None:
    clock.advance(sim.idle_timeout + 1)  # unused for 15 days: INVALID at the service

    def recover(session: Session) -> None:
        session.forget_token()
        session.create_token()
        approve_latest(sim)
        session.check_token()

    result = check_recovery(normal_session, recover)
    assert result.passed, result
    assert result.message == "recovered: INVALID → NORMAL"
    assert dict(result.facts) == {"before": "INVALID", "after": "NORMAL", "a new token": "yes"}
    assert result.reported == "not reported: this simulator is not a class server"


def test_recovery_from_expired_and_what_a_wrong_one_hears(session, sim, clock, approve_latest):
    session.create_token()
    clock.advance(sim.verification_window + 1)
    assert session.check_token() == "EXPIRED"
    result = check_recovery(session, lambda s: s.check_token(), report=False)
    assert not result.passed
    assert "create a new one (session.create_token()) and approve it" in result.message
    result = check_recovery(session, lambda s: s.create_token(), report=False)
    assert not result.passed and result.message.startswith("the new token is PENDING")
    approve_latest(sim)
    assert session.check_token() == "NORMAL"
    assert check_recovery(session, lambda s: s.check_token(), report=False).message.startswith(
        "nothing to recover: the token is NORMAL"
    )


def expired(session: Session, sim, clock) -> None:
    session.create_token()
    clock.advance(sim.verification_window + 1)
    assert session.check_token() == "EXPIRED"


def test_recovery_async_lets_the_phone_approve_while_it_waits(
    session, sim, clock, approve_latest
) -> None:
    expired(session, sim, clock)

    def phone() -> None:  # runs only if recover awaits without blocking the loop
        approve_latest(sim)
        session.check_token()

    async def recover(s: Session) -> None:
        s.create_token()
        asyncio.get_running_loop().call_soon(phone)
        await s.wait_async(timeout=10)

    result = asyncio.run(check_recovery_async(session, recover, report=False))
    assert result.passed, result
    assert dict(result.facts) == {"before": "EXPIRED", "after": "NORMAL", "a new token": "yes"}


def test_recovery_given_an_async_function_says_to_await_it(session, sim, clock) -> None:
    expired(session, sim, clock)

    async def recover(s: Session) -> None:
        s.create_token()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = check_recovery(session, recover, report=False)
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]
    assert not result.passed
    assert "use await teach.check_recovery_async(session, recover)" in result.message
    assert dict(result.facts)["a new token"] == "no"


# --- reporting -------------------------------------------------------------------------------


def test_a_result_is_reported_signed_to_a_class_server(tmp_path) -> None:
    # A stand-in for the class server that takes anything: what matters is what is sent.
    with (
        FaultServer([Canned(200, {"token_check_enabled": False})]) as server,
        Session(KEY, SECRET, endpoint=server.url, token_dir=tmp_path / "t") as session,
    ):
        result = check_signature(
            app_key=KEY, app_secret=SECRET, signature=signature(), session=session, **REQUEST
        )
    assert result.ok and result.reported == "reported to the class"
    (sent,) = [r for r in server.received if r["path"] == "/_class/exercise"]
    assert sent["method"] == "POST"
    assert json.loads(sent["body"]) == {
        "exercise": "signature",
        "passed": True,
        "detail": "right: your signature matches",
    }
    assert sent["headers"]["x-app-key"] == KEY and sent["headers"]["x-signature"]


def test_a_report_that_fails_is_noted_never_raised(tmp_path) -> None:
    with (
        FaultServer([Canned(500, {"error_code": "BOOM"})]) as server,
        Session(KEY, SECRET, endpoint=server.url, token_dir=tmp_path / "t") as session,
    ):
        result = check_signature(
            app_key=KEY, app_secret=SECRET, signature="nope", session=session, **REQUEST
        )
    assert not result.ok and result.reported.startswith("not reported: ")
    on_webull = Session(KEY, SECRET, token_dir=tmp_path / "w")
    try:
        result = check_signature(
            app_key=KEY, app_secret=SECRET, signature="x", session=on_webull, **REQUEST
        )
    finally:
        on_webull.close()
    assert result.reported == "not reported: the session talks to Webull, not to a class server"
