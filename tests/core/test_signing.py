"""The signer against Webull's own vectors, the official SDK, and its documented rules."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import os
import pickle
import re
import time
import uuid
from unittest import mock
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webull_nb.client import Client
from webull_nb.core import signing
from webull_nb.core.secrets import Secret
from webull_nb.signing import (
    Signer,
    canonical_string,
    format_timestamp,
    percent_encode,
    query_pairs,
    sign,
)

HEADER_NAMES = [
    "x-app-key",
    "x-timestamp",
    "x-signature-version",
    "x-signature-algorithm",
    "x-signature-nonce",
    "x-signature",
]


def _case_args(case: dict) -> dict:
    return {
        "host": case["host"],
        "path": case["path"],
        "query": [tuple(pair) for pair in case["query"]],
        "body": case["body"],
        "algorithm": case["algorithm"],
        "timestamp": case["timestamp"],
        "nonce": case["nonce"],
    }


def test_vectors_file_is_complete(signing_vectors: list[dict]) -> None:
    assert len(signing_vectors) == 40
    assert {c["algorithm"] for c in signing_vectors} == {"HMAC-SHA1", "HMAC-SHA256"}


@pytest.mark.parametrize("index", range(40))
def test_conformance_vector(signing_vectors: list[dict], index: int) -> None:
    case = signing_vectors[index]
    headers = sign(case["app_key"], case["app_secret"], **_case_args(case))
    assert headers == case["expected_headers"]
    assert list(headers) == HEADER_NAMES


def test_mapping_query_and_list_values_merge_like_pairs() -> None:
    common = dict(host="h", path="/p", timestamp="2025-01-01T00:00:00Z", nonce="n")
    as_pairs = sign("k", "s", query=[("b", 1), ("a", "x"), ("b", 2)], **common)
    as_mapping = sign("k", "s", query={"b": [1, 2], "a": "x"}, **common)
    assert as_pairs == as_mapping
    text = canonical_string("k", query={"b": (1, 2)}, **common)
    assert "b=1&2" in text


def test_query_key_sorts_by_code_point_and_merges_into_headers() -> None:
    text = canonical_string(
        "k",
        host="api.webull.com",
        path="/p",
        query=[("Symbol", "A"), ("host", "extra")],
        timestamp="2025-01-01T00:00:00Z",
        nonce="n",
    )
    assert text == (
        "/p&Symbol=A&host=api.webull.com&extra&x-app-key=k&x-signature-algorithm=HMAC-SHA1"
        "&x-signature-nonce=n&x-signature-version=1.0&x-timestamp=2025-01-01T00:00:00Z"
    )


def test_body_digest_and_encoding_rules() -> None:
    common = dict(host="h", path="/a b/ü", timestamp="t", nonce="n")
    plain = canonical_string("k", body=b'{"a":1}', **common)
    assert plain.endswith("&" + hashlib.md5(b'{"a":1}').hexdigest().upper())
    sha = canonical_string("k", body='{"a":1}', algorithm="HMAC-SHA256", **common)
    assert sha.endswith("&" + hashlib.sha256(b'{"a":1}').hexdigest().upper())
    # An empty body adds nothing, exactly like no body.
    assert canonical_string("k", body=b"", **common) == canonical_string("k", **common)
    encoded = canonical_string("k", encoded=True, **common)
    assert encoded.startswith("%2Fa%20b%2F%C3%BC%26")
    assert encoded == quote(canonical_string("k", **common), safe="")


def test_signature_is_hmac_of_encoded_string_keyed_with_secret_and_ampersand() -> None:
    common = dict(host="h", path="/p", query={"q": "1"}, body="{}", timestamp="t", nonce="n")
    for algorithm, digest in (("HMAC-SHA1", "sha1"), ("HMAC-SHA256", "sha256")):
        message = canonical_string("k", algorithm=algorithm, encoded=True, **common)
        expected = base64.b64encode(hmac.digest(b"secret&", message.encode(), digest)).decode()
        assert sign("k", "secret", algorithm=algorithm, **common)["x-signature"] == expected


def test_defaults_fresh_timestamp_and_nonce() -> None:
    first = sign("k", "s", host="h", path="/p")
    second = sign("k", "s", host="h", path="/p")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["x-timestamp"])
    assert first["x-signature-nonce"] != second["x-signature-nonce"]
    assert first["x-signature-version"] == "1.0"


def test_unknown_algorithm_names_the_supported_ones() -> None:
    with pytest.raises(ValueError, match="HMAC-SHA1 or HMAC-SHA256"):
        sign("k", "s", host="h", path="/p", algorithm="RSA")


@given(st.text())
def test_percent_encode_matches_urllib(text: str) -> None:
    try:
        expected = quote(text, safe="")
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            percent_encode(text)
        return
    assert percent_encode(text) == expected


# --- cross-check against the official SDK on generated requests ------------------------------

sdk_composer = pytest.importorskip(
    "webull.core.auth.composer.default_signature_composer",
    reason="webull-openapi-python-sdk is not installed",
)

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_key = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**9), 10**9) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_key, inner, max_size=3),
    max_leaves=6,
)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    app_key=st.text("0123456789abcdef", min_size=1, max_size=32),
    app_secret=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=32),
    host=st.sampled_from(["api.webull.com", "127.0.0.1:8123", "localhost:49152"]),
    path=st.builds(lambda s: "/" + s, _text),
    query=st.dictionaries(_key, _text | st.integers(), max_size=5),
    body=st.none() | st.dictionaries(_key, _json, max_size=4),
    timestamp=st.sampled_from(["2025-09-08T00:49:12Z", "2031-12-31T23:59:59Z"]),
    nonce=st.uuids().map(str),
)
def test_matches_official_sdk_calc_signature(
    app_key, app_secret, host, path, query, body, timestamp, nonce
) -> None:
    headers: dict[str, str] = {}
    with (
        mock.patch.object(sdk_composer.common, "get_iso_8601_date", return_value=timestamp),
        mock.patch.object(sdk_composer.common, "get_uuid", return_value=nonce),
    ):
        expected = sdk_composer.calc_signature(
            headers, host, path, query, body, app_key, app_secret, None
        )
    wire_body = (
        None if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    )
    ours = sign(
        app_key,
        app_secret,
        host=host,
        path=path,
        query=query,
        body=wire_body,
        algorithm="HMAC-SHA256",
        timestamp=timestamp,
        nonce=nonce,
    )
    assert ours["x-signature"] == expected
    assert {k: v for k, v in ours.items() if k != "x-signature"} == {
        k: v for k, v in headers.items() if k != "x-signature"
    }


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.one_of(
            st.text(max_size=8),
            st.integers(),
            st.floats(allow_nan=False),
            st.booleans(),
            st.none(),
            st.lists(st.integers(), max_size=3),
        ),
        max_size=6,
    )
)
def test_a_plain_dict_query_is_normalised_as_its_pairs_are(query: dict) -> None:
    # The fast path for dicts must give exactly what the general rules give.
    assert query_pairs(query) == query_pairs(list(query.items()))


# --- Signer: one keyed signer per client --------------------------------------------------------

_query_key = st.sampled_from(
    ["a", "Symbol", "host", "x-app-key", "x-timestamp", "x-zeta", "y", "~", "ü", "h", ""]
) | st.text(max_size=6)
_query_value = st.text(max_size=8) | st.integers() | st.sampled_from(["a&b=c", "%2F", "x:y/z"])


@settings(max_examples=500, deadline=None)
@given(
    secret=st.text(min_size=1, max_size=100),
    query=st.lists(st.tuples(_query_key, _query_value), max_size=5)
    | st.dictionaries(_query_key, _query_value, max_size=5),
    body=st.none() | st.binary(max_size=20) | st.text(max_size=20),
    algorithm=st.sampled_from(["HMAC-SHA1", "HMAC-SHA256"]),
    path=st.sampled_from(["/openapi/account/list", "/a b/ü", "/p%2F?q#f"]),
    host=st.sampled_from(["api.webull.com", "127.0.0.1:8123"]),
    nonce=st.text(max_size=8) | st.uuids().map(str),
)
def test_signer_signs_the_canonical_string(
    secret, query, body, algorithm, path, host, nonce
) -> None:
    # Its fast path (keys sorted before the x- headers, none twice) and the general rules
    # (a key equal to a signing header, a repeated key, a key sorting after x-) give one text.
    common = dict(host=host, path=path, query=query, body=body, timestamp="t:1", nonce=nonce)
    message = canonical_string("k", algorithm=algorithm, encoded=True, **common)
    digest = "sha1" if algorithm == "HMAC-SHA1" else "sha256"
    expected = hmac.digest((secret + "&").encode(), message.encode("ascii"), digest)
    headers = Signer("k", Secret(secret), algorithm).sign(host, path, query, body, "t:1", nonce)
    assert headers["x-signature"] == base64.b64encode(expected).decode()
    assert headers == sign("k", secret, algorithm=algorithm, **common)


@pytest.mark.parametrize("index", range(40))
def test_signer_reproduces_every_vector(signing_vectors: list[dict], index: int) -> None:
    case = signing_vectors[index]
    args = _case_args(case)
    signer = Signer(case["app_key"], case["app_secret"], args.pop("algorithm"))
    for _ in range(2):  # the keyed states are copied, never used up
        assert signer.sign(**args) == case["expected_headers"]


def test_signer_keys_a_secret_longer_than_a_block_as_hmac_does() -> None:
    secret = "s" * 200
    signer = Signer("k", secret, "HMAC-SHA256")
    headers = signer.sign("h", "/p", timestamp="t", nonce="n")
    common = dict(host="h", path="/p", timestamp="t", nonce="n", algorithm="HMAC-SHA256")
    message = canonical_string("k", encoded=True, **common)
    mac = hmac.digest((secret + "&").encode(), message.encode(), "sha256")
    assert headers["x-signature"] == base64.b64encode(mac).decode()


def test_signer_never_shows_or_pickles_its_secret() -> None:
    secret = "b77e90d3593ad699fc1f7cd5bb2e35cb"
    signer = Signer("key", Secret(secret), "HMAC-SHA1")
    assert repr(signer) == str(signer) == "Signer(app_key='key', algorithm='HMAC-SHA1')"
    assert not hasattr(signer, "__dict__")
    held = [getattr(signer, name) for name in Signer.__slots__]
    assert secret not in repr(held)  # neither the text nor the key bytes (b'...&') it makes
    for dump in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="cannot be pickled"):
            dump(signer)


def test_signer_checks_its_arguments_when_made() -> None:
    with pytest.raises(ValueError, match="HMAC-SHA1 or HMAC-SHA256"):
        Signer("k", "s", "RSA")
    with pytest.raises(TypeError, match="app_key must be a str"):
        Signer(b"k", "s")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a URL"):
        Signer("k", "s").sign("https://api.webull.com", "/p")


def test_generated_nonces_are_fresh_version_4_uuids() -> None:
    nonces = [sign("k", "s", host="h", path="/p")["x-signature-nonce"] for _ in range(600)]
    assert len(set(nonces)) == 600
    for text in nonces:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_never_reuses_its_parents_nonces() -> None:
    sign("k", "s", host="h", path="/p")  # the parent now holds unused nonces
    held = set(signing._nonces)
    assert held
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next nonce, then leave without pytest's cleanup
        os.write(write, sign("k", "s", host="h", path="/p")["x-signature-nonce"].encode())
        os._exit(0)
    os.close(write)
    child_nonce = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert len(child_nonce) == 36 and child_nonce not in held


@given(st.floats(min_value=-1e9, max_value=4e9) | st.integers(-(10**9), 4 * 10**9))
def test_cached_timestamps_match_strftime(epoch: float) -> None:
    expected = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    assert format_timestamp(epoch) == expected
    assert format_timestamp(epoch) == expected  # the cached answer


def test_a_client_opens_its_secret_once_not_per_request() -> None:
    secret = Secret("s3cret")
    with mock.patch.object(Secret, "reveal", autospec=True, side_effect=Secret.reveal) as opened:
        client = Client("key", secret, base_url="http://127.0.0.1:9")
        opened.reset_mock()
        headers = [client.sign_headers("GET", "/p", params={"a": 1}) for _ in range(3)]
    assert opened.call_count == 0
    stamp, nonce = headers[0]["x-timestamp"], headers[0]["x-signature-nonce"]
    expected = sign(
        "key", "s3cret", host="127.0.0.1:9", path="/p", query={"a": 1}, timestamp=stamp, nonce=nonce
    )
    assert {k: v for k, v in headers[0].items() if k.startswith("x-") and k != "x-version"} == (
        expected
    )
