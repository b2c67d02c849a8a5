"""HTTP calls to the Webull OpenAPI: signing, error mapping, rate limit, retries, clock offset."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import requests

from . import endpoints, signing
from .errors import (
    AuthenticationError,
    ClockSkewError,
    InvalidTokenError,
    NoDeviceError,
    ProtocolError,
    RateLimitError,
    RequestError,
    Secret,
    ServerError,
    TransportError,
    VerificationLockedError,
    WebullError,
    mask_token,
)
from .status import SERVICE_STATUSES, TokenStatus, valid_token_text

__all__ = [
    "Client",
    "Limiter",
    "RateLimiter",
    "TokenInfo",
    "TokenStatus",
    "body_bytes",
    "compact_json",
    "limiter_for",
]

# The service allows 10 create and 10 check requests per 30 s per app key.
RATE_LIMIT = 10
RATE_PERIOD = 30.0
# Requests leave here earlier than they arrive there; half a second of margin keeps
# network jitter from squeezing 11 arrivals into the server's 30 s window.
RATE_MARGIN = 0.5
# Below this the Date header's whole-second resolution makes an estimate meaningless.
MIN_CLOCK_CORRECTION = 2.0
MAX_TRIES = 3
# Values to mask in server messages: a server may echo the token back.
Secrets = tuple["Secret | str | None", ...]


# The service has been seen to send numeric statuses too (0..3 in this order).
_NUMERIC_STATUS = dict(enumerate(SERVICE_STATUSES))


@dataclass(frozen=True, repr=False)
class TokenInfo:
    """One answer of the token API: the token, its status and its expiry."""

    token: str
    status: TokenStatus
    expires: datetime | None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __repr__(self) -> str:
        """Show the token masked: reprs end up in logs and saved notebooks."""
        expires = self.expires.isoformat() if self.expires else None
        return (
            f"TokenInfo(token={mask_token(self.token)!r}, status={self.status.value}, "
            f"expires={expires})"
        )

    @classmethod
    def from_response(cls, data: object) -> TokenInfo:
        """Validate a token API answer; anything off raises ``ProtocolError``."""
        problem = _token_answer_problem(data)
        if problem is not None:
            del data  # the answer holds the token: keep it out of this frame's locals
            raise ProtocolError(problem)
        assert isinstance(data, Mapping)
        status, expires = data["status"], data.get("expires")
        parsed = _NUMERIC_STATUS[status] if isinstance(status, int) else TokenStatus(status)
        when = None
        if expires not in (None, "", 0):
            when = datetime.fromtimestamp(int(expires) / 1000, tz=timezone.utc)
        return cls(token=data["token"], status=parsed, expires=when, raw=dict(data))


def _token_answer_problem(data: object) -> str | None:
    """What is wrong with a token API answer, or None (never raises: no traceback holds it)."""
    if not isinstance(data, Mapping):
        return "the token API answered something other than a JSON object"
    if not isinstance(data.get("token"), str) or not data["token"]:
        return "the token API answer has no token"
    if not valid_token_text(data["token"]):
        return "the token API answered a token that cannot go into a header"
    status = data.get("status")
    try:
        parsed = _NUMERIC_STATUS[status] if isinstance(status, int) else TokenStatus(status)
    except (KeyError, ValueError, TypeError):
        parsed = None
    if parsed not in SERVICE_STATUSES:  # NONE is ours, never the service's
        shown = status if isinstance(status, (int, str)) else type(status).__name__
        return f"the token API answered an unknown status {shown!r}; webull-nb may need an update"
    expires = data.get("expires")
    if expires not in (None, "", 0):
        try:
            datetime.fromtimestamp(int(expires) / 1000, tz=timezone.utc)
        except (TypeError, ValueError, OverflowError, OSError):
            return f"the token API answered an unreadable expiry {str(expires)[:40]!r}"
    return None


class SealedBody:
    """A request body that holds a token: sent and signed as is, never shown in a repr."""

    __slots__ = ("__data",)

    def __init__(self, data: bytes) -> None:
        self.__data = data

    def reveal(self) -> bytes:
        """The bytes to sign and send."""
        return self.__data

    def __repr__(self) -> str:
        """Its size only."""
        return f"<sealed body: {len(self.__data)} bytes>"

    def __bool__(self) -> bool:
        """True when there are bytes to send."""
        return bool(self.__data)


def _unseal(body: bytes | SealedBody | None) -> bytes | None:
    return body.reveal() if isinstance(body, SealedBody) else body


class SignedHeaders(dict):  # type: ignore[type-arg]
    """The headers of one request; its repr masks the token and the signature."""

    def __repr__(self) -> str:
        """Every header, with the secret ones masked."""
        shown = {
            name: (mask_token(value) if _is_private_header(name) else value)
            for name, value in self.items()
        }
        return f"SignedHeaders({shown!r})"


def _is_private_header(name: str) -> bool:
    return name.lower() in ("x-access-token", "x-signature")


class Limiter(Protocol):
    """What the client asks of a rate limiter (``RateLimiter``, or an account's shared ledger)."""

    def try_acquire(self) -> float:
        """Take a slot and return 0, or take nothing and return the seconds to wait."""

    def wait_time(self) -> float:
        """Return the seconds until a call would be allowed."""


class RateLimiter:
    """At most ``limit`` calls in any ``period`` seconds (a sliding window, thread-safe).

    A sliding window rather than a refilling bucket: a bucket of 10 refilling at 1 per
    3 s admits 11 calls in some 30 s windows, which the service would refuse.
    """

    def __init__(
        self,
        limit: int = RATE_LIMIT,
        period: float = RATE_PERIOD + RATE_MARGIN,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.period = period
        self._monotonic = monotonic
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def _prune(self, now: float) -> None:
        while self._calls and now - self._calls[0] >= self.period:
            self._calls.popleft()

    def wait_time(self) -> float:
        """Return the seconds until a call would be allowed (0 when one is allowed now)."""
        with self._lock:
            now = self._monotonic()
            self._prune(now)
            if len(self._calls) < self.limit:
                return 0.0
            return max(0.0, self._calls[0] + self.period - now)

    def try_acquire(self) -> float:
        """Take a slot and return 0, or take nothing and return the seconds to wait."""
        with self._lock:
            now = self._monotonic()
            self._prune(now)
            if len(self._calls) < self.limit:
                self._calls.append(now)
                return 0.0
            return max(0.0, self._calls[0] + self.period - now)


_LIMITERS: dict[tuple[str, str], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(app_key: str, kind: str) -> RateLimiter:
    """Return the process-wide limiter of one app key and call type ('create' or 'check')."""
    # Shared by every Client of the same key, because the service counts per key.
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get((app_key, kind))
        if limiter is None:
            limiter = _LIMITERS[(app_key, kind)] = RateLimiter()
        return limiter


def compact_json(value: object) -> bytes:
    """Encode a JSON body exactly as the official SDK does (compact, UTF-8, non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def body_bytes(body: object) -> bytes | None:
    """Return the bytes to send: bytes as they are, str as UTF-8, anything else as compact JSON."""
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return compact_json(body)


def _describe_skew(skew: float) -> str:
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


class Client:
    """A signed HTTP client for one app key against one endpoint."""

    def __init__(
        self,
        app_key: str,
        app_secret: str | Secret,
        *,
        endpoint: endpoints.Endpoint | None = None,
        region: str = "us",
        environment: str = "prod",
        api: str = "v2",
        base_url: str | None = None,
        algorithm: str = "HMAC-SHA1",
        timeout: float | tuple[float, float] = (5.0, 15.0),
        wait_for_rate_limit: bool = True,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        limiters: tuple[Limiter, Limiter] | None = None,
    ) -> None:
        """``limiters`` (create, check) replace the process-wide per-key ones."""
        secret = app_secret if isinstance(app_secret, Secret) else Secret(app_secret or "")
        del app_secret  # boxed: no traceback of this frame shows it
        if not app_key or not secret:
            raise ValueError("app_key and app_secret are both required")
        signing.check_algorithm(algorithm)
        self.app_key = app_key
        self._secret = secret
        self.endpoint = endpoint or endpoints.resolve(region, environment, api, base_url)
        self.algorithm = algorithm
        self.timeout = timeout
        self.wait_for_rate_limit = wait_for_rate_limit
        self.clock_offset = 0.0
        #: Whether ``clock_offset`` was learned from this client's own answers (not given).
        self.clock_learned = False
        self.last_canonical_string: str | None = None
        self._clock = clock
        self._sleep = sleep
        self._http = requests.Session()
        self.create_limiter: Limiter
        self.check_limiter: Limiter
        if limiters is None:
            limiters = (limiter_for(app_key, "create"), limiter_for(app_key, "check"))
        self.create_limiter, self.check_limiter = limiters

    def __repr__(self) -> str:
        """Show where the client points, never the secret."""
        return (
            f"Client(app_key={self.app_key!r}, endpoint={self.endpoint.base_url!r}, "
            f"api={self.endpoint.profile.name!r}, algorithm={self.algorithm!r})"
        )

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self._http.close()

    def __enter__(self) -> Client:
        """Use the client as a context manager that closes its connections."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the pooled HTTP connections."""
        self.close()

    # --- signing ------------------------------------------------------------------------------

    def now(self) -> float:
        """Return the server's estimated current time (epoch seconds)."""
        return self._clock() + self.clock_offset

    def sign_headers(
        self,
        method: str,
        path: str,
        *,
        params: signing.Query = None,
        body: bytes | SealedBody | None = None,
        token: Secret | str | None = None,
        host: str | None = None,
    ) -> dict[str, str]:
        """Return every header a request needs: signature, API version, token, content type."""
        del method  # the method is not part of Webull's canonical string
        headers = signing.sign(
            self.app_key,
            self._secret,  # boxed: revealed only inside the HMAC expression
            host=host or self.endpoint.host,
            path=path,
            query=params,
            body=_unseal(body),
            algorithm=self.algorithm,
            timestamp=signing.format_timestamp(self.now()),
        )
        headers = SignedHeaders(headers)
        headers["x-version"] = self.endpoint.profile.version
        if token:
            headers["x-access-token"] = _reveal(token)
        if body:
            headers["Content-Type"] = "application/json"
        return headers

    def _remember_canonical(self, headers: Mapping[str, str], path: str, params, body) -> None:
        self.last_canonical_string = signing.canonical_string(
            self.app_key,
            host=self.endpoint.host,
            path=path,
            query=params,
            body=_unseal(body),
            algorithm=self.algorithm,
            timestamp=headers["x-timestamp"],
            nonce=headers["x-signature-nonce"],
        )

    # --- the HTTP exchange --------------------------------------------------------------------

    def _send_once(
        self,
        method: str,
        path: str,
        params: signing.Query,
        body: bytes | SealedBody | None,
        token: Secret | str | None,
    ) -> requests.Response:
        pairs = signing.query_pairs(params)  # flattened once: signed and sent as the same pairs
        headers = self.sign_headers(method, path, params=pairs, body=body, token=token)
        try:
            response = self._http.request(
                method,
                self.endpoint.url(path),
                params=pairs or None,
                data=_unseal(body),
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise self._transport_error(exc) from None
        self._learn_clock(response)
        if response.status_code == 401 and _error_code(response) == "INCORRECT_SIGN":
            self._remember_canonical(headers, path, pairs, body)
        return response

    def _transport_error(self, exc: requests.RequestException) -> TransportError:
        where = self.endpoint.base_url
        if isinstance(exc, requests.Timeout):
            what = f"{where} did not answer within {self.timeout} s"
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
        error.reached_server = _may_have_reached_server(exc)  # type: ignore[attr-defined]
        return error

    def _learn_clock(self, response: requests.Response) -> None:
        date = response.headers.get("Date")
        if not date:
            return
        try:
            server = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            return
        # The header truncates to the second, so the server's time is half a second later
        # on average.
        offset = server + 0.5 - self._clock()
        self.clock_offset = offset if abs(offset) >= MIN_CLOCK_CORRECTION else 0.0
        self.clock_learned = True

    def _rate_slot(self, limiter: Limiter, what: str) -> None:
        while True:
            wait = limiter.try_acquire()
            if wait <= 0:
                return
            if not self.wait_for_rate_limit:
                raise RateLimitError(
                    f"{what} is limited to {RATE_LIMIT} requests per {RATE_PERIOD:.0f} s "
                    f"per app key: the next slot is free in {wait:.0f} s",
                    retry_after=wait,
                    error_code="TOO_MANY_REQUESTS",
                )
            self._sleep(wait)

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: signing.Query = None,
        body: bytes | SealedBody | None = None,
        token: Secret | str | None = None,
        limiter: Limiter | None = None,
        what: str = "this call",
        retry: bool = False,
    ) -> requests.Response:
        """Send with rate limiting, one clock correction, and (if asked) retries."""
        corrected = False
        tries = 0
        while True:
            tries += 1
            if limiter is not None:
                self._rate_slot(limiter, what)
            try:
                response = self._send_once(method, path, params, body, token)
            except TransportError as exc:
                safe = retry or not getattr(exc, "reached_server", True)
                if safe and tries < MAX_TRIES:
                    self._backoff(tries)
                    continue
                raise
            if response.status_code >= 500 and retry and tries < MAX_TRIES:
                self._backoff(tries)
                continue
            code = _error_code(response)
            if code in ("CLOCK_SKEW_EXCEEDED", "ILLEAGAL_TIMESTAMP") and not corrected:
                # _learn_clock has just read the server's Date; sign again with it, once.
                # The service rejects such a request before acting on it, so even a
                # token create is safe to repeat.
                corrected = True
                if abs(self.clock_offset) >= MIN_CLOCK_CORRECTION:
                    continue
            return response

    def _backoff(self, tries: int) -> None:
        # Full jitter: spreads retries of many clients after a shared outage.
        self._sleep(random.uniform(0, 0.5 * 2 ** (tries - 1)))

    def _raise_for_error(self, response: requests.Response, secrets: Secrets = ()) -> None:
        if response.status_code < 400:
            return
        raise self._error_from(response, secrets)

    def _error_from(self, response: requests.Response, secrets: Secrets) -> WebullError:
        status = response.status_code
        request_id = response.headers.get("X-Request-Id")
        body = _json_or_none(response)
        code = _code_of(body)
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
            skew = -self.clock_offset if self.clock_offset else None
            clock = _describe_skew(skew) if skew else "the request timestamp was refused"
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
            return _protocol_error(response, **common)
        return RequestError(f"the service refused the request (HTTP {status}){said}", **common)

    def _json(self, response: requests.Response, secrets: Secrets = ()) -> Any:
        self._raise_for_error(response, secrets)
        body = _json_or_none(response)
        if body is None:
            raise _protocol_error(
                response,
                http_status=response.status_code,
                request_id=response.headers.get("X-Request-Id"),
            )
        return body

    # --- the API ------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Return the service configuration, e.g. ``{"token_check_enabled": true}``."""
        response = self._exchange(
            "GET", self.endpoint.profile.config_path, what="config", retry=True
        )
        body = self._json(response)
        if not isinstance(body, dict):
            raise ProtocolError("the config endpoint answered something other than an object")
        return body

    def create_token(self, token: Secret | str | None = None) -> TokenInfo:
        """Create a token (or get back ``token`` if it is still PENDING or NORMAL)."""
        response = self._exchange(
            "POST",
            self.endpoint.profile.create_path,
            body=SealedBody(compact_json({"token": _reveal(token)} if token else {})),
            limiter=self.create_limiter,
            what="token creation",
            # Never repeated once it may have reached the server: each create sends an SMS.
            retry=False,
        )
        return self._token_info(response, token)

    def check_token(self, token: Secret | str) -> TokenInfo:
        """Return the current status of ``token``."""
        response = self._exchange(
            "POST",
            self.endpoint.profile.check_path,
            body=SealedBody(compact_json({"token": _reveal(token)})),
            limiter=self.check_limiter,
            what="token check",
            retry=True,
        )
        return self._token_info(response, token)

    def _token_info(self, response: requests.Response, token: Secret | str | None) -> TokenInfo:
        secrets = (token,) if token else ()
        return TokenInfo.from_response(self._json(response, secrets))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: signing.Query = None,
        json: Any = None,
        data: bytes | str | None = None,
        token: Secret | str | None = None,
        raise_for_status: bool = True,
    ) -> requests.Response:
        """Send any signed API request; errors are raised as typed ``WebullError``s.

        ``path`` may carry a query (``/p?a=1``, merged before ``params``) and percent-escapes
        (decoded, as the server decodes them before it checks the signature); a ``#fragment``
        raises ``ValueError``. ``params`` follows ``signing.query_pairs``.
        """
        if json is not None and data is not None:
            raise ValueError("pass json or data, not both")
        path, params = _split_target(path, params)
        body = compact_json(json) if json is not None else body_bytes(data)
        response = self._exchange(method.upper(), path, params=params, body=body, token=token)
        if raise_for_status:
            self._raise_for_error(response, (token,) if token else ())
        return response


def _split_target(path: str, params: signing.Query) -> tuple[str, signing.Query]:
    """Return the decoded path the server verifies, and the query with any ``?...`` of path.

    The server checks the signature over the percent-decoded path, so ``/a%2Fb`` is signed
    (and sent) as ``/a/b``; a ``?q=1`` joins ``params``, first; a ``#fragment`` is never
    sent by any HTTP client, so it is refused rather than silently dropped.
    """
    if not isinstance(path, str):
        raise TypeError(f"path must be a str such as '/openapi/account/list', not {path!r}")
    if "#" in path:
        raise ValueError(
            f"path {path!r} contains a '#' fragment, which is never sent to the server: "
            "remove it (write %23 for a literal '#')"
        )
    path, _, query = path.partition("?")
    if query:
        params = [*parse_qsl(query, keep_blank_values=True), *signing.query_pairs(params)]
    return unquote(path), params


def _code_of(body: Any) -> str | None:
    if isinstance(body, Mapping):
        return _as_text(body.get("error_code") or body.get("code"))
    return None


def _error_code(response: requests.Response) -> str | None:
    return None if response.status_code < 400 else _code_of(_json_or_none(response))


def _json_or_none(response: requests.Response) -> Any:
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


def _reveal(value: Secret | str) -> str:
    return value.reveal() if isinstance(value, Secret) else value


def _scrub(text: str | None, secrets: Secrets) -> str | None:
    # A server that echoes the token back must not put it into our messages.
    if text:
        for secret in secrets:
            if secret:
                text = text.replace(_reveal(secret), mask_token(_reveal(secret)))
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


def _protocol_error(response: requests.Response, **common: Any) -> ProtocolError:
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


def _may_have_reached_server(exc: requests.RequestException) -> bool:
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
