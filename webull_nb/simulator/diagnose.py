"""Why a request was refused, in words a student understands (class mode's ``last_error``).

``reason`` turns a 401 of the simulator into one line. For a signature that does not match,
``explain_signature`` re-signs a fixed, small set of hypotheses (the usual slips: another
Host, pretty JSON, a trailing slash, the query left in the path, the other algorithm, an
unencoded string to sign, ...) with the true secret and names the one the sent signature
matches. Pure: no I/O, no clock of its own. No secret, signature or full token is ever
part of the words.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote

from webull_nb.core import signing
from webull_nb.core.secrets import Secret
from webull_nb.core.status import RATE_LIMIT
from webull_nb.simulator.replies import SimulatorError

__all__ = ["MAX_BODY", "WRONG_SECRET", "explain_signature", "json_styles", "mask", "reason"]

#: Bodies longer than this get no body hypotheses (each would hash it again).
MAX_BODY = 64 * 1024
#: What is said when the signature matches no hypothesis.
WRONG_SECRET = (
    "wrong secret (the signature matches no variant of this request: check the app secret)"
)
_SKEW_LIMIT_MIN = 5
_CLIP = 80
_MISSING = {
    "MISSING_APP_KEY": "x-app-key",
    "MISSING_SIGNATURE": "x-signature",
    "MISSING_ALGORITHM": "x-signature-algorithm",
    "MISSING_NONCE": "x-signature-nonce",
    "MISSING_TIMESTAMP": "x-timestamp",
    "MISSING_VERSION": "x-signature-version",
}
_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_DIGEST_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}
_LOCAL_NAMES = ("localhost", "127.0.0.1")
_DEFAULT_PORTS = ("443", "80")


def mask(value: str | None) -> str:
    """Show a token or key as its first 4 characters and an ellipsis, never more."""
    if not value:
        return "(none)"
    return f"{value[:4]}…" if len(value) > 4 else "…"


def _clip(text: str) -> str:
    # Request data is echoed to a student and a teacher's page: short, one line.
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= _CLIP else text[: _CLIP - 1] + "…"


def reason(
    refusal: SimulatorError,
    *,
    headers: Mapping[str, str],
    path: str,
    query: str,
    body: bytes,
    host: str,
    app_key: str,
    app_secret: Secret[str],
    now: float,
) -> str:
    """Say why ``refusal`` happened to this request, without any secret."""
    sent = {str(k).lower(): str(v) for k, v in headers.items()}
    code = refusal.error_code
    if code in _MISSING:
        return f"the {_MISSING[code]} header is missing: sign with all six x- headers"
    if code == "UNAUTHORIZED":
        return (
            f"unknown app key {mask(sent.get('x-app-key'))}: use the app key you were given "
            "(and the secret that goes with it)"
        )
    if code == "SIGNATURE_ALGORITHM_NOT_SUPPORTED":
        said = _clip(sent.get("x-signature-algorithm", ""))
        return f"algorithm {said!r} is not supported: use HMAC-SHA1 or HMAC-SHA256"
    if code == "ILLEAGAL_TIMESTAMP":
        example = time.strftime(_TIMESTAMP_FORMAT, time.gmtime(now))
        said = _clip(sent.get("x-timestamp", ""))
        return f"x-timestamp {said!r} is not UTC YYYY-MM-DDThh:mm:ssZ (like {example!r})"
    if code == "CLOCK_SKEW_EXCEEDED":
        return _skew(sent.get("x-timestamp", ""), now)
    if code == "DUPLICATE_NONCE":
        return "nonce reused: every request needs a fresh x-signature-nonce"
    if code == "INVALID_TOKEN":
        if not sent.get("x-access-token"):
            return "token missing: send x-access-token"
        return (
            f"token {mask(sent['x-access-token'])} not usable "
            "(not NORMAL: approve it, or create a new one)"
        )
    if code == "TOO_MANY_REQUESTS":
        return f"rate limited: at most {RATE_LIMIT} token checks or creates in any 30 s"
    if code == "INCORRECT_SIGN":
        words = explain_signature(
            sent.get("x-signature", ""),
            app_key=sent.get("x-app-key") or app_key,
            app_secret=app_secret,
            host=host,
            path=path,
            query=query,
            body=body,
            algorithm=sent.get("x-signature-algorithm", "HMAC-SHA1"),
            timestamp=sent.get("x-timestamp", ""),
            nonce=sent.get("x-signature-nonce", ""),
            host_header=sent.get("host"),
        )
        return words or "the signature matches this request: it was refused for another reason"
    # Not a refusal of the signature check: the simulator's own words hold no secret.
    return f"{code}: {refusal}"


def _skew(stamp_text: str, now: float) -> str:
    try:
        stamp = calendar.timegm(time.strptime(stamp_text, _TIMESTAMP_FORMAT))
    except ValueError:
        return f"timestamp more than {_SKEW_LIMIT_MIN} min off"
    off = stamp - now
    side = "ahead" if off > 0 else "behind"
    amount = abs(off)
    if amount >= 36 * 3600:
        size = f"{amount / 86400:.0f} days"
    elif amount >= 90 * 60:
        size = f"{amount / 3600:.0f} h"
    else:
        size = f"{max(1, round(amount / 60))} min"
    words = f"timestamp {size} off (your clock is {side})"
    # Whole hours off (give or take the 5 minutes allowed): local time sent as UTC.
    if amount >= 3600 - 300 and min(amount % 1800, 1800 - amount % 1800) <= 300:
        words += ": local time instead of UTC?"
    else:
        words += f": at most {_SKEW_LIMIT_MIN} min are allowed; sync your clock"
    return words


# --- the signature's hypotheses -------------------------------------------------------------

#: One hypothesis: the words, and how to compute the signature it predicts.
_Hypothesis = tuple[str, Callable[[], str]]


def explain_signature(
    signature: str,
    *,
    app_key: str,
    app_secret: Secret[str] | str,
    host: str,
    path: str,
    query: str,
    body: bytes | str | None,
    algorithm: str,
    timestamp: str,
    nonce: str,
    host_header: str | None = None,
) -> str:
    """Name what a signature that does not match this request was computed over.

    ``query`` is the raw query string as sent. Returns "" when ``signature`` is right for
    these inputs, the words of the first matching hypothesis, else ``WRONG_SECRET``.
    """
    secret = app_secret if isinstance(app_secret, Secret) else Secret(app_secret)
    del app_secret
    data = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    try:
        signing.check_algorithm(algorithm)
        signer = signing.Signer(app_key, secret, algorithm)
    except (TypeError, ValueError):
        return WRONG_SECRET
    pairs = parse_qsl(query, keep_blank_values=True)

    def signed(
        host: str = host, path: str = path, pairs: Any = pairs, body: bytes | None = data
    ) -> str:
        return signer.sign(host, path, pairs, body, timestamp, nonce)["x-signature"]

    request = _Request(app_key, secret, host, path, pairs, query, data, algorithm, timestamp, nonce)
    hypotheses: list[Iterator[_Hypothesis]] = [
        iter([("", signed)]),
        _host_hypotheses(host, host_header, signed),
        _url_host_hypotheses(request),
        _body_hypotheses(data, signed),
        _path_hypotheses(path, query, signed),
        _query_hypotheses(query, pairs, signed),
        _algorithm_hypotheses(request),
        _slip_hypotheses(request),
    ]
    sent = signature.encode("utf-8", "replace")
    for group in hypotheses:
        try:
            for words, compute in group:
                try:
                    predicted = compute().encode("utf-8", "replace")
                except (TypeError, ValueError, RecursionError):
                    continue  # a variant the signer refuses (an empty host, say) was not signed
                if hmac.compare_digest(predicted, sent):
                    return words
        except (TypeError, ValueError, RecursionError):
            continue  # hostile request data ends this group of hypotheses, not the answer
    return WRONG_SECRET


class _Request:
    """One request's signed inputs, for hypotheses that build the string to sign by hand."""

    def __init__(
        self,
        app_key: str,
        secret: Secret[str],
        host: str,
        path: str,
        pairs: list[tuple[str, str]],
        query: str,
        body: bytes,
        algorithm: str,
        timestamp: str,
        nonce: str,
    ) -> None:
        self.app_key, self.secret, self.host, self.path = app_key, secret, host, path
        self.pairs, self.query, self.body, self.algorithm = pairs, query, body, algorithm
        self.timestamp, self.nonce = timestamp, nonce

    def canonical(self, algorithm: str | None = None, body: bool = True) -> str:
        """The unencoded string to sign, optionally without the body digest."""
        return signing.canonical_string(
            self.app_key,
            host=self.host,
            path=self.path,
            query=self.pairs,
            body=self.body if body else None,
            algorithm=algorithm or self.algorithm,
            timestamp=self.timestamp,
            nonce=self.nonce,
        )

    def hmac(self, text: str, hmac_name: str | None = None, *, key_suffix: str = "&") -> bytes:
        """The HMAC of ``text`` under the secret (with ``key_suffix``)."""
        name = hmac_name or signing.ALGORITHMS[self.algorithm][1]
        key = (self.secret.reveal() + key_suffix).encode("utf-8")
        return hmac.new(key, text.encode("utf-8"), name).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _host_hypotheses(
    host: str, host_header: str | None, signed: Callable[..., str]
) -> Iterator[_Hypothesis]:
    name, colon, port = host.rpartition(":")
    if not colon or "]" in port:
        name, port = host, ""
    candidates: list[str] = []
    if host_header and host_header != host:
        candidates.append(host_header)
    if port:
        candidates.append(name)  # signed without the port (or the scheme's default one)
    else:
        candidates += [f"{name}:{p}" for p in _DEFAULT_PORTS]
    for local, other in (_LOCAL_NAMES, _LOCAL_NAMES[::-1]):
        if name == local:
            candidates += [f"{other}:{port}" if port else other, other]
    seen = {host}
    for candidate in candidates:
        if candidate in seen:
            continue
        seen.add(candidate)
        words = (
            f"Host differs: you signed {_clip(candidate)!r}, the request went to {_clip(host)!r}"
        )
        yield words, lambda candidate=candidate: signed(host=candidate)


