"""A class on one simulator: each student's own account, the teacher's view, scenarios, roster."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
import threading
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests
from helpers import signed_request

from webull_nb.session import Session
from webull_nb.signing import format_timestamp, sign
from webull_nb.simulator import Classroom, SimulatorError
from webull_nb.simulator import classroom as classroom_module

V2_CREATE, V2_CHECK = "/openapi/auth/token/create", "/openapi/auth/token/check"
ACCOUNTS = "/openapi/account/list"


@pytest.fixture
def room(clock):
    """A class of three students on the fake clock."""
    with Classroom(3, clock=clock) as served:
        yield served


def call(room, student, method, path, payload=None, *, secret=None, clock=None, **kw):
    """A request signed by ``student`` (with ``secret`` instead of theirs, if given)."""
    app_key, app_secret = room.credentials(student)
    body = None if payload is None else json.dumps(payload).encode()
    return signed_request(
        room.url,
        app_key,
        secret or app_secret,
        method,
        path,
        body=body,
        clock=clock or room.clock,
        **kw,
    )


def teacher(room, method, path, payload=None, token=None):
    """A request of the teacher's (with ``token`` instead of the right one, if given)."""
    given = room.teacher_token if token is None else token
    headers = {"Authorization": f"Bearer {given}"} if given else {}
    return requests.request(method, room.url + path, json=payload, headers=headers, timeout=5)


def row(room, student):
    """``student``'s row of the teacher's view, read over HTTP."""
    status = teacher(room, "GET", "/_class/status")
    assert status.status_code == 200, status.text
    (found,) = [r for r in status.json()["students"] if r["student"] == student]
    return found


def session(room, student, tmp_path):
    """A Session of ``student`` on ``room`` with a token directory of its own."""
    app_key, app_secret = room.credentials(student)
    return Session(
        app_key, app_secret, endpoint=room.url, token_dir=tmp_path / student, clock=room.clock
    )


def approve(room, student):
    """``student`` enters their newest code through their signed control plane."""
    (sms,) = call(room, student, "GET", "/_sim/sms").json()[-1:]
    answer = call(room, student, "POST", "/_sim/verify", sms)
    assert answer.status_code == 200, answer.text
    return answer.json()


# --- students and roster -------------------------------------------------------------------------


def test_students_are_numbered_and_have_distinct_key_pairs() -> None:
    room = Classroom(3)
    assert room.students == ["s01", "s02", "s03"]
    pairs = [room.credentials(s) for s in room.students]
    assert len({key for key, _ in pairs}) == len({secret for _, secret in pairs}) == 3
    assert Classroom(100).students[:2] == ["s001", "s002"]
    assert Classroom(["ann", "bob"]).students == ["ann", "bob"]
    with pytest.raises(ValueError, match="distinct"):
        Classroom(["ann", "ann"])
    with pytest.raises(ValueError, match="no spaces"):
        Classroom(["a b"])
    with pytest.raises(TypeError):
        Classroom("ab")
    with pytest.raises(SimulatorError, match="no student"):
        room.credentials("s04")


def test_repr_holds_no_secret_and_no_teacher_token(room) -> None:
    shown = repr(room)
    assert room.url in shown and "students=3" in shown
    assert room.teacher_token not in shown
    for student in room.students:
        assert room.credentials(student)[1] not in shown
    assert room.credentials("s01")[1] not in repr(room._students["s01"].__dict__)


def test_teacher_token_is_random_unless_given() -> None:
    assert Classroom(1).teacher_token != Classroom(1).teacher_token
    assert len(Classroom(1).teacher_token) >= 32
    assert Classroom(1, teacher_token="chalk-and-board").teacher_token == "chalk-and-board"


