"""The simulator behaves like the service: lifecycle, checks, control plane, CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import requests
from helpers import signed_request

from webull_nb.simulator import DEMO_APP_KEY, DEMO_APP_SECRET, Simulator, SimulatorError
from webull_nb.simulator.control import SimControl

V2_CREATE, V2_CHECK = "/openapi/auth/token/create", "/openapi/auth/token/check"
V3_CREATE, V3_CHECK = "/auth/tokens/create", "/auth/tokens/check"


def call(sim, method, path, payload=None, body=None, **kw):
    if payload is not None:
        body = json.dumps(payload).encode()
    return signed_request(
        sim.url, sim.app_key, sim.app_secret, method, path, body=body, clock=sim.clock, **kw
    )


def create(sim, token=None, path=V2_CREATE):
    response = call(sim, "POST", path, {"token": token} if token else {})
    assert response.status_code == 200, response.text
    return response.json()


def check(sim, token, path=V2_CHECK):
    return call(sim, "POST", path, {"token": token}).json()


def test_config_says_whether_tokens_are_checked(clock) -> None:
    for environment, enabled in (("prod", True), ("uat", False)):
        with Simulator(environment=environment, clock=clock) as sim:
            assert call(sim, "GET", "/openapi/config").json() == {"token_check_enabled": enabled}


@pytest.mark.parametrize(
    ("create_path", "check_path"), [(V2_CREATE, V2_CHECK), (V3_CREATE, V3_CHECK)]
)
def test_lifecycle_pending_sms_verify_normal(sim, clock, create_path, check_path) -> None:
    created = create(sim, path=create_path)
    assert created["status"] == "PENDING"
    assert created["expires"] == int((clock() + 300) * 1000)
    (sms,) = sim.sms_inbox()
    assert sms["token"] == created["token"] and len(sms["code"]) == 6 and sms["code"].isdigit()
    assert check(sim, created["token"], check_path)["status"] == "PENDING"
    clock.advance(120)
    assert sim.verify(created["token"], sms["code"])["status"] == "NORMAL"
    assert check(sim, created["token"], check_path)["status"] == "NORMAL"
    assert sim.sms_inbox() == []


def test_pending_token_expires_after_the_window(sim, clock) -> None:
    token = create(sim)["token"]
    clock.advance(299)
    assert check(sim, token)["status"] == "PENDING"
    clock.advance(2)
    assert check(sim, token)["status"] == "EXPIRED"
    assert sim.sms_inbox() == []


def test_normal_token_goes_invalid_after_15_idle_days_and_use_resets_it(sim, clock) -> None:
    token = create(sim)["token"]
    sim.verify(token, sim.sms_inbox()[0]["code"])
    clock.advance(14 * 86400)
    accounts = call(sim, "GET", "/openapi/account/list", extra={"x-access-token": token})
    assert accounts.status_code == 200 and len(accounts.json()) == 2
    clock.advance(14 * 86400)  # 28 days after verification, 14 after the last use
    assert check(sim, token)["status"] == "NORMAL"
    clock.advance(86400 + 1)
    assert check(sim, token)["status"] == "INVALID"


def test_create_reuses_pending_or_normal_token_without_new_sms(sim, clock) -> None:
    token = create(sim)["token"]
    assert create(sim, token)["token"] == token
    assert len(sim.sms_inbox()) == 1
    sim.verify(token, sim.sms_inbox()[0]["code"])
    again = create(sim, token)
    assert (again["token"], again["status"]) == (token, "NORMAL")
    assert sim.sms_inbox() == []


def test_create_with_expired_or_unknown_token_makes_a_fresh_one(sim, clock) -> None:
    token = create(sim)["token"]
    clock.advance(301)
    fresh = create(sim, token)
    assert fresh["token"] != token and fresh["status"] == "PENDING"
    assert create(sim, "nope")["token"] not in (token, fresh["token"])


def test_unknown_token_checks_invalid(sim) -> None:
    assert check(sim, "never-issued")["status"] == "INVALID"


def test_uat_tokens_are_normal_at_once_and_need_no_token(clock) -> None:
    with Simulator(environment="uat", clock=clock) as sim:
        assert create(sim)["status"] == "NORMAL"
        assert sim.sms_inbox() == []
        assert call(sim, "GET", "/openapi/account/list").status_code == 200


def test_protected_endpoint_needs_a_normal_token(sim) -> None:
    response = call(sim, "GET", "/openapi/account/list")
    assert (response.status_code, response.json()["error_code"]) == (401, "INVALID_TOKEN")
    pending = create(sim)["token"]
    response = call(sim, "GET", "/openapi/account/list", extra={"x-access-token": pending})
    assert response.json()["error_code"] == "INVALID_TOKEN"


def test_auto_verify_after(clock) -> None:
    with Simulator(clock=clock, auto_verify_after=5) as sim:
        token = create(sim)["token"]
        clock.advance(4)
        assert check(sim, token)["status"] == "PENDING"
        clock.advance(1)
        assert check(sim, token)["status"] == "NORMAL"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("x-app-key", "MISSING_APP_KEY"),
        ("x-signature", "MISSING_SIGNATURE"),
        ("x-signature-algorithm", "MISSING_ALGORITHM"),
        ("x-signature-nonce", "MISSING_NONCE"),
        ("x-timestamp", "MISSING_TIMESTAMP"),
        ("x-signature-version", "MISSING_VERSION"),
    ],
)
def test_missing_signing_header(sim, header, code) -> None:
    response = call(sim, "GET", "/openapi/config", drop=header)
    assert (response.status_code, response.json()["error_code"]) == (401, code)


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"x-app-key": "someone-else"}, "UNAUTHORIZED"),
        ({"x-signature-algorithm": "HMAC-MD5"}, "SIGNATURE_ALGORITHM_NOT_SUPPORTED"),
        ({"x-timestamp": "yesterday"}, "ILLEAGAL_TIMESTAMP"),
        ({"x-signature": "AAAA"}, "INCORRECT_SIGN"),
    ],
)
def test_rejected_signing_headers(sim, override, code) -> None:
    response = call(sim, "GET", "/openapi/config", override=override)
    assert response.json()["error_code"] == code


def test_signature_covers_query_and_body_and_host(sim) -> None:
    params = [("b", "x y"), ("a", "1"), ("a", "2")]
    ok = call(sim, "POST", V2_CHECK, {"token": "t"}, params=params, algorithm="HMAC-SHA256")
    assert ok.status_code == 200
    tampered = call(sim, "POST", V2_CHECK, {"token": "t"}, extra={"Host": "evil.example"})
    assert tampered.json()["error_code"] == "INCORRECT_SIGN"


def test_timestamp_must_be_within_five_minutes(sim, clock) -> None:
    def stale():
        return clock() - 301

    response = signed_request(
        sim.url, sim.app_key, sim.app_secret, "GET", "/openapi/config", clock=stale
    )
    assert response.json()["error_code"] == "CLOCK_SKEW_EXCEEDED"
    assert response.headers["Date"]  # follows the simulator's clock
    assert (
        abs(
            time.mktime(time.strptime(response.headers["Date"], "%a, %d %b %Y %H:%M:%S GMT"))
            - clock()
        )
        < 86400
    )


def test_nonce_is_single_use_for_ten_minutes(sim, clock) -> None:
    from webull_nb.signing import format_timestamp, sign

    def send():
        headers = sign(
            sim.app_key,
            sim.app_secret,
            host=sim.url.split("//")[1],
            path="/openapi/config",
            nonce="fixed-nonce",
            timestamp=format_timestamp(clock()),
        )
        return requests.get(sim.url + "/openapi/config", headers=headers, timeout=5)

    assert send().status_code == 200
    duplicate = send()
    assert (duplicate.status_code, duplicate.json()["error_code"]) == (401, "DUPLICATE_NONCE")
    clock.advance(601)
    assert send().status_code == 200


def test_rate_limit_ten_per_thirty_seconds_per_call_type(sim, clock) -> None:
    for _ in range(10):
        assert call(sim, "POST", V2_CHECK, {"token": "t"}).status_code == 200
    refused = call(sim, "POST", V2_CHECK, {"token": "t"})
    assert (refused.status_code, refused.json()["error_code"]) == (429, "TOO_MANY_REQUESTS")
    assert refused.headers["Retry-After"] == "30"
    assert call(sim, "POST", V2_CREATE, {}).status_code == 200  # counted separately
    clock.advance(30)
    assert call(sim, "POST", V2_CHECK, {"token": "t"}).status_code == 200


def test_body_is_json_whatever_the_content_type(sim) -> None:
    body = json.dumps({"token": "t"}).encode()
    as_text = call(sim, "POST", V2_CHECK, extra={"Content-Type": "text/plain"}, body=body)
    assert as_text.status_code == 200
    broken = call(sim, "POST", V2_CHECK, body=b"{not json")
    assert (broken.status_code, broken.json()["error_code"]) == (400, "INVALID_PARAMETER")


def test_control_plane(sim, clock) -> None:
    control = SimControl(sim.url)
    token = create(sim)["token"]
    inbox = control.sms_inbox()
    assert [m["token"] for m in inbox] == [token]
    with pytest.raises(SimulatorError) as wrong:
        control.verify(token, "x")
    assert (wrong.value.http_status, wrong.value.error_code) == (400, "INCORRECT_CODE")
    with pytest.raises(SimulatorError) as unknown:
        control.verify("?", "1")
    assert (unknown.value.http_status, unknown.value.error_code) == (404, "TOKEN_NOT_FOUND")
    assert control.verify(token, inbox[0]["code"]) == {"token": token, "status": "NORMAL"}
    late = create(sim)["token"]
    clock.advance(301)
    with pytest.raises(SimulatorError) as expired:
        control.verify(late, "000000")
    assert (expired.value.http_status, expired.value.error_code) == (409, "TOKEN_EXPIRED")


def test_control_client_approves_the_newest_code(sim) -> None:
    control = SimControl(sim.url + "/")
    assert control.approve_latest() is None  # nothing awaits a code
    first, newest = create(sim)["token"], create(sim)["token"]
    assert control.approve_latest() == {"token": newest, "status": "NORMAL"}
    assert (sim.token_status(first), sim.token_status(newest)) == ("PENDING", "NORMAL")


def test_control_routes_answer_404_for_unknown_paths(sim) -> None:
    response = requests.get(sim.url + "/_sim/nothing", timeout=5)
    assert (response.status_code, response.json()["error_code"]) == (404, "NOT_FOUND")


def test_repr_hides_the_secret(sim) -> None:
    assert sim.app_secret not in repr(sim)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_cli_prints_url_and_keys_and_exits_zero_on_signal(signum) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "webull_nb.simulator", "--environment", "uat"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("webull-nb simulator listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1]
        assert DEMO_APP_KEY in proc.stdout.readline()
        assert DEMO_APP_SECRET in proc.stdout.readline()
        config = signed_request(url, DEMO_APP_KEY, DEMO_APP_SECRET, "GET", "/openapi/config")
        assert config.json() == {"token_check_enabled": False}
        proc.send_signal(signum)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.stdout.close()
