"""Signed requests for later cells: headers, a ``requests`` auth hook, and get/post.

A ``Signer`` signs for one account with its current token; it reads the account's state
and never changes the token's lifecycle (a use restarts the 15-day idle clock, no more).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from webull_nb.core import messages
from webull_nb.core.errors import InvalidTokenError, TokenStateError
from webull_nb.core.secrets import Secret
from webull_nb.http.wire import body_bytes
from webull_nb.shared.account import Account

__all__ = ["Signer"]


class Signer:
    """Fresh signed headers and signed requests with one account's current token."""

    def __init__(
        self,
        account: Account,
        note_error: Callable[[str], None],
        token_check: Callable[[], bool] | None = None,
    ) -> None:
        """``note_error`` shows a failure wherever the session is shown; ``token_check``
        says whether the service wants tokens (the account's, unless a session shows it)."""
        self.account = account
        self._note_error = note_error
        self._token_check = token_check or account.token_check

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
    ) -> dict[str, str]:
        """Fresh signed headers for exactly this request, with the token if one is needed."""
        token = self.usable_token()
        return self.account.client.sign_headers(
            method, path, params=params, body=body_bytes(body), token=token, host=host
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
    ) -> requests.Response:
        """Send a signed API request with the token; failures raise ``WebullError``."""
        client = self.account.client
        path = self._path_of(path_or_url)  # the client splits off the query and decodes it
        token = self.usable_token()
        try:
            response = client.request(
                method, path, params=params, json=json, data=data, token=token
            )
        except InvalidTokenError as exc:
            self._note_error(str(exc))
            raise
        if token:
            self.note_use()
        return response

    def _path_of(self, path_or_url: str) -> str:
        """A path (with any query) from a path or a URL on this account's endpoint."""
        if "://" in path_or_url:
            base = self.account.client.endpoint.base_url
            if not path_or_url.startswith(base + "/"):
                raise ValueError(f"{path_or_url!r} is not on this session's endpoint {base}")
            path_or_url = path_or_url[len(base) :]
        return path_or_url if path_or_url.startswith("/") else "/" + path_or_url