def test_roster_is_json_0600_with_every_key_pair_and_the_teacher_token(room, tmp_path) -> None:
    path = tmp_path / "roster.json"
    path.write_text("old")
    path.chmod(0o644)  # a wider file in the way is replaced, not reused
    old_umask = os.umask(0)  # even with no umask the file is 0600
    try:
        room.write_roster(path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    roster = json.loads(path.read_text())
    assert roster["url"] == room.url and roster["teacher_token"] == room.teacher_token
    assert [s["student"] for s in roster["students"]] == ["s01", "s02", "s03"]
    for entry in roster["students"]:
        assert (entry["app_key"], entry["app_secret"]) == room.credentials(entry["student"])
    assert [p.name for p in tmp_path.iterdir()] == ["roster.json"]  # no temporary file left


def test_roster_csv_is_0600_with_a_row_per_student(room, tmp_path) -> None:
    path = tmp_path / "roster.csv"
    room.write_roster_csv(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = list(csv.DictReader(path.open()))
    assert [r["student"] for r in rows] == room.students
    assert all(r["url"] == room.url for r in rows)
    assert (rows[1]["app_key"], rows[1]["app_secret"]) == room.credentials("s02")


def test_public_url_goes_into_roster_and_snippet(clock) -> None:
    with Classroom(1, clock=clock, public_url="http://class.lan:8123/") as room:
        assert room.roster()["url"] == "http://class.lan:8123"
        assert 'webull_nb.panel(simulator="http://class.lan:8123", ' in room.snippet("s01")


def test_snippet_is_the_panel_cell_then_the_env_vars(room) -> None:
    app_key, app_secret = room.credentials("s02")
    lines = room.snippet("s02").splitlines()
    assert lines[1:3] == [
        "import webull_nb",
        f'webull_nb.panel(simulator="{room.url}", app_key="{app_key}", app_secret="{app_secret}")',
    ]
    assert lines[-2:] == [
        f"export WEBULL_APP_KEY={app_key}",
        f"export WEBULL_APP_SECRET={app_secret}",
    ]


# --- each student sees only their own phone ------------------------------------------------------


def test_acceptance_own_phone_own_token_and_the_teachers_view(room, tmp_path) -> None:
    with session(room, "s01", tmp_path) as s01:
        s01.create_token()
        (code,) = [m["code"] for m in room.sms_inbox("s01")]
        theirs = call(room, "s02", "GET", "/_sim/sms")
        assert theirs.status_code == 200 and theirs.json() == []
        assert code not in theirs.text
        unsigned = requests.get(room.url + "/_sim/sms", timeout=5)
        assert unsigned.status_code == 401 and code not in unsigned.text
        mine = call(room, "s01", "GET", "/_sim/sms").json()
        assert [m["code"] for m in mine] == [code]
        assert approve(room, "s01")["status"] == "NORMAL"
        assert s01.check_token() == "NORMAL"
        assert row(room, "s01")["status"] == "NORMAL"
        assert row(room, "s02")["status"] == "NONE"
    for token in ("", "wrong-" + room.teacher_token, room.teacher_token[:-1], "é"):
        refused = teacher(room, "GET", "/_class/status", token=token)
        assert (refused.status_code, refused.json()["error_code"]) == (401, "UNAUTHORIZED")
        assert "s01" not in refused.text
    basic = requests.get(
        room.url + "/_class/status",
        headers={"Authorization": f"Basic {room.teacher_token}"},
        timeout=5,
    )
    assert basic.status_code == 401


def test_a_student_cannot_enter_anothers_code(room) -> None:
    token = call(room, "s01", "POST", V2_CREATE, {}).json()["token"]
    (sms,) = room.sms_inbox("s01")
    stolen = call(room, "s02", "POST", "/_sim/verify", sms)
    assert (stolen.status_code, stolen.json()["error_code"]) == (404, "TOKEN_NOT_FOUND")
    assert room.token_status("s01", token) == "PENDING"


def test_unsigned_or_badly_signed_control_requests_are_refused(room) -> None:
    token = call(room, "s01", "POST", V2_CREATE, {}).json()["token"]
    (sms,) = room.sms_inbox("s01")
    unsigned = requests.post(room.url + "/_sim/verify", json=sms, timeout=5)
    assert unsigned.status_code == 401
    forged = call(room, "s01", "POST", "/_sim/verify", sms, secret="guess")
    assert (forged.status_code, forged.json()["error_code"]) == (401, "INCORRECT_SIGN")
    assert room.token_status("s01", token) == "PENDING"


def test_the_control_plane_answers_any_host_it_was_signed_for(room) -> None:
    # The single-account simulator answers /_sim/ only to local Host names; a class is signed.
    app_key, app_secret = room.credentials("s01")
    host = "classroom.example:8123"
    headers = sign(
        app_key, app_secret, host=host, path="/_sim/sms", timestamp=format_timestamp(room.clock())
    )
    answer = requests.get(room.url + "/_sim/sms", headers={**headers, "Host": host}, timeout=5)
    assert (answer.status_code, answer.json()) == (200, [])


def test_an_unknown_app_key_is_401_and_counted_nowhere(room) -> None:
    stranger = signed_request(room.url, "not-a-student", "x", "GET", ACCOUNTS, clock=room.clock)
    assert (stranger.status_code, stranger.json()["error_code"]) == (401, "UNAUTHORIZED")
    assert stranger.json()["message"] == "unknown app key"
    rows = teacher(room, "GET", "/_class/status").json()["students"]
    assert all(r["signature_errors"] == 0 and r["last_error"] == "" for r in rows)


def test_accounts_are_separate_all_the_way_down(room) -> None:
    tokens = {}
    for student in ("s01", "s02"):
        call(room, student, "POST", V2_CREATE, {})
        tokens[student] = approve(room, student)["token"]
    token = tokens["s01"]
    mine = call(room, "s01", "GET", ACCOUNTS, extra={"x-access-token": token})
    assert mine.status_code == 200
    theirs = call(room, "s02", "GET", ACCOUNTS, extra={"x-access-token": token})
    assert (theirs.status_code, theirs.json()["error_code"]) == (401, "INVALID_TOKEN")


# --- the teacher's view ---------------------------------------------------------------------------


def test_wrong_secret_shows_as_a_signature_error_with_its_reason(room) -> None:
    refused = call(room, "s03", "GET", ACCOUNTS, secret="not-the-secret")
    assert (refused.status_code, refused.json()["error_code"]) == (401, "INCORRECT_SIGN")
    s03 = row(room, "s03")
    assert s03["signature_errors"] >= 1
    assert s03["last_error"]
    assert s03["last_seen"] == room.clock()
    assert room.credentials("s03")[1] not in s03["last_error"]
    assert (row(room, "s01")["signature_errors"], row(room, "s01")["last_error"]) == (0, "")


def test_last_error_comes_from_diagnose(room, monkeypatch) -> None:
    seen = {}

    def words(refusal, **context):
        seen.update(context, code=refusal.error_code)
        return "wrong secret (said by diagnose)"

    monkeypatch.setattr(classroom_module.diagnose, "reason", words)
    call(room, "s02", "GET", ACCOUNTS, secret="nope", params=[("a", "1")])
    assert row(room, "s02")["last_error"] == "wrong secret (said by diagnose)"
    assert seen["code"] == "INCORRECT_SIGN" and seen["path"] == ACCOUNTS
    assert (seen["query"], seen["app_key"]) == ("a=1", room.credentials("s02")[0])
    assert seen["app_secret"].reveal() == room.credentials("s02")[1]
    assert seen["host"] == room.url.split("//")[1] and seen["now"] == room.clock()


def test_a_bug_in_diagnose_does_not_break_the_answer(room, monkeypatch) -> None:
    def broken(refusal, **context):
        raise RuntimeError("oops")

    monkeypatch.setattr(classroom_module.diagnose, "reason", broken)
    assert call(room, "s02", "GET", ACCOUNTS, secret="nope").status_code == 401
    assert row(room, "s02")["last_error"] == "the signature does not match"


def test_a_token_refusal_is_a_last_error_but_no_signature_error(room) -> None:
    refused = call(room, "s01", "GET", ACCOUNTS)
    assert (refused.status_code, refused.json()["error_code"]) == (401, "INVALID_TOKEN")
    s01 = row(room, "s01")
    assert (s01["signature_errors"], s01["last_error"]) == (0, "token missing: send x-access-token")


def test_checks_and_rate_limited_are_counted(room) -> None:
    for _ in range(12):
        call(room, "s01", "POST", V2_CHECK, {"token": "t"})
    call(room, "s01", "POST", V2_CHECK, {"token": "t"}, secret="bad")  # not a check: forged
    s01 = row(room, "s01")
    assert (s01["checks"], s01["rate_limited"]) == (12, 2)
    assert row(room, "s02")["checks"] == 0


def test_last_seen_follows_the_server_clock(room, clock) -> None:
    assert row(room, "s01")["last_seen"] is None
    call(room, "s01", "GET", "/_sim/sms")
    seen = clock()
    clock.advance(10)
    status = teacher(room, "GET", "/_class/status").json()
    assert status["now"] == clock()
    assert status["students"][0]["last_seen"] == seen


def test_status_of_the_newest_token(room, clock) -> None:
    assert row(room, "s01")["status"] == "NONE"
    call(room, "s01", "POST", V2_CREATE, {})
    assert row(room, "s01")["status"] == "PENDING"
    clock.advance(301)
    assert row(room, "s01")["status"] == "EXPIRED"
    call(room, "s01", "POST", V2_CREATE, {})
    assert row(room, "s01")["status"] == "PENDING"  # the newest one's, not the first one's


def test_many_students_at_once_are_counted_exactly(clock) -> None:
    with Classroom(8, clock=clock) as room:
        errors = []

        def work(student):
            try:
                for _ in range(5):
                    assert call(room, student, "POST", V2_CHECK, {"token": "t"}).status_code == 200
                call(room, student, "GET", ACCOUNTS, secret="bad")
            except Exception as exc:  # reported below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(s,)) for s in room.students]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        rows = room.status()["students"]
        assert [(r["checks"], r["signature_errors"]) for r in rows] == [(5, 1)] * 8


def test_the_page_is_html_and_public(room, monkeypatch, tmp_path) -> None:
    page = tmp_path / "classroom.html"
    page.write_text("<!doctype html><title>class</title>")
    monkeypatch.setattr(classroom_module, "_PAGE_FILE", page)
    moved = requests.get(room.url + "/_class", allow_redirects=False, timeout=5)
    assert (moved.status_code, moved.headers["Location"]) == (308, "/_class/")
    for path in ("/_class/", "/_class"):
        answer = requests.get(room.url + path, timeout=5)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
        assert answer.text == "<!doctype html><title>class</title>"
        assert answer.headers["X-Frame-Options"] == "DENY"
    monkeypatch.setattr(classroom_module, "_PAGE_FILE", tmp_path / "missing.html")
    placeholder = requests.get(room.url + "/_class/", timeout=5)
    assert placeholder.status_code == 200 and "text/html" in placeholder.headers["Content-Type"]
    assert "/_class/status" in placeholder.text and room.teacher_token not in placeholder.text


def test_unknown_class_paths_are_404(room) -> None:
    for method, path in (("GET", "/_class/nothing"), ("POST", "/_class/status")):
        answer = teacher(room, method, path)
        assert (answer.status_code, answer.json()["error_code"]) == (404, "NOT_FOUND")


# --- exercises -----------------------------------------------------------------------------------


def test_a_passed_exercise_joins_the_students_row(room) -> None:
    def report(name, passed, **kw):
        payload = {"exercise": name, "passed": passed, "detail": "ok"}
        return call(room, "s02", "POST", "/_class/exercise", payload, **kw)

    assert report("signature", False).status_code == 200
    assert row(room, "s02")["exercises"] == []
    assert report("signature", True).json()["exercises"] == ["signature"]
    report("polling", True)
    report("signature", True)
    assert row(room, "s02")["exercises"] == ["signature", "polling"]
    assert row(room, "s01")["exercises"] == []
    forged = report("recover", True, secret="bad")
    assert forged.status_code == 401
    unsigned = requests.post(
        room.url + "/_class/exercise", json={"exercise": "x", "passed": True}, timeout=5
    )
    assert unsigned.status_code == 401
    for bad in ({"exercise": "", "passed": True}, {"exercise": "x", "passed": "yes"}, {}):
        answer = call(room, "s02", "POST", "/_class/exercise", bad)
        assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER")
    assert row(room, "s02")["exercises"] == ["signature", "polling"]


# --- scenarios -----------------------------------------------------------------------------------


def test_expire_tokens_ends_every_token_now(room, tmp_path) -> None:
    with session(room, "s01", tmp_path) as s01:
        s01.create_token()
        approve(room, "s01")
        assert s01.check_token() == "NORMAL"
        pending = call(room, "s02", "POST", V2_CREATE, {}).json()["token"]
        answer = teacher(room, "POST", "/_class/scenario", {"scenario": "expire_tokens"})
        assert answer.status_code == 200
        assert answer.json() == {
            "scenario": "expire_tokens",
            "student": None,
            "active": False,
            "tokens_ended": 2,
        }
        assert s01.check_token() != "NORMAL"
        assert room.token_status("s02", pending) == "EXPIRED"
        assert room.sms_inbox("s02") == []
        assert row(room, "s01")["status"] == "INVALID"


def test_expire_tokens_for_one_student(room) -> None:
    mine = call(room, "s01", "POST", V2_CREATE, {}).json()["token"]
    theirs = call(room, "s02", "POST", V2_CREATE, {}).json()["token"]
    room.scenario("expire_tokens", "s02")
    assert (room.token_status("s01", mine), room.token_status("s02", theirs)) == (
        "PENDING",
        "EXPIRED",
    )
    fresh = call(room, "s02", "POST", V2_CREATE, {"token": theirs}).json()
    assert fresh["token"] != theirs and fresh["status"] == "PENDING"


def test_server_errors_fail_the_next_requests_then_end(room) -> None:
    payload = {"scenario": "server_errors", "student": "s01", "count": 2, "status": 502}
    answer = teacher(room, "POST", "/_class/scenario", payload)
    assert answer.json() == {**payload, "active": True}
    assert row(room, "s01")["scenarios"] == {"server_errors": {"count": 2, "status": 502}}
    assert call(room, "s02", "GET", "/openapi/config").status_code == 200
    assert call(room, "s01", "GET", "/_sim/sms").status_code == 200  # the phone is no API call
    for remaining in (1, 0):
        failed = call(room, "s01", "GET", "/openapi/config")
        assert (failed.status_code, failed.json()["error_code"]) == (502, "SERVER_ERROR")
        assert row(room, "s01")["scenarios"].get("server_errors", {}).get("count", 0) == remaining
    assert call(room, "s01", "GET", "/openapi/config").status_code == 200


def test_server_errors_for_everyone_count_per_student(room) -> None:
    room.scenario("server_errors", count=1)
    status = room.status()
    assert status["scenarios"] == {"server_errors": {"count": 1, "status": 503}}
    assert call(room, "s01", "GET", "/openapi/config").status_code == 503
    assert call(room, "s01", "GET", "/openapi/config").status_code == 200
    assert "server_errors" in room.status()["scenarios"]  # s02 and s03 have theirs to come
    assert call(room, "s02", "GET", "/openapi/config").status_code == 503
    assert call(room, "s03", "GET", "/openapi/config").status_code == 503
    assert room.status()["scenarios"] == {}


def test_slow_holds_one_students_answers_not_the_others(room) -> None:
    room.scenario("slow", "s01", seconds=0.6)
    assert room.status()["students"][0]["scenarios"] == {"slow": {"seconds": 0.6}}
    took = {}

    def slow_request():
        started = time.monotonic()
        call(room, "s01", "GET", "/openapi/config")
        took["s01"] = time.monotonic() - started

    thread = threading.Thread(target=slow_request)
    thread.start()
    deadline = time.monotonic() + 5
    while room.status()["students"][0]["last_seen"] is None:  # s01's request has arrived
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert call(room, "s02", "GET", "/openapi/config").status_code == 200
    assert thread.is_alive()  # s01 still waits while s02 has its answer
    thread.join()
    assert took["s01"] >= 0.6
    room.scenario("slow", "s01", off=True)
    assert room.status()["students"][0]["scenarios"] == {}
    started = time.monotonic()
    call(room, "s01", "GET", "/openapi/config")
    assert time.monotonic() - started < 0.6


def test_clock_offset_moves_one_students_server_clock(room, clock) -> None:
    answer = teacher(
        room, "POST", "/_class/scenario", {"scenario": "clock_offset", "student": "s01"}
    )
    assert answer.json() == {
        "scenario": "clock_offset",
        "student": "s01",
        "active": True,
        "minutes": 7,
    }
    skewed = call(room, "s01", "GET", "/openapi/config")
    assert (skewed.status_code, skewed.json()["error_code"]) == (401, "CLOCK_SKEW_EXCEEDED")
    assert parsedate_to_datetime(skewed.headers["Date"]).timestamp() == int(clock() + 420)
    assert row(room, "s01")["signature_errors"] == 1
    other = call(room, "s02", "GET", "/openapi/config")
    assert other.status_code == 200
    assert parsedate_to_datetime(other.headers["Date"]).timestamp() == int(clock())
    # Signed on the server's clock, the request passes; the token lives in that clock too.
    created = call(room, "s01", "POST", V2_CREATE, {}, clock=lambda: clock() + 420)
    assert created.json()["expires"] == int((clock() + 420 + 300) * 1000)
    room.scenario("clock_offset", "s01", off=True)
    assert call(room, "s01", "GET", "/openapi/config").status_code == 200


def test_clock_offset_a_session_corrects_itself(room, tmp_path) -> None:
    room.scenario("clock_offset", minutes=-6)
    with session(room, "s03", tmp_path) as s03:
        s03.create_token()  # refused once for the skew, then signed on the learned offset
        assert len(room.sms_inbox("s03")) == 1
    s03_row = row(room, "s03")
    assert s03_row["scenarios"] == {"clock_offset": {"minutes": -6}}
    assert s03_row["signature_errors"] == 1


def test_no_device_refuses_creates_until_turned_off(room) -> None:
    teacher(room, "POST", "/_class/scenario", {"scenario": "no_device", "student": "s02"})
    refused = call(room, "s02", "POST", V2_CREATE, {})
    assert (refused.status_code, refused.json()["error_code"]) == (400, "NO_AVAILABLE_DEVICE")
    assert call(room, "s01", "POST", V2_CREATE, {}).status_code == 200
    assert row(room, "s02")["scenarios"] == {"no_device": {}}
    answer = teacher(
        room, "POST", "/_class/scenario", {"scenario": "no_device", "student": "s02", "off": True}
    )
    assert answer.json() == {"scenario": "no_device", "student": "s02", "active": False}
    assert call(room, "s02", "POST", V2_CREATE, {}).status_code == 200


def test_a_scenario_for_everyone_shows_class_wide_and_on_each_row(room) -> None:
    room.scenario("slow", seconds=0.0)
    room.scenario("no_device")
    status = room.status()
    assert status["scenarios"] == {"slow": {"seconds": 0.0}, "no_device": {}}
    assert all(r["scenarios"] == status["scenarios"] for r in status["students"])
    room.scenario("no_device", "s01", off=True)  # one student out: still on for the others
    assert "no_device" in room.status()["scenarios"]
    assert call(room, "s01", "POST", V2_CREATE, {}).status_code == 200
    room.scenario("no_device", off=True)
    status = room.status()
    assert status["scenarios"] == {"slow": {"seconds": 0.0}}
    assert all("no_device" not in r["scenarios"] for r in status["students"])


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"scenario": "earthquake"}, "UNKNOWN_SCENARIO"),
        ({"scenario": "slow", "student": "s09"}, "UNKNOWN_STUDENT"),
        ({"scenario": "slow", "seconds": "long"}, "INVALID_PARAMETER"),
        ({"scenario": "slow", "seconds": 61}, "INVALID_PARAMETER"),
        ({"scenario": "server_errors", "status": 404}, "INVALID_PARAMETER"),
        ({"scenario": "server_errors", "count": True}, "INVALID_PARAMETER"),
        ({"scenario": "server_errors", "count": 2.5}, "INVALID_PARAMETER"),
        ({"scenario": "clock_offset", "hours": 1}, "INVALID_PARAMETER"),
        ({"scenario": "expire_tokens", "off": True}, "INVALID_PARAMETER"),
        ({"scenario": "no_device", "off": "yes"}, "INVALID_PARAMETER"),
        ({"scenario": "no_device", "name": "x"}, "INVALID_PARAMETER"),
        ({"student": "s01"}, "INVALID_PARAMETER"),
    ],
)
def test_bad_scenarios_are_400(room, payload, code) -> None:
    answer = teacher(room, "POST", "/_class/scenario", payload)
    assert (answer.status_code, answer.json()["error_code"]) == (400, code)
    assert room.status()["scenarios"] == {}


