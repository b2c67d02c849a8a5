"""From a failed answer to a typed error whose message says what to do next."""

from __future__ import annotations

import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from webull_nb.core.errors import (
    AuthenticationError,
    ClockSkewError,
    InvalidTokenError,
    NoDeviceError,
    ProtocolError,
    RateLimitError,
    RequestError,
    ServerError,
    TransportError,
    VerificationLockedError,
    WebullError,
)
from webull_nb.core.secrets import Secret, mask_token
from webull_nb.core.status import RATE_PERIOD
from webull_nb.http.wire import reveal

__all__ = [
    "Secrets",
    "code_of",
    "describe_skew",
    "error_code",
    "error_from",
    "json_or_none",
    "may_have_reached_server",
    "protocol_error",
    "transport_error",
]

# Values to mask in server messages: a server may echo the token back.
Secrets = tuple["Secret[str] | str | None", ...]


def describe_skew(skew: float) -> str:
    """Say how far this clock is off the server's, in the unit a person would use."""
    direction = "ahead of" if skew > 0 else "behind"
    amount = abs(skew)
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if amount >= 1.5 * size:
            text = f"{amount / size:.0f} {unit}"
            break
    else:
        text = f"{amount:.0f} s"
    return f"your clock is {text} {direction} the server"


_AUTH_HINTS = {
    "MISSING_APP_KEY": "the request carried no x-app-key header",
    "MISSING_SIGNATURE": "the request carried no x-signature header",
    "MISSING_ALGORITHM": "the request carried no x-signature-algorithm header",
    "MISSING_NONCE": "the request carried no x-signature-nonce header",
    "MISSING_TIMESTAMP": "the request carried no x-timestamp header",
    "MISSING_VERSION": "the request carried no x-signature-version header",
    "UNAUTHORIZED": (
        "the app key was not accepted: check the key, and the environment "
        "(test keys do not work in production, nor production keys in test)"
    ),
    "INCORRECT_SIGN": (
        "the signature did not match: check the app secret and the environment "
        "(test keys do not work in production); .last_canonical_string shows what was signed"
    ),
    "SIGNATURE_ALGORITHM_NOT_SUPPORTED": "the service signs only HMAC-SHA1 or HMAC-SHA256",
    "DUPLICATE_NONCE": "a signature nonce was reused: sign every request afresh",
    "INVALID_TOKEN": (
        "the access token is not usable (unknown, not yet verified, expired, or unused for "
        "15 days): create a new token and approve it in the Webull App"
    ),
}

_NO_DEVICE_HINT = (
    "no device can receive the verification: log in to the Webull App on your phone "
    "(latest version, notifications on), then create a token again"
)
# Webull does not document this code; user code reports it after repeated failed approvals.
_LOCKED_HINT = (
    "too many verification attempts were made: wait before creating another token "
    "(Webull does not say how long the lock lasts)"
)
_MARKET_DATA_HINT = (
    "the market-data request was refused: this account has no market-data subscription "
    "(or no API permission) for this data; subscribe to OpenAPI market data in the Webull "
    "App or on Webull's developer site, then try again"
)


def _is_market_data(response: requests.Response) -> bool:
    # SDK 3.x serves quotes under /market-data/..., the documented v2 API under
    # /openapi/market-data/...: both contain this segment, trading paths never do.
    request = getattr(response, "request", None)
    url = getattr(request, "url", None) or ""
    return "/market-data/" in urlsplit(url).path


