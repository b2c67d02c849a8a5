"""Who may call the fake service: signed requests (signature, skew, nonce), the rate limit."""

from __future__ import annotations

import calendar
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

from webull_nb.core import signing
from webull_nb.core.secrets import Secret
from webull_nb.core.status import RATE_LIMIT, RATE_PERIOD
from webull_nb.simulator.replies import SimulatorError

__all__ = ["NONCE_TTL", "SKEW_LIMIT", "RateLimiter", "SignatureCheck"]

SKEW_LIMIT = 300.0
NONCE_TTL = 600.0
_SIGNING_HEADERS = {
    "x-app-key": "MISSING_APP_KEY",
    "x-signature": "MISSING_SIGNATURE",
    "x-signature-algorithm": "MISSING_ALGORITHM",
    "x-signature-nonce": "MISSING_NONCE",
    "x-timestamp": "MISSING_TIMESTAMP",
    "x-signature-version": "MISSING_VERSION",
}


class SignatureCheck:
    """Admits a request only if it is signed with this app's key and secret, on time, once."""

    def __init__(self, app_key: str, app_secret: Secret[str], clock: Callable[[], float]) -> None:
        self.app_key = app_key
        self.app_secret = app_secret
        self.clock = clock
        self._lock = threading.Lock()
        self._nonces: dict[str, float] = {}

    def __call__(
        self, headers: Mapping[str, str], path: str, query: str, body: bytes, host: str
    ) -> None:
        """Return if the request is authentic; raise SimulatorError (HTTP 401) if not."""
        for name, code in _SIGNING_HEADERS.items():
            if not headers.get(name):
                raise SimulatorError(401, code, f"the {name} header is missing")
        if headers["x-app-key"] != self.app_key:
            raise SimulatorError(401, "UNAUTHORIZED", "unknown app key")
        algorithm = headers["x-signature-algorithm"]
        if algorithm not in signing.ALGORITHMS:
            raise SimulatorError(
                401, "SIGNATURE_ALGORITHM_NOT_SUPPORTED", f"unsupported algorithm {algorithm}"
            )
        try:
            stamp = calendar.timegm(time.strptime(headers["x-timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
        except ValueError:
            raise SimulatorError(
                401, "ILLEAGAL_TIMESTAMP", "x-timestamp is not YYYY-MM-DDThh:mm:ssZ"
            ) from None
        now = self.clock()
        if abs(now - stamp) > SKEW_LIMIT:
            raise SimulatorError(
                401, "CLOCK_SKEW_EXCEEDED", "x-timestamp is more than 5 minutes off"
            )
        expected = signing.sign(
            self.app_key,
            self.app_secret,
            host=host,
            path=path,
            query=parse_qsl(query, keep_blank_values=True),
            body=body,
            algorithm=algorithm,
            timestamp=headers["x-timestamp"],
            nonce=headers["x-signature-nonce"],
        )["x-signature"]
        given = headers["x-signature"].encode("utf-8", "replace")  # any text: a 401, never a 500
        if not secrets.compare_digest(expected.encode("ascii"), given):
            raise SimulatorError(401, "INCORRECT_SIGN", "the signature does not match")
        self._use_nonce(headers["x-signature-nonce"], now)

    def _use_nonce(self, nonce: str, now: float) -> None:
        with self._lock:
            for old, seen in list(self._nonces.items()):
                if now - seen > NONCE_TTL:
                    del self._nonces[old]
            if nonce in self._nonces:
                raise SimulatorError(
                    401, "DUPLICATE_NONCE", "this nonce was used in the last 10 minutes"
                )
            self._nonces[nonce] = now


class RateLimiter:
    """The service's rule: at most RATE_LIMIT calls of each kind in any RATE_PERIOD seconds."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._calls: dict[str, deque[float]] = {}

    def admit(self, kind: str) -> None:
        """Count one ``kind`` call, or refuse it with HTTP 429 and a Retry-After."""
        now = self.clock()
        with self._lock:
            calls = self._calls.setdefault(kind, deque())
            while calls and now - calls[0] >= RATE_PERIOD:
                calls.popleft()
            if len(calls) >= RATE_LIMIT:
                retry = max(1, int(calls[0] + RATE_PERIOD - now + 0.999))
                raise SimulatorError(
                    429,
                    "TOO_MANY_REQUESTS",
                    f"at most {RATE_LIMIT} {kind} requests per {RATE_PERIOD:.0f} s",
                    {"Retry-After": str(retry)},
                )
            calls.append(now)
