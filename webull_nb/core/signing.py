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

import hashlib
import math
import os
import re
import time
from binascii import b2a_base64
from collections.abc import Mapping
from typing import Any, Protocol

from webull_nb.core.query import Query, query_pairs

__all__ = [
    "ALGORITHMS",
    "SIGNATURE_VERSION",
    "Query",
    "Signer",
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

_DIGESTS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256}
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# What percent-encoding leaves as it is, plus '%' itself once it has been escaped.
_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%"
_UNSAFE_RUN = re.compile(rb"[^A-Za-z0-9\-._~%]+")


def _escape_run(match: re.Match[bytes]) -> bytes:
    return ("%" + match.group().hex("%")).upper().encode("ascii")


def _quote(data: bytes) -> bytes:
    # urllib's quote() handles one byte per Python call, which is where the official
    # signer spends most of its time. A canonical string's only unsafe characters are
    # nearly always these five, so C-level replaces do the work, and one translate (a
    # tenth of a regex scan on bytes) shows whether anything else is left.
    if b"%" in data:
        data = data.replace(b"%", b"%25")
    data = data.replace(b"&", b"%26").replace(b"=", b"%3D").replace(b"/", b"%2F")
    data = data.replace(b":", b"%3A")
    if data.translate(None, _SAFE):
        data = _UNSAFE_RUN.sub(_escape_run, data)
    return data


def percent_encode(text: str) -> str:
    """Percent-encode ``text`` as UTF-8, leaving only ``A-Z a-z 0-9 - . _ ~``."""
    return _quote(text.encode("utf-8")).decode("ascii")


# Columns of the 32 hex digits in a 36-character UUID text (dashes at 8, 13, 18 and 23).
_UUID_COLUMNS = [column for column in range(36) if column not in (8, 13, 18, 23)]
_UUID_VARIANT = bytes.maketrans(b"0123456789abcdef", b"89ab89ab89ab89ab")
_nonces: list[str] = []
# A forked child must not hand out the nonces its parent holds.
os.register_at_fork(after_in_child=_nonces.clear)


def _fresh_nonces(count: int = 256) -> list[str]:
    # Random version-4 UUID texts, laid out a column at a time in C: formatting each one in
    # Python cost more than the rest of a signature's bookkeeping.
    digits = os.urandom(16 * count).hex().encode("ascii")
    text = bytearray(b"-" * (36 * count))
    for source, column in enumerate(_UUID_COLUMNS):
        text[column::36] = digits[source::32]
    text[14::36] = b"4" * count
    text[19::36] = text[19::36].translate(_UUID_VARIANT)
    whole = text.decode("ascii")
    return [whole[start : start + 36] for start in range(0, 36 * count, 36)]


def _nonce() -> str:
    # Same shape as str(uuid.uuid4()). list.pop is atomic, and two threads refilling at
    # once only add more unused nonces.
    try:
        return _nonces.pop()
    except IndexError:
        _nonces.extend(_fresh_nonces())
        return _nonces.pop()


# (second, its timestamp, that timestamp percent-encoded): formatting costs more than the
# rest of a signature's bookkeeping, and the text changes once a second.
_last_stamp: tuple[int, str, bytes] = (-1, "", b"")


def format_timestamp(epoch: float) -> str:
    """Format epoch seconds as the UTC ``YYYY-MM-DDThh:mm:ssZ`` that ``x-timestamp`` carries."""
    global _last_stamp
    second = math.floor(epoch)  # as gmtime rounds
    cached = _last_stamp  # one read: another thread may replace it meanwhile
    if cached[0] != second:
        text = time.strftime(_TIMESTAMP_FORMAT, time.gmtime(second))
        cached = _last_stamp = (second, text, _quote(text.encode("ascii")))
    return cached[1]


def timestamp_now() -> str:
    """Return the current UTC time as ``YYYY-MM-DDThh:mm:ssZ``."""
    return format_timestamp(time.time())


def _encoded_stamp(stamp: str) -> bytes:
    cached = _last_stamp
    return cached[2] if stamp == cached[1] else _quote(stamp.encode("utf-8"))


def check_algorithm(algorithm: str) -> tuple[str, str]:
    """Return the (body digest, HMAC digest) of an algorithm, or raise ``ValueError``."""
    try:
        return ALGORITHMS[algorithm]
    except KeyError:
        supported = " or ".join(ALGORITHMS)
        raise ValueError(
            f"unsupported signature algorithm {algorithm!r}: use {supported}"
        ) from None


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
) -> str:
    # The general rules, unencoded: every request goes here or through Signer's fast path.
    body_digest_name, _ = check_algorithm(algorithm)
    _check_request(host, path, body)
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
    text = path + "&" + "&".join([k + "=" + v for k, v in sorted(params.items())])
    digest = _body_digest(body, body_digest_name)
    return text if digest is None else text + "&" + digest


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
    text = _canonical(app_key, host, path, query, body, algorithm, timestamp, nonce)
    return percent_encode(text) if encoded else text


