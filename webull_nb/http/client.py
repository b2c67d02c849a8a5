"""One app key's calls to the Webull OpenAPI: a signed exchange, retries, the token API."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from webull_nb.core import catalog, endpoints, signing
from webull_nb.core.errors import ProtocolError, RateLimitError, TransportError
from webull_nb.core.secrets import Secret
from webull_nb.core.status import RATE_LIMIT, RATE_PERIOD, TokenStatus
from webull_nb.core.tokens import TokenInfo
from webull_nb.http.errormap import (
    Secrets,
    error_code,
    error_from,
    json_or_none,
    protocol_error,
    transport_error,
)
from webull_nb.http.ratelimit import Limiter, RateLimiter, limiter_for
from webull_nb.http.wire import (
    SignedHeaders,
    body_bytes,
    compact_json,
    is_secret_header,
    reveal,
    split_target,
)

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

# Signed or set by the signer: a caller's value would be replaced or break the signature.
_SIGNED_HEADERS = frozenset({"x-app-key", "x-timestamp", "host"})
_VERSION = "x-version"


def _pop_version(headers: dict[str, str]) -> str | None:
    """Take the caller's ``x-version`` (any case) out of ``headers``; it goes in as chosen."""
    for name in [n for n in headers if n.lower() == _VERSION]:
        return headers.pop(name)
    return None


# Below this the Date header's whole-second resolution makes an estimate meaningless.
MIN_CLOCK_CORRECTION = 2.0
MAX_TRIES = 3


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
        # Keyed once per client: each request's signature starts from the ready HMAC states.
        self._signer = signing.Signer(app_key, secret, algorithm)
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

    @property
    def app_secret(self) -> Secret[str]:
        """The app secret, boxed (for a bridge to another client that needs it in clear)."""
        return self._secret

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
        body: bytes | Secret[bytes] | None = None,
        token: Secret | str | None = None,
        host: str | None = None,
        version: str | None = None,
    ) -> dict[str, str]:
        """Return every header a request needs: signature, API version, token, content type.

        ``version`` (an ``x-version`` the caller chose) wins over ``version_for(method, path)``.
        """
        headers = SignedHeaders(
            self._signer.sign(
                host or self.endpoint.host,
                path,
                params,
                body_bytes(body),
                timestamp=signing.format_timestamp(self.now()),
            )
        )
        headers["x-version"] = version or self.version_for(method, path)
        if token:
            headers["x-access-token"] = reveal(token)
        if body:
            headers["Content-Type"] = "application/json"
        return headers

    def version_for(self, method: str, path: str) -> str:
        """The ``x-version`` a path needs: the token profile's for its own paths, else the
        catalog's (market data is v3 whatever the profile), else the profile's."""
        profile = self.endpoint.profile
        if path in (profile.create_path, profile.check_path, profile.config_path):
            return profile.version
        return catalog.version_for(method, path) or profile.version

    def _remember_canonical(self, headers: Mapping[str, str], path: str, params, body) -> None:
        self.last_canonical_string = signing.canonical_string(
            self.app_key,
            host=self.endpoint.host,
            path=path,
            query=params,
            body=body_bytes(body),
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
        body: bytes | Secret[bytes] | None,
        token: Secret | str | None,
        extra: Mapping[str, str] | None = None,
    ) -> requests.Response:
        pairs = signing.query_pairs(params)  # flattened once: signed and sent as the same pairs
        extra = dict(extra or {})
        version = _pop_version(extra)
        headers = self.sign_headers(
            method, path, params=pairs, body=body, token=token, version=version
        )
        headers.update(extra)
        try:
            response = self._http.request(
                method,
                self.endpoint.url(path),
                params=pairs or None,
                data=body_bytes(body),
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise transport_error(exc, self.endpoint.base_url, self.timeout) from None
        self._learn_clock(response)
        if response.status_code == 401 and error_code(response) == "INCORRECT_SIGN":
            self._remember_canonical(headers, path, pairs, body)
        return response

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
        body: bytes | Secret[bytes] | None = None,
        token: Secret | str | None = None,
        limiter: Limiter | None = None,
        what: str = "this call",
        retry: bool = False,
        extra: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send with rate limiting, one clock correction, and (if asked) retries."""
        corrected = False
        tries = 0
        while True:
            tries += 1
            if limiter is not None:
                self._rate_slot(limiter, what)
            try:
                response = self._send_once(method, path, params, body, token, extra)
            except TransportError as exc:
                safe = retry or not getattr(exc, "reached_server", True)
                if safe and tries < MAX_TRIES:
                    self._backoff(tries)
                    continue
                raise
            if response.status_code >= 500 and retry and tries < MAX_TRIES:
                self._backoff(tries)
                continue
            code = error_code(response)
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
        if response.status_code >= 400:
            raise error_from(response, secrets, self.clock_offset)

    def _json(self, response: requests.Response, secrets: Secrets = ()) -> Any:
        self._raise_for_error(response, secrets)
        body = json_or_none(response)
        if body is None:
            raise protocol_error(
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
            body=Secret(compact_json({"token": reveal(token)} if token else {})),
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
            body=Secret(compact_json({"token": reveal(token)})),
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
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send any signed API request; errors are raised as typed ``WebullError``s.

        ``path`` may carry a query (``/p?a=1``, merged before ``params``) and percent-escapes
        (decoded, as the server decodes them before it checks the signature); a ``#fragment``
        raises ``ValueError``. ``params`` follows ``signing.query_pairs``. ``headers`` are
        sent as well; an ``x-version`` among them replaces the one the path needs, and the
        signature and token headers cannot be given (``ValueError``).
        """
        if json is not None and data is not None:
            raise ValueError("pass json or data, not both")
        for name in headers or {}:
            if is_secret_header(name) or name.lower() in _SIGNED_HEADERS:
                raise ValueError(f"the {name} header is set when the request is signed")
        path, params = split_target(path, params)
        body = compact_json(json) if json is not None else body_bytes(data)
        response = self._exchange(
            method.upper(), path, params=params, body=body, token=token, extra=headers
        )
        if raise_for_status:
            self._raise_for_error(response, (token,) if token else ())
        return response
