"""diagnose.reason: each refusal of a real Simulator said in words a student understands."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import quote, urlsplit

import pytest
import requests

from webull_nb.core.secrets import Secret
from webull_nb.core.signing import format_timestamp, sign
from webull_nb.simulator import Simulator, SimulatorError
from webull_nb.simulator.diagnose import WRONG_SECRET, explain_signature, reason

ACCOUNTS = "/openapi/account/list"
CHECK = "/openapi/auth/token/check"
SNAPSHOT = "/openapi/market-data/stock/snapshot"
TOKEN = "tok3nSecretValueThatMustNeverShow"


def send(
    sim: Simulator,
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes = b"",
    signed: dict | None = None,
    secret: str | None = None,
    timestamp: str | None = None,
    nonce: str | None = None,
    algorithm: str = "HMAC-SHA1",
    headers: dict | None = None,
    drop: str | None = None,
) -> tuple[int, str, dict]:
    """Sign (``signed`` overrides what is signed), send through ``sim.handle``; the words."""
    host = urlsplit(sim.url).netloc
    what = {"host": host, "path": path, "query": query, "body": body, **(signed or {})}
    sent = sign(
        sim.app_key,
        secret or sim.app_secret,
        algorithm=algorithm,
        timestamp=timestamp or format_timestamp(sim.clock()),
        nonce=nonce,
        **what,
    )
    sent = {**sent, "host": host, **(headers or {})}
    if drop:
        sent.pop(drop)
    reply = sim.handle(method, path + ("?" + query if query else ""), sent, body)
    words = ""
    if reply.status == 401:
        refusal = SimulatorError(401, reply.body["error_code"], reply.body["message"])
        words = reason(
            refusal,
            headers=sent,
            path=path,
            query=query,
            body=body,
            host=host,
            app_key=sim.app_key,
            app_secret=Secret(sim.app_secret),
            now=sim.clock(),
        )
    return reply.status, words, sent


def assert_nothing_secret(words: str, sim: Simulator, sent: dict) -> None:
    assert sim.app_secret not in words
    assert sent.get("x-signature", "\0") not in words
    assert TOKEN not in words and TOKEN[:5] not in words


def test_a_right_request_is_not_refused(sim) -> None:
    status, words, _ = send(sim, "GET", "/openapi/config")
    assert (status, words) == (200, "")


def test_wrong_secret(sim) -> None:
    status, words, sent = send(sim, "GET", ACCOUNTS, secret="not-the-secret")
    assert status == 401
    assert words == WRONG_SECRET
    assert words.startswith("wrong secret (") and "check the app secret" in words
    assert_nothing_secret(words, sim, sent)


def test_host_differs_over_http(sim) -> None:
    # Signed for localhost, sent to 127.0.0.1: the Host header the server saw is the other.
    port = urlsplit(sim.url).port
    headers = sign(
        sim.app_key,
        sim.app_secret,
        host=f"localhost:{port}",
        path=ACCOUNTS,
        timestamp=format_timestamp(sim.clock()),
    )
    answer = requests.get(sim.url + ACCOUNTS, headers=headers, timeout=5)
    assert answer.status_code == 401 and answer.json()["error_code"] == "INCORRECT_SIGN"
    refusal = SimulatorError(401, "INCORRECT_SIGN", answer.json()["message"])
    words = reason(
        refusal,
        headers={**headers, "host": f"127.0.0.1:{port}"},
        path=ACCOUNTS,
        query="",
        body=b"",
        host=f"127.0.0.1:{port}",
        app_key=sim.app_key,
        app_secret=Secret(sim.app_secret),
        now=sim.clock(),
    )
    assert words == (
        f"Host differs: you signed 'localhost:{port}', the request went to '127.0.0.1:{port}'"
    )


def test_host_signed_without_its_port(sim) -> None:
    host = urlsplit(sim.url).netloc
    status, words, _ = send(sim, "GET", ACCOUNTS, signed={"host": "127.0.0.1"})
    assert status == 401
    assert words == f"Host differs: you signed '127.0.0.1', the request went to '{host}'"


def test_pretty_body(sim) -> None:
    payload = {"token": TOKEN}
    compact = json.dumps(payload, separators=(",", ":")).encode()
    pretty = json.dumps(payload, indent=2).encode()
    status, words, sent = send(sim, "POST", CHECK, body=compact, signed={"body": pretty})
    assert status == 401
    assert words.startswith("body digest differs: you signed other bytes than you sent")
    assert "pretty JSON instead of compact JSON?" in words
    assert_nothing_secret(words, sim, sent)


def test_spaced_body_and_no_body(sim) -> None:
    sent_body = json.dumps({"token": TOKEN}).encode()  # what requests' json= sends
    compact = json.dumps({"token": TOKEN}, separators=(",", ":")).encode()
    _, words, _ = send(sim, "POST", CHECK, body=sent_body, signed={"body": compact})
    assert "compact JSON instead of JSON with spaces?" in words
    _, words, _ = send(sim, "POST", CHECK, body=sent_body, signed={"body": None})
    assert words == f"body digest differs: you signed no body, but you sent {len(sent_body)} bytes"


def test_bodies_over_64_kb_get_no_body_hypotheses(sim) -> None:
    payload = {"token": TOKEN, "pad": "x" * 70_000}
    compact = json.dumps(payload, separators=(",", ":")).encode()
    pretty = json.dumps(payload, indent=2).encode()
    _, words, _ = send(sim, "POST", CHECK, body=compact, signed={"body": pretty})
    assert words == WRONG_SECRET


def test_path_with_a_trailing_slash(sim) -> None:
    status, words, _ = send(sim, "GET", ACCOUNTS, signed={"path": ACCOUNTS + "/"})
    assert status == 401
    assert words == (
        f"path differs: you signed '{ACCOUNTS}/' (with a trailing slash), "
        f"the request went to '{ACCOUNTS}'"
    )


def test_query_left_in_the_path_and_query_not_signed(sim) -> None:
    query = "symbols=AAPL&category=US_STOCK"
    _, words, _ = send(
        sim, "GET", SNAPSHOT, query=query, signed={"path": f"{SNAPSHOT}?{query}", "query": ""}
    )
    assert words.startswith("path differs: you signed") and "(with the query left in it)" in words
    _, words, _ = send(sim, "GET", SNAPSHOT, query=query, signed={"query": ""})
    assert words == f"query differs: you signed no parameters, the request carried '{query}'"


def test_query_values_signed_still_encoded(sim) -> None:
    query = "symbols=AAPL%2CTSLA&category=US_STOCK"
    raw = [("symbols", "AAPL%2CTSLA"), ("category", "US_STOCK")]
    _, words, _ = send(sim, "GET", SNAPSHOT, query=query, signed={"query": raw})
    assert words.startswith("query differs: you signed the values still percent-encoded")


def explain(sim: Simulator, signature: str, algorithm: str = "HMAC-SHA1") -> str:
    return explain_signature(
        signature,
        app_key=sim.app_key,
        app_secret=sim.app_secret,
        host="h",
        path=ACCOUNTS,
        query="",
        body=b"",
        algorithm=algorithm,
        timestamp="2026-01-01T00:00:00Z",
        nonce="n",
    )


def test_a_right_signature_is_explained_by_nothing(sim) -> None:
    headers = sign(
        sim.app_key,
        sim.app_secret,
        host="h",
        path=ACCOUNTS,
        timestamp="2026-01-01T00:00:00Z",
        nonce="n",
    )
    assert explain(sim, headers["x-signature"]) == ""
    assert explain(sim, headers["x-signature"][::-1]) == WRONG_SECRET


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_the_url_signed_in_place_of_the_host(sim, scheme) -> None:
    # Made the way a student does by hand (the signer itself refuses a URL as host).
    fields = {
        "host": f"{scheme}://h",
        "x-app-key": sim.app_key,
        "x-signature-algorithm": "HMAC-SHA1",
        "x-signature-nonce": "n",
        "x-signature-version": "1.0",
        "x-timestamp": "2026-01-01T00:00:00Z",
    }
    canonical = ACCOUNTS + "&" + "&".join(f"{k}={v}" for k, v in sorted(fields.items()))
    key = (sim.app_secret + "&").encode()
    digest = hmac.new(key, quote(canonical, safe="").encode(), hashlib.sha1).digest()
    words = explain(sim, base64.b64encode(digest).decode())
    assert words == f"Host differs: you signed the URL '{scheme}://h', not the Host 'h'"


def test_algorithm_header_says_one_signature_is_the_other(sim) -> None:
    headers = sign(
        sim.app_key,
        sim.app_secret,
        host="h",
        path=ACCOUNTS,
        algorithm="HMAC-SHA256",
        timestamp="2026-01-01T00:00:00Z",
        nonce="n",
    )
    # Pure: the words come from the inputs alone, no simulator needed for this one.
    assert explain(sim, headers["x-signature"]) == (
        "algorithm differs: you signed with HMAC-SHA256, "
        "the x-signature-algorithm header says HMAC-SHA1"
    )


def test_skew_seven_minutes_ahead_and_local_time(sim, clock) -> None:
    status, words, _ = send(sim, "GET", ACCOUNTS, timestamp=format_timestamp(clock() + 420))
    assert status == 401
    assert words.startswith("timestamp 7 min off (your clock is ahead)")
    _, words, _ = send(sim, "GET", ACCOUNTS, timestamp=format_timestamp(clock() - 7200))
    assert words == "timestamp 2 h off (your clock is behind): local time instead of UTC?"


def test_nonce_reused(sim) -> None:
    first, _, _ = send(sim, "GET", "/openapi/config", nonce="same-nonce")
    status, words, _ = send(sim, "GET", "/openapi/config", nonce="same-nonce")
    assert (first, status) == (200, 401)
    assert words == "nonce reused: every request needs a fresh x-signature-nonce"


def test_token_missing_and_token_not_usable(sim) -> None:
    status, words, _ = send(sim, "GET", ACCOUNTS)
    assert (status, words) == (401, "token missing: send x-access-token")
    status, words, sent = send(sim, "GET", ACCOUNTS, headers={"x-access-token": TOKEN})
    assert status == 401
    assert words == "token tok3… not usable (not NORMAL: approve it, or create a new one)"
    assert_nothing_secret(words, sim, sent)


def test_missing_header_and_unknown_key(sim) -> None:
    status, words, _ = send(sim, "GET", ACCOUNTS, drop="x-signature-nonce")
    assert status == 401
    assert words.startswith("the x-signature-nonce header is missing")
    status, words, _ = send(sim, "GET", ACCOUNTS, headers={"x-app-key": "zyxwvutsrq"})
    assert status == 401 and words.startswith("unknown app key zyxw…:")
    assert "zyxwvutsrq" not in words


@pytest.mark.parametrize(
    "variant",
    [
        {"secret": "wrong-secret"},
        {"signed": {"host": "localhost"}},
        {"signed": {"path": ACCOUNTS + "/"}},
        {"headers": {"x-access-token": TOKEN}},
        {"headers": {"x-signature-algorithm": "HMAC-MD5"}},
        {"headers": {"x-timestamp": "yesterday"}},
    ],
)
def test_words_never_hold_a_secret(sim, variant) -> None:
    status, words, sent = send(sim, "GET", ACCOUNTS, **variant)
    assert status == 401 and words
    assert_nothing_secret(words, sim, sent)


@pytest.mark.parametrize(
    ("body", "headers", "host"),
    [
        (b"[" * 20_000 + b"]" * 20_000, {}, "h"),  # too deep to parse
        (b"[" * 900 + b"]" * 900, {}, "h"),  # parses, too deep to pretty-print
        (b'{"a": "\\ud800"}', {"x-signature": "\ud800"}, "h"),  # lone surrogates
        (b"\xff\xfe", {"x-signature-nonce": "\x00"}, "x" * 10_000),
        (b"", {"x-signature-algorithm": "HMAC-MD5"}, ""),
    ],
)
def test_hostile_requests_get_words_never_an_exception(body, headers, host) -> None:
    sent = {
        "x-app-key": "k",
        "x-signature": "c2lnbmF0dXJl",
        "x-signature-algorithm": "HMAC-SHA1",
        "x-signature-nonce": "n",
        "x-timestamp": "2026-01-01T00:00:00Z",
        "x-signature-version": "1.0",
        **headers,
    }
    words = reason(
        SimulatorError(401, "INCORRECT_SIGN", "the signature does not match"),
        headers=sent,
        path="/p",
        query="a=%ZZ&&=",
        body=body,
        host=host,
        app_key="k",
        app_secret=Secret("s3cr3t-value"),
        now=1_790_000_000.0,
    )
    assert isinstance(words, str) and words and "s3cr3t" not in words
