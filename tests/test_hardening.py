"""Issue 12: bad arguments name themselves, and what is signed is what is sent."""

from __future__ import annotations

import http.client
import inspect
import json
import re
import selectors
import socket
import sys
import threading
import time
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from webull_nb.client import Client, compact_json
from webull_nb.endpoints import EndpointError
from webull_nb.errors import WebullError
from webull_nb.session import Session
from webull_nb.signing import canonical_string, query_pairs, sign

COMMON = dict(host="api.webull.com", path="/p", timestamp="2025-01-01T00:00:00Z", nonce="n")


def _with(**changes: object) -> dict:
    return {**COMMON, **changes}


# --- sign() and canonical_string() name the bad argument ------------------------------------


@pytest.mark.parametrize(
    ("changes", "kind", "match"),
    [
        ({"host": None}, TypeError, "host must be the Host header as a str"),
        ({"host": ""}, ValueError, "host must not be empty"),
        ({"host": "https://api.webull.com"}, ValueError, "host must be the Host header.*not a URL"),
        ({"path": None}, TypeError, "path must be a str starting with '/'"),
        ({"path": "no-slash"}, ValueError, "path must start with '/'"),
        ({"body": {"a": 1}}, TypeError, r"body must be the exact bytes.*compact_json"),
        ({"body": {}}, TypeError, r"body must be the exact bytes.*compact_json"),
        ({"body": 12}, TypeError, "body must be bytes, str or None"),
        ({"query": 5}, TypeError, "query must be a mapping"),
        ({"query": ["a=1"]}, TypeError, r"query items must be \(key, value\) pairs"),
        ({"query": {"a": {"b": 1}}}, TypeError, "query value of 'a' is a dict"),
        ({"query": {"a": b"\xff"}}, ValueError, "query value of 'a'.*not UTF-8"),
    ],
)
def test_bad_arguments_name_themselves(changes: dict, kind: type, match: str) -> None:
    with pytest.raises(kind, match=match):
        sign("k", "s", **_with(**changes))
    with pytest.raises(kind, match=match):
        canonical_string("k", **_with(**changes))


def test_body_choices_empty_is_none_and_empty_object_is_its_bytes() -> None:
    assert sign("k", "s", **_with(body=b"")) == sign("k", "s", **_with(body=None))
    # compact_json({}) is b"{}", which the SDK signs with a digest like any other body.
    assert canonical_string("k", **_with(body=compact_json({}))).endswith(
        "&99914B932BD37A50B983C5E7C90AE93B"
    )
    assert sign("k", "s", **_with(body=bytearray(b"{}"))) == sign("k", "s", **_with(body="{}"))


def test_query_string_is_parsed_like_the_server_parses_it() -> None:
    as_text = sign("k", "s", **_with(query="a=1&b=x+y&c="))
    assert as_text == sign("k", "s", **_with(query=[("a", "1"), ("b", "x y"), ("c", "")]))


def test_query_pairs_follow_requests_rules() -> None:
    pairs = query_pairs({"a": None, "b": range(2), "c": b"caf\xc3\xa9", "d": [1, None, "x"]})
    assert pairs == [("b", "0"), ("b", "1"), ("c", "café"), ("d", "1"), ("d", "x")]


def test_the_official_sdk_signs_a_list_as_its_repr_and_str_reproduces_it() -> None:
    from unittest import mock

    composer = pytest.importorskip("webull.core.auth.composer.default_signature_composer")
    timestamp, nonce = COMMON["timestamp"], COMMON["nonce"]
    with (
        mock.patch.object(composer.common, "get_iso_8601_date", return_value=timestamp),
        mock.patch.object(composer.common, "get_uuid", return_value=nonce),
    ):
        theirs = composer.calc_signature({}, "h", "/p", {"b": [1, 2]}, None, "k", "s", None)
    common = dict(host="h", path="/p", algorithm="HMAC-SHA256", timestamp=timestamp, nonce=nonce)
    assert sign("k", "s", query={"b": str([1, 2])}, **common)["x-signature"] == theirs
    assert sign("k", "s", query={"b": [1, 2]}, **common)["x-signature"] != theirs