def test_scenarios_need_the_teacher_token(room) -> None:
    for token in ("", "wrong"):
        answer = teacher(room, "POST", "/_class/scenario", {"scenario": "no_device"}, token=token)
        assert answer.status_code == 401
    assert room.status()["scenarios"] == {}


# --- the command line ----------------------------------------------------------------------------


def test_class_mode_needs_a_roster(capsys) -> None:
    from webull_nb.simulator.__main__ import main

    with pytest.raises(SystemExit) as exited:
        main(["--students", "3"])
    assert exited.value.code == 2
    assert "--roster" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--students", "3", "--roster", "r.json", "--app-key", "k"])
    with pytest.raises(SystemExit):
        main(["--students", "3", "--roster", "r.json", "--teacher-token", "short"])
    assert "at least 8 characters" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--students", "0", "--roster", "r.json"])


@pytest.mark.parametrize(
    ("flag", "expected"),
    [([], "from-the-environment"), (["--teacher-token", "from-a-flag"], "from-a-flag")],
)
def test_the_teacher_token_comes_from_the_environment_unless_a_flag_gives_it(
    tmp_path, monkeypatch, capsys, flag, expected
) -> None:
    from webull_nb.simulator.__main__ import build_parser, serve_class

    monkeypatch.setenv("WEBULL_NB_TEACHER_TOKEN", "from-the-environment")
    roster = tmp_path / "r.json"
    args = build_parser().parse_args(["--students", "1", "--roster", str(roster), *flag])
    stop = threading.Event()
    stop.set()  # serve, write the roster, print, and end at once
    assert serve_class(args, stop=stop) == 0
    assert json.loads(roster.read_text())["teacher_token"] == expected
    shown = capsys.readouterr()
    assert expected not in shown.out + shown.err