class Revealable(Protocol):
    """A boxed secret (``webull_nb.errors.Secret``): it shows its value only when asked."""

    def reveal(self) -> str:
        """The secret itself."""


_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))
# Every query key below this sorts before all five x- headers, so they can end the text.
_FIRST_X_HEADER = "x-app-key"


def _keyed(app_secret: str | Revealable, hmac_name: str) -> tuple[Any, Any]:
    # RFC 2104's inner and outer hash states, keyed once: each signature copies them
    # instead of deriving them again. The one place a boxed secret is opened; nothing after
    # it can fail, so no traceback (notebooks show every local) holds the key.
    new = _DIGESTS[hmac_name]
    key = ((app_secret if isinstance(app_secret, str) else app_secret.reveal()) + "&").encode(
        "utf-8"
    )
    block = new().block_size
    key = (new(key).digest() if len(key) > block else key).ljust(block, b"\0")
    return new(key.translate(_IPAD)), new(key.translate(_OPAD))


class Signer:
    """Signs requests for one app key and secret, with the same headers as ``sign()``.

    The HMAC key is worked into two hash states once, so each signature skips that. It holds
    no secret text (only those states); its repr shows the app key and algorithm, and it
    cannot be pickled or copied.
    """

    __slots__ = ("_body_digest", "_inner", "_outer", "_tail", "algorithm", "app_key")

    def __init__(
        self, app_key: str, app_secret: str | Revealable, algorithm: str = "HMAC-SHA1"
    ) -> None:
        self._body_digest, hmac_name = check_algorithm(algorithm)
        if not isinstance(app_key, str):
            raise TypeError(f"app_key must be a str, not {type(app_key).__name__}")
        self.app_key = app_key
        self.algorithm = algorithm
        self._inner, self._outer = _keyed(app_secret, hmac_name)
        # The canonical text's end, already encoded, around the nonce and the timestamp.
        self._tail = (
            b"%26x-app-key%3D"
            + _quote(app_key.encode("utf-8"))
            + b"%26x-signature-algorithm%3D"
            + algorithm.encode("ascii")
            + b"%26x-signature-nonce%3D",
            b"%26x-signature-version%3D" + SIGNATURE_VERSION.encode("ascii") + b"%26x-timestamp%3D",
        )

    def __repr__(self) -> str:
        """The app key and algorithm, never the secret."""
        return f"Signer(app_key={self.app_key!r}, algorithm={self.algorithm!r})"

    def __reduce__(self) -> object:
        raise TypeError("a Signer cannot be pickled or copied: it is keyed with the app secret")

    def sign(
        self,
        host: str,
        path: str,
        query: Query = None,
        body: bytes | str | None = None,
        timestamp: str | None = None,
        nonce: str | None = None,
    ) -> dict[str, str]:
        """Return the six Webull signing headers for one request (arguments: see the module)."""
        if timestamp is None:
            timestamp = timestamp_now()
        if nonce is None:
            nonce = _nonce()
            encoded_nonce = nonce.encode("ascii")  # hex digits and dashes: nothing to escape
        else:
            encoded_nonce = _quote(nonce.encode("utf-8"))
        inner = self._inner.copy()
        inner.update(self._message(host, path, query, body, timestamp, nonce, encoded_nonce))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return {
            "x-app-key": self.app_key,
            "x-timestamp": timestamp,
            "x-signature-version": SIGNATURE_VERSION,
            "x-signature-algorithm": self.algorithm,
            "x-signature-nonce": nonce,
            "x-signature": b2a_base64(outer.digest(), newline=False).decode("ascii"),
        }

    def _message(
        self,
        host: str,
        path: str,
        query: Query,
        body: bytes | str | None,
        timestamp: str,
        nonce: str,
        encoded_nonce: bytes,
    ) -> bytes:
        _check_request(host, path, body)
        pairs = query_pairs(query)
        count = len(pairs)
        pairs.append(("host", host))
        # Fast path: no key twice and none a signing header, all sorting before the x-
        # headers, whose text (mostly made once) then ends the message.
        if len(dict(pairs)) == count + 1:
            pairs.sort()
            if pairs[-1][0] < _FIRST_X_HEADER:
                head, middle = self._tail
                text = (
                    _quote((path + "&" + "&".join(map("=".join, pairs))).encode("utf-8"))
                    + head
                    + encoded_nonce
                    + middle
                    + _encoded_stamp(timestamp)
                )
                digest = _body_digest(body, self._body_digest)
                return text if digest is None else text + b"%26" + digest.encode("ascii")
        text = _canonical(self.app_key, host, path, query, body, self.algorithm, timestamp, nonce)
        return _quote(text.encode("utf-8"))


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
    passes its boxed one so that a failing call never shows the secret in a traceback. To
    sign many requests with one key, make a ``Signer`` once and call its ``sign``.
    """
    return Signer(app_key, app_secret, algorithm).sign(host, path, query, body, timestamp, nonce)