# --- what is signed is what is sent ----------------------------------------------------------


@pytest.fixture
def uat_sim(clock):
    from webull_nb.simulator import Simulator

    with Simulator(environment="uat", clock=clock) as simulator:
        yield simulator


AWKWARD_PARAMS = {"a": None, "b": range(2), "c": b"caf\xc3\xa9", "d": [1, None, "x"], "e": "1"}


def test_session_headers_then_requests_with_the_same_params_verify(uat_sim) -> None:
    with Session(
        uat_sim.app_key, uat_sim.app_secret, endpoint=uat_sim.url, clock=uat_sim.clock
    ) as s:
        headers = s.headers("GET", "/openapi/config", params=AWKWARD_PARAMS)
        response = requests.get(
            uat_sim.url + "/openapi/config", params=AWKWARD_PARAMS, headers=headers, timeout=5
        )
    assert response.status_code == 200, response.text


def test_client_request_sends_what_it_signs_for_awkward_params(uat_sim) -> None:
    with Client(
        uat_sim.app_key, uat_sim.app_secret, base_url=uat_sim.url, clock=uat_sim.clock
    ) as c:
        assert c.request("GET", "/openapi/config", params=AWKWARD_PARAMS).status_code == 200


@pytest.mark.parametrize(
    ("target", "seen"),
    [
        ("/openapi/config?page=1&q=a+b", "/openapi/config"),
        ("/openapi/a%2Fb", "/openapi/a/b"),
        ("/openapi/100%25", "/openapi/100%"),
        ("/openapi/x%3Fy%23z", "/openapi/x?y#z"),
        ("/openapi/x y/ü", "/openapi/x y/ü"),
    ],
)
def test_client_request_path_is_signed_as_the_server_sees_it(uat_sim, target, seen) -> None:
    with Client(
        uat_sim.app_key, uat_sim.app_secret, base_url=uat_sim.url, clock=uat_sim.clock
    ) as c:
        response = c.request("GET", target, params={"z": 1}, raise_for_status=False)
    # 404 NOT_FOUND (or the config) means the signature was accepted; a mismatch is 401.
    assert response.status_code in (200, 404), response.text
    assert uat_sim.requests_seen[-1][2] == seen


def test_client_request_refuses_a_fragment(uat_sim) -> None:
    client = Client(uat_sim.app_key, uat_sim.app_secret, base_url=uat_sim.url)
    with client, pytest.raises(ValueError, match=r"path '/openapi/config#top' contains a '#'"):
        client.request("GET", "/openapi/config#top")
    assert not uat_sim.requests_seen


# --- endpoints, Session and %webull ----------------------------------------------------------


def test_endpoint_error_is_a_webull_error_and_still_a_value_error() -> None:
    assert issubclass(EndpointError, WebullError) and issubclass(EndpointError, ValueError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"environment": "test"}, "unknown environment 'test': did you mean 'uat'?"),
        ({"environment": "production"}, "unknown environment 'production': did you mean 'prod'?"),
        ({"region": "uss"}, "unknown region 'uss': did you mean 'us'?"),
    ],
)
def test_session_suggests_the_right_name(kwargs: dict, message: str) -> None:
    with pytest.raises(EndpointError) as caught:
        Session("k", "s", **kwargs)
    assert str(caught.value) == message


def test_magic_with_a_bad_environment_prints_one_usage_line(capsys) -> None:
    from webull_nb.ui.magics import webull_magic

    assert webull_magic("--env test") is None
    assert webull_magic("--no-such-flag") is None
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2 and err == ""
    assert lines[0].startswith("%webull: unknown environment 'test': did you mean 'uat'?")
    assert "unrecognized arguments: --no-such-flag" in lines[1]
    assert all("usage: %webull [--env prod|uat]" in line for line in lines)


# --- the simulator under abuse (all traffic to 127.0.0.1 servers started here) --------------