@pytest.mark.slow
def test_cli_serves_a_class_from_a_0600_roster(tmp_path: Path) -> None:
    roster_path, csv_path = tmp_path / "R.json", tmp_path / "R.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "webull_nb.simulator", "--students", "3", "--roster",
         str(roster_path), "--roster-csv", str(csv_path), "--host", "0.0.0.0"],  # noqa: S104
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("webull-nb simulator listening on http://")
        assert stat.S_IMODE(roster_path.stat().st_mode) == 0o600
        assert stat.S_IMODE(csv_path.stat().st_mode) == 0o600
        roster = json.loads(roster_path.read_text())
        pairs = {(s["app_key"], s["app_secret"]) for s in roster["students"]}
        assert len(pairs) == 3 and len({k for k, _ in pairs}) == 3
        assert len(roster["teacher_token"]) >= 32
        url = "http://127.0.0.1:" + first.rsplit(":", 1)[1]
        creds = {s["student"]: (s["app_key"], s["app_secret"]) for s in roster["students"]}

        def signed(student, method, path, payload=None):
            body = None if payload is None else json.dumps(payload).encode()
            return signed_request(url, *creds[student], method, path, body=body)

        def status_of(student, token=roster["teacher_token"]):
            answer = requests.get(
                url + "/_class/status", headers={"Authorization": f"Bearer {token}"}, timeout=5
            )
            if answer.status_code != 200:
                return answer.status_code
            return next(r for r in answer.json()["students"] if r["student"] == student)

        with Session(*creds["s01"], endpoint=url, token_dir=tmp_path / "s01") as s01:
            s01.create_token()
            (sms,) = signed("s01", "GET", "/_sim/sms").json()
            assert sms["code"] not in signed("s02", "GET", "/_sim/sms").text
            assert requests.get(url + "/_sim/sms", timeout=5).status_code == 401
            assert signed("s01", "POST", "/_sim/verify", sms).json()["status"] == "NORMAL"
            assert s01.check_token() == "NORMAL"
            approved = time.monotonic()
            assert status_of("s01")["status"] == "NORMAL"
            assert status_of("s02")["status"] != "NORMAL"
            assert time.monotonic() - approved < 1.0
        assert status_of("s01", token="wrong") == 401
        assert requests.get(url + "/_class/status", timeout=5).status_code == 401
        assert signed_request(url, creds["s03"][0], "wrong", "GET", ACCOUNTS).status_code == 401
        s03 = status_of("s03")
        assert s03["signature_errors"] >= 1 and s03["last_error"]
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        out, err = proc.stdout.read(), proc.stderr.read()  # the rest, buffered lines included
        shown = first + out + err
        assert "3 students" in out and str(roster_path) in out
        assert "warning" not in err  # beyond localhost, but every control request is signed
        assert roster["teacher_token"] not in shown
        assert all(secret not in shown for _, secret in pairs)
    finally:
        proc.kill()
        proc.stdout.close()
        proc.stderr.close()


