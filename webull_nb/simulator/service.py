"""The fake Webull: one request in, one reply out, through the same checks as the service."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from webull_nb.core.endpoints import API_PROFILES, CONFIG_PATH
from webull_nb.simulator import data
from webull_nb.simulator.answers import Answers
from webull_nb.simulator.auth import RateLimiter
from webull_nb.simulator.replies import Reply, SimulatorError, parse_json
from webull_nb.simulator.tokens import TokenBook

__all__ = [
    "ACCOUNTS_PATH",
    "CONTROL_PREFIX",
    "SMS_PATH",
    "TOKEN_PATHS",
    "VERIFY_PATH",
    "Authenticate",
    "Service",
]

ACCOUNTS_PATH = "/openapi/account/list"
# The control plane: the simulated phone's side, unsigned and answered only to local Host names
# (a class checks every request's signature itself, this one's too: ``authenticated``).
CONTROL_PREFIX = "/_sim/"
SMS_PATH = CONTROL_PREFIX + "sms"
VERIFY_PATH = CONTROL_PREFIX + "verify"
#: The token API's paths (every profile's) and the kind of call each is: "create" or "check".
TOKEN_PATHS = {
    **{p.create_path: "create" for p in API_PROFILES.values()},
    **{p.check_path: "check" for p in API_PROFILES.values()},
}

#: Checks a request's signature: (headers, path, query, body, host); raises SimulatorError.
Authenticate = Callable[[Mapping[str, str], str, str, bytes, str], None]


class Service:
    """Routes each request through authentication and the rate limit to tokens or data.

    Data is every endpoint of the catalog (``answers``): its order book and watchlists live
    as long as this service.
    """

    def __init__(
        self,
        tokens: TokenBook,
        authenticate: Authenticate,
        limiter: RateLimiter,
        *,
        no_device: bool = False,
    ) -> None:
        self.tokens = tokens
        self.authenticate = authenticate
        self.limiter = limiter
        # Plays an account with no logged-in Webull App: creates answer NO_AVAILABLE_DEVICE.
        self.no_device = no_device
        self.answers = Answers(tokens.clock)

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one HTTP request (header names in lower case)."""
        try:
            return self.respond(method, target, headers, body)
        except SimulatorError as refused:
            return refused.reply

    def respond(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        authenticated: bool = False,
    ) -> Reply:
        """Answer one HTTP request, or raise the SimulatorError that refuses it.

        ``authenticated``: the caller has checked the signature already, control plane
        included (a second check would refuse the nonce as reused).
        """
        parts = urlsplit(target)
        path = unquote(parts.path)
        control = path.startswith(CONTROL_PREFIX)
        if not authenticated and not control:
            self.authenticate(headers, path, parts.query, body, headers.get("host", ""))
        if control:
            return Reply(200, self._control(method, path, body))
        return self._api(method, path, parts.query, headers, parse_json(body))

    def _api(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        payload: dict[str, Any],
    ) -> Reply:
        if path == CONFIG_PATH and method == "GET":
            return Reply(200, {"token_check_enabled": self.tokens.environment == "prod"})
        kind = TOKEN_PATHS.get(path)
        if kind is not None and method == "POST":
            self.limiter.admit(kind)
            token = str(payload.get("token") or "")
            if kind == "check":
                return Reply(200, self.tokens.check(token))
            # Joining a token that already exists needs no device; a new one does.
            if self.no_device and not self.tokens.is_live(token):
                return Reply(*data.NO_DEVICE_REPLY)
            return Reply(200, self.tokens.create(token))
        if path == ACCOUNTS_PATH and method == "GET":
            # Whatever the x-version: the README's first example lists accounts on v2.
            self.tokens.use(headers.get("x-access-token", ""))
            return Reply(200, data.ACCOUNTS)
        route = self.answers.route(method, path)
        if route is None:
            raise SimulatorError(404, "NOT_FOUND", f"no API at {method} {path}")
        self.tokens.use(headers.get("x-access-token", ""))
        version = headers.get("x-version", "")
        return Reply(200, self.answers.answer(route, version, query, payload))

    def _control(self, method: str, path: str, body: bytes) -> Any:
        if path == SMS_PATH and method == "GET":
            return self.tokens.sms_inbox()
        if path == VERIFY_PATH and method == "POST":
            payload = parse_json(body)
            return self.tokens.verify(str(payload.get("token", "")), str(payload.get("code", "")))
        raise SimulatorError(404, "NOT_FOUND", f"no control endpoint {method} {path}")