def _url_host_hypotheses(request: _Request) -> Iterator[_Hypothesis]:
    # The base URL signed in place of the Host, a first-timer's usual slip. The signer
    # refuses a URL as host, so the string is built by hand: only the host field changes.
    field = f"host={request.host}"
    for scheme in ("https", "http"):
        url = f"{scheme}://{request.host}"

        def compute(url: str = url) -> str:
            parts = request.canonical().split("&")
            parts[parts.index(field)] = f"host={url}"
            return _b64(request.hmac(signing.percent_encode("&".join(parts))))

        words = (
            f"Host differs: you signed the URL {_clip(url)!r}, not the Host {_clip(request.host)!r}"
        )
        yield words, compute


def json_styles(value: Any) -> list[tuple[str, bytes]]:
    """The usual encodings of one JSON value, each with a name a student knows."""
    compact = (",", ":")
    styles: list[tuple[str, Callable[[], str]]] = [
        ("compact JSON", lambda: json.dumps(value, separators=compact, ensure_ascii=False)),
        ("JSON with spaces", lambda: json.dumps(value)),
        ("pretty JSON", lambda: json.dumps(value, indent=2)),
        ("pretty JSON", lambda: json.dumps(value, indent=4)),
        (
            "JSON with sorted keys",
            lambda: json.dumps(value, separators=compact, sort_keys=True, ensure_ascii=False),
        ),
        ("JSON with sorted keys", lambda: json.dumps(value, sort_keys=True)),
        ("JSON with \\u escapes", lambda: json.dumps(value, separators=compact)),
        ("a Python repr", lambda: repr(value)),
    ]
    made = []
    for name, encode in styles:
        try:
            made.append((name, encode().encode("utf-8")))
        except (TypeError, ValueError, RecursionError):
            continue  # deep nesting, keys sort cannot order, lone surrogates: not this style
    return made