# --- what a hostile or unlucky request must not do -----------------------------------------------


def test_ending_a_clock_offset_leaves_the_rate_budget_on_the_class_clock(room, clock) -> None:
    room.scenario("clock_offset", student="s01", minutes=7)
    ahead = lambda: clock() + 420  # noqa: E731 (the student's clients follow the server's Date)
    for _ in range(10):
        assert call(room, "s01", "POST", V2_CHECK, {"token": "t"}, clock=ahead).status_code == 200
    room.scenario("clock_offset", student="s01", off=True)
    refused = call(room, "s01", "POST", V2_CHECK, {"token": "t"})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) <= 30  # the window, not the 7 minutes
    clock.advance(31)
    assert call(room, "s01", "POST", V2_CHECK, {"token": "t"}).status_code == 200


def test_a_request_with_only_the_app_key_spends_no_scenario(room) -> None:
    room.scenario("server_errors", student="s02", count=2)
    for _ in range(3):
        forged = call(room, "s02", "GET", ACCOUNTS, secret="a-guess-at-the-secret")
        assert forged.status_code == 401
    assert room.status()["students"][1]["scenarios"]["server_errors"]["count"] == 2
    assert call(room, "s02", "GET", ACCOUNTS).status_code == 503  # still owed to s02


def test_a_class_scenario_started_while_the_status_is_read_stays_in_view(room) -> None:
    last = room._students["s03"]
    real_row = last.row
    started = threading.Event()

    def row_then_a_teachers_click() -> dict:
        answer = real_row()
        click = threading.Thread(target=lambda: (room.scenario("slow", seconds=0), started.set()))
        click.start()
        click.join(0.2)  # fixed: it waits for the status to be read; else it lands in between
        return answer

    last.row = row_then_a_teachers_click
    room.status()
    last.row = real_row
    assert started.wait(5)
    assert room.status()["scenarios"] == {"slow": {"seconds": 0.0}}


@pytest.mark.parametrize("token", ["lehrerpaß1234", "my class token", "tab\tinside1"])
def test_a_teacher_token_an_http_header_cannot_carry_is_refused_at_start(token) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        Classroom(1, teacher_token=token)


def test_a_signature_that_is_not_ascii_is_a_401_not_a_500(room) -> None:
    answer = call(room, "s01", "GET", ACCOUNTS, override={"x-signature": "é" * 28})
    assert (answer.status_code, answer.json()["error_code"]) == (401, "INCORRECT_SIGN")
    assert row(room, "s01")["signature_errors"] == 1


def test_a_student_keeps_at_most_thirty_exercise_names(room) -> None:
    for n in range(30):
        report = {"exercise": f"e{n}", "passed": True}
        assert call(room, "s01", "POST", "/_class/exercise", report).status_code == 200
    refused = call(room, "s01", "POST", "/_class/exercise", {"exercise": "e30", "passed": True})
    assert (refused.status_code, refused.json()["error_code"]) == (400, "TOO_MANY_EXERCISES")
    again = call(room, "s01", "POST", "/_class/exercise", {"exercise": "e0", "passed": True})
    assert again.status_code == 200 and len(row(room, "s01")["exercises"]) == 30
