"""Later cells exploring the API: the x-version each path needs, explicit headers, the log."""

from __future__ import annotations

import json

import pytest
import requests

from webull_nb.core.errors import RequestError, TokenStateError

SNAPSHOTS = "/market-data/stocks/snapshots/list"
AAPL = {"symbols": "AAPL", "category": "US_STOCK"}


@pytest.fixture
def normal(normal_session):
    """A default session (api v2) with a NORMAL token."""
    return normal_session


def _sent_version(sim, path: str) -> list[int]:
    return [status for _, _, seen, status in sim.requests_seen if seen == path]


def test_a_default_session_sends_the_version_market_data_needs(normal) -> None:
    assert normal.api == "v2"
    response = normal.get(SNAPSHOTS, params=AAPL)
    assert response.status_code == 200
    assert response.json()[0]["symbol"] == "AAPL"
    assert normal.headers("GET", SNAPSHOTS, AAPL)["x-version"] == "v3"
    # The token API keeps its profile's version.
    assert normal.headers("POST", "/openapi/auth/token/check")["x-version"] == "v2"


def test_the_requests_hook_keeps_an_explicit_version(normal, sim) -> None:
    url = sim.url + SNAPSHOTS
    chosen = requests.get(
        url, params=AAPL, headers={"x-version": "v3"}, auth=normal.auth, timeout=10
    )
    assert chosen.status_code == 200
    assert chosen.request.headers["x-version"] == "v3"
    # Without one, the hook sends the catalog's; with another one, that one (and the
    # simulator, like Webull, has no such API).
    assert requests.get(url, params=AAPL, auth=normal.auth, timeout=10).status_code == 200
    wrong = requests.get(
        url, params=AAPL, headers={"x-version": "v2"}, auth=normal.auth, timeout=10
    )
    assert wrong.status_code == 404
    assert wrong.request.headers["x-version"] == "v2"


def test_an_explicit_version_on_get_wins_and_is_signed_as_sent(normal) -> None:
    with pytest.raises(RequestError, match="x-version 'v2'"):
        normal.get(SNAPSHOTS, params=AAPL, headers={"X-Version": "v2"})
    assert normal.get(SNAPSHOTS, params=AAPL, headers={"x-version": "v3"}).status_code == 200


def test_signature_headers_cannot_be_given(normal) -> None:
    for name in ("x-access-token", "X-Signature", "x-timestamp"):
        with pytest.raises(ValueError, match="set when the request is signed"):
            normal.get(SNAPSHOTS, params=AAPL, headers={name: "x"})


def test_the_request_log_keeps_what_was_sent_and_no_secret(normal, sim) -> None:
    normal.get(SNAPSHOTS, params=AAPL)
    normal.get("/openapi/account/list")
    with pytest.raises(RequestError):
        normal.get("/openapi/nope")
    requests.get(sim.url + SNAPSHOTS, params=AAPL, auth=normal.auth, timeout=10)
    log = normal.request_log
    assert len(log) >= 4
    first, _, failed, hooked = log.entries()[-4:]
    assert (first.method, first.path, first.params, first.status) == (
        "GET",
        SNAPSHOTS,
        (("symbols", "AAPL"), ("category", "US_STOCK")),
        200,
    )
    assert first.request_id and first.ms > 0
    assert (failed.status, failed.error) == (404, "RequestError")
    assert hooked.path == SNAPSHOTS and hooked.status == 200
    token = normal.store.load().token
    shown = [repr(log), log._repr_html_(), *(e.as_code() for e in log), *map(repr, log)]
    for text in shown:
        assert token not in text
        assert sim.app_secret not in text
        assert "x-signature" not in text.lower()


def test_a_logged_request_becomes_code_that_repeats_it(normal) -> None:
    normal.get(SNAPSHOTS, params=AAPL)
    code = normal.request_log[-1].as_code()
    assert "auth=webull_nb.current().auth" in code
    normal.activate()
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102 (our own generated code)
    assert namespace["response"].status_code == 200
    assert namespace["response"].json()[0]["symbol"] == "AAPL"


def test_a_body_holding_the_token_is_masked_in_the_log(normal) -> None:
    token = normal.store.load().token
    with pytest.raises(RequestError):
        normal.post("/openapi/nope", json={"note": f"my token is {token}", "n": 1})
    entry = normal.request_log[-1]
    assert entry.body == {"note": "***", "n": 1}
    assert token not in entry.as_code()


def test_token_api_bodies_are_never_logged(normal) -> None:
    normal.post("/openapi/auth/token/check", json={"token": "someone-elses-token"})
    entry = normal.request_log[-1]
    assert entry.path == "/openapi/auth/token/check" and entry.status == 200
    assert entry.body is None
    assert "someone-elses-token" not in entry.as_code()


def test_the_log_holds_the_last_200(normal) -> None:
    for _ in range(205):
        normal.get("/openapi/account/list")
    assert len(normal.request_log) == 200


def test_a_refused_request_without_a_token_is_not_sent_nor_logged(session) -> None:
    with pytest.raises(TokenStateError):
        session.get(SNAPSHOTS, params=AAPL)
    assert len(session.request_log) == 0


def test_the_log_survives_new_credentials(normal, sim) -> None:
    normal.get("/openapi/account/list")
    normal.set_credentials(sim.app_key, sim.app_secret)
    assert len(normal.request_log) == 1
    assert json.dumps(normal.request_log.rows(), default=str)