def _body_hypotheses(body: bytes, signed: Callable[..., str]) -> Iterator[_Hypothesis]:
    prefix = "body digest differs: you signed other bytes than you sent"
    if not body:
        yield f"{prefix} (a body, '{{}}', but you sent none)", lambda: signed(body=b"{}")
        return
    yield (
        f"body digest differs: you signed no body, but you sent {len(body)} bytes",
        lambda: signed(body=None),
    )
    if len(body) > MAX_BODY:
        return
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        value = None
        styles: list[tuple[str, bytes]] = []
    else:
        styles = json_styles(value)
    sent_style = next((name for name, data in styles if data == body), None)
    tried = {body}
    for name, data in styles:
        if data in tried:
            continue
        tried.add(data)
        guess = f"{name} instead of {sent_style}?" if sent_style else f"{name}?"
        yield f"{prefix} ({guess})", lambda data=data: signed(body=data)
    for name, data in (
        ("with a trailing newline", body + b"\n"),
        ("without the trailing newline", body.rstrip(b"\r\n")),
    ):
        if data not in tried and data:
            tried.add(data)
            yield f"{prefix} ({name}?)", lambda data=data: signed(body=data)


def _path_hypotheses(path: str, query: str, signed: Callable[..., str]) -> Iterator[_Hypothesis]:
    candidates: list[tuple[str, str, list[tuple[str, str]] | None]] = []
    encoded = quote(path, safe="/")
    if encoded != path:
        candidates.append((encoded, "still percent-encoded", None))
    if path.endswith("/") and len(path) > 1:
        candidates.append((path.rstrip("/"), "without the trailing slash", None))
    else:
        candidates.append((path + "/", "with a trailing slash", None))
    if query:
        candidates.append((f"{path}?{query}", "with the query left in it", []))
    for candidate, how, pairs in candidates:
        words = (
            f"path differs: you signed {_clip(candidate)!r} ({how}), "
            f"the request went to {_clip(path)!r}"
        )
        if pairs is None:
            yield words, lambda candidate=candidate: signed(path=candidate)
        else:
            yield (
                words,
                lambda candidate=candidate, pairs=pairs: signed(path=candidate, pairs=pairs),
            )