def error_from(
    response: requests.Response, secrets: Secrets = (), clock_offset: float = 0.0
) -> WebullError:
    """The typed error for a failed answer, its message saying what to do (secrets masked)."""
    status = response.status_code
    request_id = response.headers.get("X-Request-Id")
    body = json_or_none(response)
    code = code_of(body)
    message = None
    if isinstance(body, Mapping):
        message = _scrub(_as_text(body.get("message") or body.get("msg")), secrets)
    common = dict(
        http_status=status, error_code=code, server_message=message, request_id=request_id
    )
    said = f" ({code}{': ' + message if message else ''})" if code else ""
    if status == 429 or code == "TOO_MANY_REQUESTS":
        retry_after = _retry_after(response)
        return RateLimitError(
            f"the service refused the request for exceeding its rate limit{said}: "
            f"retry in {retry_after:.0f} s",
            retry_after=retry_after,
            **common,
        )
    if code in ("CLOCK_SKEW_EXCEEDED", "ILLEAGAL_TIMESTAMP"):
        skew = -clock_offset if clock_offset else None
        clock = describe_skew(skew) if skew else "the request timestamp was refused"
        return ClockSkewError(
            f"{clock}{said}: synchronise the system clock (for example with NTP)",
            skew_seconds=skew,
            **common,
        )
    if code == "INVALID_TOKEN":
        return InvalidTokenError(f"{_AUTH_HINTS[code]}{said}", **common)
    if code == "NO_AVAILABLE_DEVICE":
        return NoDeviceError(f"{_NO_DEVICE_HINT}{said}", **common)
    if code == "VERIFY_FAILURE_EXCEED_LIMIT":
        return VerificationLockedError(f"{_LOCKED_HINT}{said}", **common)
    if status in (401, 403) and code not in _AUTH_HINTS and _is_market_data(response):
        return AuthenticationError(f"{_MARKET_DATA_HINT}{said}", **common)
    if code in _AUTH_HINTS or status in (401, 403):
        hint = _AUTH_HINTS.get(code or "", "the service refused our credentials")
        return AuthenticationError(f"{hint}{said}", **common)
    if status >= 500:
        return ServerError(
            f"Webull's server failed (HTTP {status}){said}: try again in a minute", **common
        )
    if body is None:
        return protocol_error(response, **common)
    return RequestError(f"the service refused the request (HTTP {status}){said}", **common)


def transport_error(exc: requests.RequestException, where: str, timeout: object) -> TransportError:
    """A ``TransportError`` saying what failed and what to check; notes if it may have arrived."""
    if isinstance(exc, requests.Timeout):
        what = f"{where} did not answer within {timeout} s"
        hint = "the service may be slow or unreachable; try again, or raise the timeout"
    elif isinstance(exc, requests.exceptions.SSLError):
        what = f"the TLS handshake with {where} failed"
        hint = "check the system's certificates and any proxy that intercepts HTTPS"
    elif isinstance(exc, requests.ConnectionError):
        what = f"could not connect to {where}"
        hint = "check the network, proxy settings, region and endpoint"
    else:
        what = f"the request to {where} failed ({type(exc).__name__})"
        hint = "check the URL and parameters"
    error = TransportError(f"{what}: {hint}")
    error.reached_server = may_have_reached_server(exc)  # type: ignore[attr-defined]
    return error


def code_of(body: Any) -> str | None:
    """The error code of an answer body, if it names one."""
    if isinstance(body, Mapping):
        return _as_text(body.get("error_code") or body.get("code"))
    return None


def error_code(response: requests.Response) -> str | None:
    """The error code of a failed answer, or None."""
    return None if response.status_code < 400 else code_of(json_or_none(response))


def json_or_none(response: requests.Response) -> Any:
    """The answer's JSON, or None when it has none (parsed once per response)."""
    cached = getattr(response, "_webull_json", _MISSING)
    if cached is not _MISSING:
        return cached
    try:
        value = response.json() if response.content else None
    except ValueError:
        value = None
    response._webull_json = value  # type: ignore[attr-defined]
    return value


_MISSING = object()


def _as_text(value: object) -> str | None:
    return None if value is None else str(value)


def _scrub(text: str | None, secrets: Secrets) -> str | None:
    # A server that echoes the token back must not put it into our messages.
    if text:
        for secret in secrets:
            if secret:
                text = text.replace(reveal(secret), mask_token(reveal(secret)))
    return text


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else RATE_PERIOD
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError, IndexError):
            return RATE_PERIOD


def protocol_error(response: requests.Response, **common: Any) -> ProtocolError:
    """A ``ProtocolError`` naming what came instead of JSON (say, an HTML page)."""
    kind = response.headers.get("Content-Type", "")
    text = response.content[:200].lstrip().lower()
    if "html" in kind or text.startswith((b"<!doctype", b"<html")):
        what = "an HTML page instead of JSON"
        hint = "often a proxy, a captive portal or a wrong endpoint"
    elif not response.content:
        what = "an empty body instead of JSON"
        hint = "check the endpoint"
    else:
        what = "a body that is not JSON"
        hint = "check the endpoint"
    return ProtocolError(
        f"the server answered {what} (HTTP {response.status_code}): {hint}", **common
    )


def may_have_reached_server(exc: requests.RequestException) -> bool:
    """False only when the request provably never left (so a create may be repeated)."""
    # Only failures to open the connection prove the request never left.
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError) and not isinstance(
        exc, requests.exceptions.SSLError
    ):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        name = type(reason).__name__
        return name not in ("NewConnectionError", "NameResolutionError")
    return True
