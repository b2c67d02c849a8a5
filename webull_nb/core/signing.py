"""Request signing for the Webull OpenAPI: pure functions, no I/O.

The rules reproduce Webull's official signers byte for byte (see
``tests/data/signing-vectors.json``): the five ``x-`` signing headers and the
``host`` are merged with the raw query parameters, sorted by key, prefixed with
the path, suffixed with the upper-case hex digest of the body, percent-encoded
as UTF-8 and signed with HMAC keyed by ``app_secret + "&"``.

What the arguments mean (``sign`` and ``canonical_string`` check them and raise a
``TypeError``/``ValueError`` naming the argument):

* ``host``: the Host header value, ``api.webull.com`` or ``127.0.0.1:8123``, never a URL.
* ``path``: the request path as the server sees it, i.e. already percent-decoded, starting
  with ``/``. It is signed literally: ``?``, ``#`` and ``%2F`` are plain characters here.
  Splitting a URL into path and query, and decoding escapes, is the sender's job;
  ``Client.request`` and ``Session.request`` do it.
* ``query``: normalised by ``query_pairs`` with the rules ``requests`` applies to
  ``params=``, so that signing and sending agree; see there.
* ``body``: the exact bytes sent (``bytes``, or ``str`` sent as UTF-8), or ``None``. An
  empty body is no body. A dict or list is refused: encode it with ``compact_json``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from collections.abc import Iterable, Mapping
from typing import Protocol
from urllib.parse import parse_qsl

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

Query = Mapping[str, object] | Iterable[tuple[str, object]] | str | None

_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# After the common separators are replaced, anything not in this class needs the slow path.
_REST = re.compile(r"[^A-Za-z0-9\-._~%]")
_UNSAFE_BYTES = re.compile(rb"[^A-Za-z0-9\-._~]")
_ESCAPES = {bytes([i]): b"%%%02X" % i for i in range(256)}
_DIGESTS = {"md5": hashlib.md5, "sha256": hashlib.sha256}
# Value types whose query text is plain str(value), as requests sends them.
_PLAIN = frozenset({str, int, float})


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


_last_stamp: tuple[int, str] = (-1, "")


def timestamp_now() -> str:
    """Return the current UTC time as ``YYYY-MM-DDThh:mm:ssZ``."""
    global _last_stamp
    second = int(time.time())
    cached = _last_stamp  # one read: another thread may replace it meanwhile
    if cached[0] != second:
        # Formatting costs more than the rest of a signature's bookkeeping; it changes
        # once a second.
        cached = _last_stamp = (second, format_timestamp(second))
    return cached[1]


def check_algorithm(algorithm: str) -> tuple[str, str]:
    """Return the (body digest, HMAC digest) of an algorithm, or raise ``ValueError``."""
    try:
        return ALGORITHMS[algorithm]
    except KeyError:
        supported = " or ".join(ALGORITHMS)
        raise ValueError(
            f"unsupported signature algorithm {algorithm!r}: use {supported}"
        ) from None


def _text(value: object, what: str) -> str:
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            # The server decodes query bytes as UTF-8; other bytes cannot be signed for it.
            raise ValueError(f"query {what} {bytes(value)!r} is not UTF-8: pass str") from None
    return str(value)


def query_pairs(query: Query) -> list[tuple[str, str]]:
    """Normalise query parameters into the ``(key, value)`` pairs that are signed and sent.

    The rules are those ``requests`` applies to ``params=``, so signing ``p`` and sending
    ``requests.get(url, params=p)`` agree: a mapping or an iterable of ``(key, value)``
    pairs; ``None`` values are dropped (not signed as ``"None"``); bytes are UTF-8 text;
    a list, tuple or other iterable value becomes repeated keys (``b=1&b=2``, signed as
    ``b=1&2``); anything else is ``str(value)``. A ``str`` is a raw query string such as
    ``"a=1&b=2"`` and is parsed the way the server parses it.

    The official SDK signs and sends a list value as its Python repr (``"[1, 2]"``); to
    get exactly that, pass ``str(value)``.
    """
    if not query:
        return []
    if type(query) is dict:
        # The common case, a plain dict of str and int values, without the general rules.
        pairs = [
            (key, value if type(value) is str else str(value))
            for key, value in query.items()
            if type(key) is str and type(value) in _PLAIN
        ]
        if len(pairs) == len(query):
            return pairs
    if isinstance(query, (str, bytes)):
        text = _text(query, "string")
        return parse_qsl(text, keep_blank_values=True)
    if isinstance(query, Mapping):
        items: Iterable[object] = query.items()
    elif isinstance(query, Iterable):
        items = query
    else:
        raise TypeError(
            f"query must be a mapping, (key, value) pairs or a query string, "
            f"not {type(query).__name__}"
        )
    pairs: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(
                f"query items must be (key, value) pairs, not {item!r}: pass a mapping "
                "such as {'a': 1}, pairs such as [('a', 1)], or a string such as 'a=1'"
            )
        key, value = item
        name = key if type(key) is str else _text(key, "key")
        # Exact str first: nearly every query value is one, and signing is hot.
        if type(value) is str:
            pairs.append((name, value))
            continue
        if value is None:
            continue
        if isinstance(value, (str, bytes, bytearray)) or not isinstance(value, Iterable):
            pairs.append((name, _text(value, f"value of {name!r}")))
            continue
        if isinstance(value, Mapping):
            raise TypeError(
                f"query value of {name!r} is a {type(value).__name__}: pass a str, a number "
                "or a list of them (a JSON object belongs in the body)"
            )
        for element in value:
            if element is None:
                continue
            if not isinstance(element, (str, bytes, bytearray)) and isinstance(element, Iterable):
                raise TypeError(f"query value of {name!r} nests {element!r}: flatten it")
            pairs.append((name, _text(element, f"value of {name!r}")))
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


def _check_request(host: object, path: object, body: object) -> None:
    if not isinstance(host, str):
        raise TypeError(
            "host must be the Host header as a str, such as 'api.webull.com' or "
            f"'127.0.0.1:8123', not {type(host).__name__}"
        )
    if not host:
        raise ValueError("host must not be empty: pass the Host header, such as 'api.webull.com'")
    if "/" in host:
        raise ValueError(
            f"host must be the Host header, such as 'api.webull.com', not a URL: {host!r}"
        )
    if not isinstance(path, str):
        raise TypeError(f"path must be a str starting with '/', not {type(path).__name__}")
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/': {path!r}")
    if body is not None and not isinstance(body, (bytes, bytearray, memoryview, str)):
        if isinstance(body, (Mapping, list, tuple)):
            raise TypeError(
                f"body must be the exact bytes sent, not a {type(body).__name__}: pass "
                "webull_nb.client.compact_json(body) and send those same bytes, or use "
                "json= with Client.request or Session.request"
            )
        raise TypeError(f"body must be bytes, str or None, not {type(body).__name__}")


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
    _check_request(host, path, body)
    if isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
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


class Revealable(Protocol):
    """A boxed secret (``webull_nb.errors.Secret``): it shows its value only when asked."""

    def reveal(self) -> str:
        """The secret itself."""


def _hmac_key(app_secret: str | Revealable) -> bytes:
    # The one place a boxed secret is opened, inside the expression that needs it, so no
    # frame of a traceback (verbose notebook tracebacks show every local) holds it plain.
    return ((app_secret if isinstance(app_secret, str) else app_secret.reveal()) + "&").encode(
        "utf-8"
    )


def sign(
    app_key: str,
    app_secret: str | Revealable,
    *,
    host: str,
    path: str,
    query: Query = None,
    body: bytes | str | None = None,
    algorithm: str = "HMAC-SHA1",
    timestamp: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Return the six Webull signing headers for one request.

    ``app_secret`` may be a str or a boxed secret (anything with ``reveal()``); webull-nb
    passes its boxed one so that a failing call never shows the secret in a traceback.
    """
    _, hmac_name = check_algorithm(algorithm)
    if timestamp is None:
        timestamp = timestamp_now()
    if nonce is None:
        nonce = _nonce()
    message = _canonical(app_key, host, path, query, body, algorithm, timestamp, nonce, True)
    mac = hmac.digest(_hmac_key(app_secret), message.encode("ascii"), hmac_name)
    return {
        "x-app-key": app_key,
        "x-timestamp": timestamp,
        "x-signature-version": SIGNATURE_VERSION,
        "x-signature-algorithm": algorithm,
        "x-signature-nonce": nonce,
        "x-signature": base64.b64encode(mac).decode("ascii"),
    }
