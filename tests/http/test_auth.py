"""The ``requests`` auth hook: the token never follows a redirect to another host."""

from __future__ import annotations

import requests
from helpers import Canned, FaultServer

from webull_nb.errors import WebullError
from webull_nb.session import Session

PRIVATE = ("x-access-token", "x-signature", "x-signature-nonce")


def test_a_redirect_to_another_host_loses_the_token(normal_session) -> None:
    with FaultServer([Canned(200, {"ok": True})]) as elsewhere:
        moved = Canned(302, b"", {"Location": elsewhere.url + "/stolen"})
        with FaultServer([moved]) as api:
            response = requests.get(api.url + "/openapi/x", auth=normal_session.auth, timeout=5)
            assert response.status_code == 200 and response.history[0].status_code == 302
            assert "x-access-token" in api.received[0]["headers"]  # signed for its host
        leaked = elsewhere.received[0]["headers"]
        assert not [name for name in PRIVATE if name in leaked], leaked


def test_a_redirect_on_the_same_host_keeps_what_it_signed(normal_session) -> None:
    # Same origin: nothing leaves the host the request was signed for.
    with FaultServer([Canned(200, {"ok": True})]) as api:
        api.replies.insert(0, Canned(302, b"", {"Location": api.url + "/openapi/y"}))
        requests.get(api.url + "/openapi/x", auth=normal_session.auth, timeout=5)
        assert len(api.received) == 2
        assert "x-access-token" in api.received[1]["headers"]


def test_session_get_never_follows_a_redirect(tmp_path) -> None:
    with FaultServer([Canned(200, {"ok": True})]) as elsewhere:
        replies = [
            Canned(200, {"token_check_enabled": False}),
            Canned(302, b"", {"Location": elsewhere.url + "/stolen"}),
        ]
        with FaultServer(replies) as api:
            session = Session(
                "key", "secret", endpoint=api.url, token_dir=tmp_path, environment="uat"
            )
            try:
                response = session.get("/openapi/x")
            except WebullError:
                response = None
            finally:
                session.close()
        assert response is None or response.status_code == 302
        assert elsewhere.received == []


def test_what_a_repr_masks_is_what_a_redirect_drops(normal_session) -> None:
    # The two checks once disagreed: a repr showed x-signature-nonce whole while a redirect
    # dropped it. One rule now decides both, for every header a signed request carries.
    from webull_nb.http.wire import SignedHeaders, is_secret_header

    headers = normal_session.headers("GET", "/openapi/x")
    shown = repr(SignedHeaders(headers))
    with FaultServer([Canned(200, {"ok": True})]) as elsewhere:
        moved = Canned(302, b"", {"Location": elsewhere.url + "/stolen"})
        with FaultServer([moved]) as api:
            requests.get(api.url + "/openapi/x", auth=normal_session.auth, timeout=5)
        forwarded = elsewhere.received[0]["headers"]
    for name, value in headers.items():
        masked = value not in shown
        dropped = name.lower() not in forwarded
        assert masked == dropped == is_secret_header(name), name
    assert {"x-access-token", "x-signature", "x-signature-nonce"} <= {
        name.lower() for name in headers if is_secret_header(name)
    }