def _raw(sim, method: str, path: str, headers: dict[str, str], body: bytes = b""):
    conn = http.client.HTTPConnection(urlsplit(sim.url).netloc, timeout=5)
    conn.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders(body or None)
    return conn, conn.getresponse()


def _server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "process_request_thread" in t.name]


@pytest.mark.slow
def test_stalled_clients_are_dropped_and_their_threads_end(clock) -> None:
    from webull_nb.simulator import Simulator

    before = set(_server_threads())
    with Simulator(clock=clock, connection_timeout=0.5) as sim:
        address = urlsplit(sim.url)
        socks = []
        try:
            for i in range(200):
                sock = socket.create_connection((address.hostname, address.port), timeout=5)
                if i % 2:  # half stall mid-body, half never send a byte
                    sock.sendall(b"POST /_sim/verify HTTP/1.1\r\nContent-Length: 10\r\n\r\n{}")
                socks.append(sock)
            selector = selectors.DefaultSelector()
            for sock in socks:
                selector.register(sock, selectors.EVENT_READ)
            closed, end = 0, time.monotonic() + 10
            while closed < len(socks) and time.monotonic() < end:
                for key, _ in selector.select(timeout=end - time.monotonic()):
                    assert key.fileobj.recv(1024) == b""  # EOF: the server let go
                    selector.unregister(key.fileobj)
                    closed += 1
            assert closed == 200
        finally:
            for sock in socks:
                sock.close()
        ours = [t for t in _server_threads() if t not in before]
        for thread in ours:
            thread.join(timeout=5)
        assert [t for t in ours if t.is_alive()] == []


@pytest.mark.parametrize("value", ["abc", "-1", "1_0", "+5", "5, 6"])
def test_invalid_content_length_is_400_and_one_log_line(sim, value, caplog, capfd) -> None:
    conn, response = _raw(sim, "POST", "/_sim/verify", {"Content-Length": value})
    with closing(conn):
        assert response.status == 400
        assert json.loads(response.read())["error_code"] == "INVALID_REQUEST"
    records = [r for r in caplog.records if r.name == "webull_nb.simulator"]
    assert len(records) == 1 and "Content-Length" in records[0].getMessage()
    assert "Traceback" not in capfd.readouterr().err


def test_garbage_request_line_is_one_log_line(sim, caplog, capfd) -> None:
    address = urlsplit(sim.url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1 junk\r\n\r\n")
        assert b"400" in sock.recv(1024)
    records = [r for r in caplog.records if r.name == "webull_nb.simulator"]
    assert len(records) == 1
    assert "Traceback" not in capfd.readouterr().err


def test_huge_body_is_413_without_being_read(sim) -> None:
    conn, response = _raw(sim, "POST", "/_sim/verify", {"Content-Length": str(100 << 20)})
    with closing(conn):
        assert response.status == 413
        assert json.loads(response.read())["error_code"] == "BODY_TOO_LARGE"
        assert response.getheader("Connection") == "close"


def test_deeply_nested_json_is_400(sim, capfd) -> None:
    body = b"[" * 200_000
    conn, response = _raw(sim, "POST", "/_sim/verify", {"Content-Length": str(len(body))}, body)
    with closing(conn):
        assert response.status == 400
        assert json.loads(response.read())["message"] == "the body is not JSON"
    assert "RecursionError" not in capfd.readouterr().err


def test_stop_closes_kept_alive_connections(clock) -> None:
    from webull_nb.simulator import Simulator

    sim = Simulator(clock=clock).start()
    conn = http.client.HTTPConnection(urlsplit(sim.url).netloc, timeout=5)
    conn.request("GET", "/_sim/sms")
    assert conn.getresponse().read() == b"[]"  # the connection is now kept alive
    sim.stop()
    assert conn.sock.recv(1) == b""  # closed by the server, not left serving
    conn.close()


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("evil.example", 403),
        ("evil.example:{port}", 403),
        ("127.0.0.1.nip.io:{port}", 403),
        ("localhost:{port}", 200),
        ("127.0.0.1:{port}", 200),
        ("LOCALHOST", 200),
        ("[::1]:{port}", 200),
    ],
)
def test_control_plane_answers_only_local_host_names(sim, host, status) -> None:
    port = str(urlsplit(sim.url).port)
    conn, response = _raw(sim, "GET", "/_sim/sms", {"Host": host.format(port=port)})
    with closing(conn):
        assert response.status == status
        if status == 403:
            assert json.loads(response.read())["error_code"] == "FORBIDDEN_HOST"


