"""The signer against Webull's own vectors, the official SDK, and its documented rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from unittest import mock
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webull_nb.signing import canonical_string, percent_encode, query_pairs, sign

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
