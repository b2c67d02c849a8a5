"""Request signing for the Webull OpenAPI: pure functions, no I/O.

The rules reproduce Webull's official signers byte for byte (see
``tests/data/signing-vectors.json``): the five ``x-`` signing headers and the
``host`` are merged with the raw query parameters, sorted by key, prefixed with
the path, suffixed with the upper-case hex digest of the body, percent-encoded
as UTF-8 and signed with HMAC keyed by ``app_secret + "&"``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from collections.abc import Iterable, Mapping

__all__ = [
    "ALGORITHMS",
    "SIGNATURE_VERSION",
    "Query",
    "canonical_string",
    "check_algorithm",
    "format_timestamp",
    "percent_encode",
    "query_pairs",
    "sign",
    "timestamp_now",
]

SIGNATURE_VERSION = "1.0"

# algorithm name -> (body digest, HMAC digest), both hashlib names.
ALGORITHMS: dict[str, tuple[str, str]] = {
    "HMAC-SHA1": ("md5", "sha1"),
    "HMAC-SHA256": ("sha256", "sha256"),
}

Query = Mapping[str, object] | Iterable[tuple[str, object]] | None

_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# After the common separators are replaced, anything not in this class needs the slow path.
_REST = re.compile(r"[^A-Za-z0-9\-._~%]")
_UNSAFE_BYTES = re.compile(rb"[^A-Za-z0-9\-._~]")
_ESCAPES = {bytes([i]): b"%%%02X" % i for i in range(256)}
_DIGESTS = {"md5": hashlib.md5, "sha256": hashlib.sha256}


def _escape_match(match: re.Match[bytes]) -> bytes:
    return _ESCAPES[match.group()]


def _escape_run(match: re.Match[str]) -> str:
    return _UNSAFE_BYTES.sub(_escape_match, match.group().encode("utf-8")).decode("ascii")


def percent_encode(text: str) -> str:
    """Percent-encode ``text`` as UTF-8, leaving only ``A-Z a-z 0-9 - . _ ~``."""
    # urllib's quote() handles one byte per Python call, which is where the official
    # signer spends most of its time. A canonical string's only unsafe characters are
    # nearly always these five, so plain C-level replaces do almost all of the work.
    if "%" in text:
        text = text.replace("%", "%25")
    text = text.replace("&", "%26").replace("=", "%3D").replace("/", "%2F").replace(":", "%3A")
    if _REST.search(text) is None:
        return text
    return _REST.sub(_escape_run, text)


def _nonce() -> str:
    # Same shape as str(uuid.uuid4()) (version and variant bits set), at a third of the cost.
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def format_timestamp(epoch: float) -> str:
    """Format epoch seconds as the UTC ``YYYY-MM-DDThh:mm:ssZ`` that ``x-timestamp`` carries."""
    return time.strftime(_TIMESTAMP_FORMAT, time.gmtime(epoch))


def timestamp_now() -> str:
    """Return the current UTC time as ``YYYY-MM-DDThh:mm:ssZ``."""
    return format_timestamp(time.time())


def check_algorithm(algorithm: str) -> tuple[str, str]:
    """Return the (body digest, HMAC digest) of an algorithm, or raise ``ValueError``."""
    try:
        return ALGORITHMS[algorithm]
    except KeyError:
        supported = " or ".join(ALGORITHMS)
        raise ValueError(
            f"unsupported signature algorithm {algorithm!r}: use {supported}"
        ) from None


def query_pairs(query: Query) -> list[tuple[str, str]]:
    """Flatten a mapping or pair list into ``(key, str(value))`` pairs, expanding list values."""
    if not query:
        return []
    items = query.items() if isinstance(query, Mapping) else query
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        if isinstance(value, (list, tuple)):
            pairs.extend((str(key), str(v)) for v in value)
        else:
            pairs.append((str(key), str(value)))
    return pairs


def _sign_params(
    app_key: str, host: str, algorithm: str, timestamp: str, nonce: str, query: Query
) -> list[tuple[str, str]]:
    params = {
        "x-app-key": app_key,
        "x-timestamp": timestamp,
        "x-signature-version": SIGNATURE_VERSION,
        "x-signature-algorithm": algorithm,
        "x-signature-nonce": nonce,
        "host": host,
    }
    for key, value in query_pairs(query):
        old = params.get(key)
        params[key] = value if old is None else old + "&" + value
    return sorted(params.items())


def _body_digest(body: bytes | str | None, digest_name: str) -> str | None:
    if not body:
        return None
    data = body.encode("utf-8") if isinstance(body, str) else body
    return _DIGESTS[digest_name](data).hexdigest().upper()


def _canonical(
    app_key: str,
    host: str,
    path: str,
    query: Query,
    body: bytes | str | None,
    algorithm: str,
    timestamp: str,
    nonce: str,
    encode: bool,
) -> str:
    body_digest_name, _ = check_algorithm(algorithm)
    pairs = _sign_params(app_key, host, algorithm, timestamp, nonce, query)
    digest = _body_digest(body, body_digest_name)
    text = path + "&" + "&".join([k + "=" + v for k, v in pairs])
    if digest is not None:
        text = text + "&" + digest
    return percent_encode(text) if encode else text


def canonical_string(
    app_key: str,
    *,
    host: str,
    path: str,
    timestamp: str,
    nonce: str,
    query: Query = None,
    body: bytes | str | None = None,
    algorithm: str = "HMAC-SHA1",
    encoded: bool = False,
) -> str:
    """Return the string that ``sign`` signs for these inputs (never includes the secret)."""
    return _canonical(app_key, host, path, query, body, algorithm, timestamp, nonce, encoded)


def sign(
    app_key: str,
    app_secret: str,
    *,
    host: str,
    path: str,
    query: Query = None,
    body: bytes | str | None = None,
    algorithm: str = "HMAC-SHA1",
    timestamp: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Return the six Webull signing headers for one request."""
    _, hmac_name = check_algorithm(algorithm)
    if timestamp is None:
        timestamp = timestamp_now()
    if nonce is None:
        nonce = _nonce()
    message = _canonical(app_key, host, path, query, body, algorithm, timestamp, nonce, True)
    mac = hmac.digest((app_secret + "&").encode("utf-8"), message.encode("ascii"), hmac_name)
    return {
        "x-app-key": app_key,
        "x-timestamp": timestamp,
        "x-signature-version": SIGNATURE_VERSION,
        "x-signature-algorithm": algorithm,
        "x-signature-nonce": nonce,
        "x-signature": base64.b64encode(mac).decode("ascii"),
    }