def test_control_plane_refuses_a_rebound_verify(sim) -> None:
    client = Client(sim.app_key, sim.app_secret, base_url=sim.url, clock=sim.clock)
    with client:
        token = client.create_token().token
    (sms,) = sim.sms_inbox()
    body = json.dumps(sms).encode()
    headers = {"Host": "evil.example", "Content-Length": str(len(body))}
    conn, response = _raw(sim, "POST", "/_sim/verify", headers, body)
    with closing(conn):
        assert response.status == 403
    assert sim.token_status(token) == "PENDING"


class _NotStarted(Exception):
    pass


@pytest.mark.parametrize(
    ("host", "warned"),
    [("0.0.0.0", True), ("192.168.1.5", True), ("127.0.0.1", False)],  # noqa: S104 (never bound)
)
def test_cli_warns_when_the_control_plane_leaves_the_machine(
    host, warned, monkeypatch, capsys
) -> None:
    from webull_nb.simulator import Simulator
    from webull_nb.simulator import __main__ as cli

    def refuse(self) -> None:  # nothing binds: the warning comes before the server starts
        raise _NotStarted

    monkeypatch.setattr(Simulator, "start", refuse)
    # main() installs SIGINT/SIGTERM handlers; left in place they would swallow Ctrl-C
    # for every later test in this process.
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    with pytest.raises(_NotStarted):
        cli.main(["--host", host])
    err = capsys.readouterr().err
    assert ("anyone on the network can read the SMS codes and approve tokens" in err) is warned


# --- the demo command ---------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["nbformat", "nbclient"])
def test_headless_demo_without_the_lab_extra_says_what_to_install(
    missing, monkeypatch, capsys
) -> None:
    from webull_nb.cli import demo
    from webull_nb.cli.main import main

    monkeypatch.setitem(sys.modules, missing, None)  # makes "import nbformat" fail
    started = []
    monkeypatch.setattr(demo, "_start_simulator", lambda: started.append(1) or ("x", "y"))
    assert main(["demo", "--headless"]) == 2
    err = capsys.readouterr().err
    assert err == f"the headless demo needs {missing}: pip install 'webull-nb[lab]'\n"
    assert started == []


# --- the README ------------------------------------------------------------------------------

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_gives_pip_users_their_own_demo_path() -> None:
    text = README.read_text(encoding="utf-8")
    assert "pip install 'webull-nb[lab]'\nwebull-nb demo\n" in text


def test_readme_simulator_snippet_prints_what_it_shows(capsys) -> None:
    (block,) = [b for b in _python_blocks() if "with Simulator()" in b]
    shown = re.findall(r"print\(.*\)\s+# (\S+)", block)
    assert shown, "the snippet prints nothing"
    exec(compile(block, "README.md", "exec"), {})  # noqa: S102 (our own README)
    assert capsys.readouterr().out.split() == shown


def test_readme_canonical_string_call_matches_its_signature() -> None:
    text = " ".join(README.read_text(encoding="utf-8").split())
    call = re.search(r"`canonical_string\((app_key,[^`]*)\)`", text)
    assert call, "the README shows no canonical_string call with its arguments"
    named = set(re.findall(r"(\w+)=", call.group(1)))
    parameters = inspect.signature(canonical_string).parameters
    required = {n for n, p in parameters.items() if p.default is p.empty and n != "app_key"}
    assert required <= named <= set(parameters)
    assert "app_secret" not in call.group(1)
