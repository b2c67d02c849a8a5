"""Signed requests for later cells: headers, a ``requests`` auth hook, and get/post.

``SignedRequests`` is the part of ``Session`` that later cells use; it reads the session's
account and status and never changes the token's lifecycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import requests

from webull_nb.core.errors import InvalidTokenError, TokenStateError
from webull_nb.core.secrets import Secret
from webull_nb.core.signing import query_pairs
from webull_nb.core.timefmt import countdown
from webull_nb.http.auth import WebullAuth
from webull_nb.http.client import Client
from webull_nb.http.wire import body_bytes

if TYPE_CHECKING:
    from webull_nb.shared.account import Account

__all__ = ["SignedRequests"]


class SignedRequests:
    """Fresh signed headers, ``session.auth`` and ``session.get``/``post``/``request``."""

    status: str

    def _require_account(self) -> Account:
        raise NotImplementedError

    def _check_config(self) -> bool:
        raise NotImplementedError

    def seconds_left(self) -> float | None:
        """Seconds left in the verification window (see ``Session``)."""
        raise NotImplementedError

    def note_error(self, message: str) -> None:
        """Show a user-facing message (see ``Session``)."""
        raise NotImplementedError

    def _usable_token(self) -> Secret | None:
        account = self._require_account()
        token = account.state.token
        if not self._check_config():
            return token if self.status == "NORMAL" else None
        if self.status == "NORMAL" and token is not None:
            return token
        left = self.seconds_left()
        advice = {
            "NONE": "there is no access token yet: create one (session.create_token() or the "
            "panel's Create token button) and approve it in the Webull App",
            "PENDING": "the access token is waiting for approval in the Webull App"
            + (f" ({countdown(left)} left)" if left is not None else ""),
            "EXPIRED": "the access token expired before it was approved: create a new one",
            "INVALID": "the access token is no longer valid (unused for 15 days, or "
            "replaced): create a new one",
        }
        raise TokenStateError(advice.get(self.status, f"the token is {self.status}"))

    def headers(
        self,
        method: str,
        path: str,
        params: Any = None,
        body: bytes | str | dict[str, Any] | list[Any] | None = None,
        *,
        host: str | None = None,
    ) -> dict[str, str]:
        """Return fresh signed headers for exactly this request, with the token if any.

        ``body`` must be the exact bytes you send; a dict or list is encoded compactly, so
        send it as ``data=webull_nb.client.compact_json(body)`` (or use ``session.auth``).
        """
        client = self._require_account().client
        token = self._usable_token()
        return client.sign_headers(
            method, path, params=params, body=body_bytes(body), token=token, host=host
        )

    @property
    def auth(self) -> WebullAuth:
        """A ``requests`` auth hook that signs each request at send time."""
        return WebullAuth(self)

    def note_use(self) -> None:
        """Record a successful use of the token (Webull's 15-day idle clock)."""
        self._require_account().note_use()

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Any = None,
        json: Any = None,
        data: bytes | str | None = None,
    ) -> requests.Response:
        """Send a signed API request with the active token; failures raise ``WebullError``."""
        client = self._require_account().client
        path, query = self._path_of(client, path_or_url)
        if query:
            params = [*parse_qsl(query, keep_blank_values=True), *query_pairs(params)]
        token = self._usable_token()
        try:
            response = client.request(
                method, path, params=params, json=json, data=data, token=token
            )
        except InvalidTokenError as exc:
            self.note_error(str(exc))
            raise
        if token:
            self.note_use()
        return response

    def get(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        """Send a signed GET."""
        return self.request("GET", path_or_url, **kwargs)

    def post(self, path_or_url: str, **kwargs: Any) -> requests.Response:
        """Send a signed POST."""
        return self.request("POST", path_or_url, **kwargs)

    @staticmethod
    def _path_of(client: Client, path_or_url: str) -> tuple[str, str]:
        """Split a path or same-endpoint URL into (path, query)."""
        if "://" in path_or_url:
            base = client.endpoint.base_url
            if not path_or_url.startswith(base + "/"):
                raise ValueError(f"{path_or_url!r} is not on this session's endpoint {base}")
            path_or_url = path_or_url[len(base) :]
        path, _, query = path_or_url.partition("?")
        return (path if path.startswith("/") else "/" + path), query
