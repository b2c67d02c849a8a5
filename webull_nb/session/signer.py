"""Signed requests for later cells: headers, a ``requests`` auth hook, and get/post.

A ``Signer`` signs for one account with its current token; it reads the account's state
and never changes the token's lifecycle (a use restarts the 15-day idle clock, no more).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import requests

from webull_nb.core import messages, signing
from webull_nb.core.errors import InvalidTokenError, TokenStateError, WebullError
from webull_nb.core.secrets import Secret
from webull_nb.http.wire import body_bytes, split_target
from webull_nb.session import requestlog
from webull_nb.session.requestlog import LoggedRequest, RequestLog, scrub
from webull_nb.shared.account import Account

__all__ = ["Signer"]


class Signer:
    """Fresh signed headers and signed requests with one account's current token."""

    def __init__(
        self,
        account: Account,
        note_error: Callable[[str], None],
        token_check: Callable[[], bool] | None = None,
        log: RequestLog | None = None,
    ) -> None:
        """``note_error`` shows a failure wherever the session is shown; ``token_check``
        says whether the service wants tokens (the account's, unless a session shows it);
        ``log`` keeps what was sent."""
        self.account = account
        self._note_error = note_error
        self._token_check = token_check or account.token_check
        self.log = log if log is not None else RequestLog()

    def __repr__(self) -> str:
        """Name the account; never the token."""
        return f"Signer({self.account!r})"

    def seconds_left(self) -> float | None:
        """Seconds left to approve a PENDING token (None otherwise)."""
        state = self.account.state
        if state.status != "PENDING" or state.deadline is None:
            return None
        return max(0.0, state.deadline.timestamp() - self.account.now())

    def usable_token(self) -> Secret[str] | None:
        """The token to send: a NORMAL one, or none where the service wants none (UAT)."""
        state = self.account.state
        if not self._token_check():
            return state.token if state.status == "NORMAL" else None
        if state.status == "NORMAL" and state.token is not None:
            return state.token
        reason = messages.not_usable(state.status, messages.CODE, self.seconds_left())
        raise TokenStateError(messages.plain(reason))

    def headers(
        self,
        method: str,
        path: str,
        params: Any = None,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        *,
        host: str | None = None,
        version: str | None = None,
    ) -> dict[str, str]:
        """Fresh signed headers for exactly this request, with the token if one is needed."""
        token = self.usable_token()
        return self.account.client.sign_headers(
            method,
            path,
            params=params,
            body=body_bytes(body),
            token=token,
            host=host,
            version=version,
        )

    def note_use(self) -> None:
        """Record a successful use of the token (Webull's 15-day idle clock)."""
        self.account.note_use()

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Any = None,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send a signed API request with the token; failures raise ``WebullError``."""
        client = self.account.client
        path = self._path_of(path_or_url)  # the client splits off the query and decodes it
        token = self.usable_token()
        started = time.perf_counter()
        try:
            response = client.request(
                method, path, params=params, json=json, data=data, token=token, headers=headers
            )
        except WebullError as exc:
            self._log(method, path, params, json, headers, started, exc)
            if isinstance(exc, InvalidTokenError):
                self._note_error(str(exc))
            raise
        self._log(method, path, params, json, headers, started, response)
        if token:
            self.note_use()
        return response

    def note_response(self, response: requests.Response) -> None:
        """Log a response to a request the ``requests`` hook signed."""
        sent = response.request
        if sent is None:
            return
        parts = urlsplit(sent.url or "")
        method = (sent.method or "GET").upper()
        path = unquote(parts.path or "/")
        version = sent.headers.get("x-version")
        self._keep(
            LoggedRequest(
                at=requestlog.now(),
                method=method,
                base_url=f"{parts.scheme}://{parts.netloc}",
                path=path,
                params=tuple(parse_qsl(parts.query, keep_blank_values=True)),
                status=response.status_code,
                ms=response.elapsed.total_seconds() * 1000,
                request_id=response.headers.get("X-Request-Id"),
                error=None if response.ok else f"HTTP {response.status_code}",
                version=None if version == self._version_for(method, path) else version,
            )
        )

    def _log(
        self,
        method: str,
        target: str,
        params: Any,
        body: Any,
        headers: Mapping[str, str] | None,
        started: float,
        outcome: requests.Response | WebullError,
    ) -> None:
        path, query = split_target(target, params)
        if isinstance(outcome, WebullError):
            status, request_id = outcome.http_status, outcome.request_id
            error: str | None = type(outcome).__name__
        else:
            status, request_id = outcome.status_code, outcome.headers.get("X-Request-Id")
            error = None
        chosen = next((v for k, v in (headers or {}).items() if k.lower() == "x-version"), None)
        self._keep(
            LoggedRequest(
                at=requestlog.now(),
                method=method.upper(),
                base_url=self.account.client.endpoint.base_url,
                path=path,
                params=tuple(signing.query_pairs(query)),
                status=status,
                ms=(time.perf_counter() - started) * 1000,
                request_id=request_id,
                error=error,
                body=body,
                version=chosen,
            )
        )

    def _version_for(self, method: str, path: str) -> str:
        return self.account.client.version_for(method, path)

    def _keep(self, entry: LoggedRequest) -> None:
        """Log ``entry`` with the token masked wherever it appears, and no token API body."""
        token = self.account.state.token
        secrets = (token.reveal(),) if token is not None else ()
        # Every token API path (create, check, refresh, in v2 and v3) has "/token" in it, and
        # its body is a token: another account's, say, which the mask below cannot know.
        body = None if "/token" in entry.path else entry.body
        self.log.add(
            dataclasses.replace(
                entry, params=scrub(entry.params, secrets), body=scrub(body, secrets)
            )
        )

    def _path_of(self, path_or_url: str) -> str:
        """A path (with any query) from a path or a URL on this account's endpoint."""
        if "://" in path_or_url:
            base = self.account.client.endpoint.base_url
            if not path_or_url.startswith(base + "/"):
                raise ValueError(f"{path_or_url!r} is not on this session's endpoint {base}")
            path_or_url = path_or_url[len(base) :]
        return path_or_url if path_or_url.startswith("/") else "/" + path_or_url