def _query_hypotheses(
    query: str, pairs: list[tuple[str, str]], signed: Callable[..., str]
) -> Iterator[_Hypothesis]:
    if not query:
        return
    yield (
        f"query differs: you signed no parameters, the request carried {_clip(query)!r}",
        lambda: signed(pairs=[]),
    )
    raw = [tuple(item.split("=", 1)) if "=" in item else (item, "") for item in query.split("&")]
    raw = [pair for pair in raw if pair[0]]
    if raw != pairs:
        yield (
            "query differs: you signed the values still percent-encoded "
            f"({_clip(query)!r}): sign them decoded",
            lambda: signed(pairs=raw),
        )


def _algorithm_hypotheses(request: _Request) -> Iterator[_Hypothesis]:
    other = next(name for name in signing.ALGORITHMS if name != request.algorithm)
    said = request.algorithm
    yield (
        f"algorithm differs: you signed with {other}, the x-signature-algorithm header says {said}",
        lambda: _b64(
            request.hmac(
                signing.percent_encode(request.canonical(other)), signing.ALGORITHMS[other][1]
            )
        ),
    )
    if request.body:
        digest_name = signing.ALGORITHMS[other][0]
        right_name = signing.ALGORITHMS[said][0]

        def mixed() -> str:
            digest = hashlib.new(digest_name, request.body).hexdigest().upper()
            text = request.canonical(body=False) + "&" + digest
            return _b64(request.hmac(signing.percent_encode(text)))

        yield (
            f"body digest differs: {said} hashes the body with {_DIGEST_NAMES[right_name]}, "
            f"you used {_DIGEST_NAMES[digest_name]}",
            mixed,
        )
    hmac_name = signing.ALGORITHMS[other][1]
    yield (
        f"HMAC differs: {said} signs with {_DIGEST_NAMES[signing.ALGORITHMS[said][1]]}, "
        f"you used {_DIGEST_NAMES[hmac_name]}",
        lambda: _b64(request.hmac(signing.percent_encode(request.canonical()), hmac_name)),
    )


def _slip_hypotheses(request: _Request) -> Iterator[_Hypothesis]:
    def encoded() -> str:
        return signing.percent_encode(request.canonical())

    yield (
        "HMAC key differs: the key is the app secret followed by '&'",
        lambda: _b64(request.hmac(encoded(), key_suffix="")),
    )
    yield (
        "string to sign differs: percent-encode the canonical string before the HMAC",
        lambda: _b64(request.hmac(request.canonical())),
    )
    yield (
        "signature encoding differs: send the HMAC in base64, not hex",
        lambda: request.hmac(encoded()).hex(),
    )
    if request.body:

        def lower() -> str:
            text = request.canonical()
            head, _, digest = text.rpartition("&")
            return _b64(request.hmac(signing.percent_encode(head + "&" + digest.lower())))

        yield "body digest differs: write the body digest in upper-case hex", lower
