"""A ``requests`` auth hook that signs each prepared request at send time.

Like ``requests.auth.HTTPDigestAuth`` it also watches responses: a redirect to another origin
loses the access token and the signature headers before ``requests`` follows it (requests
strips only ``Authorization`` on such a redirect, never custom headers), and a success
counts as a use of the token (Webull's 15-day idle clock).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

import requests
from requests.auth import AuthBase

from webull_nb.http.wire import TOKEN_HEADER, is_secret_header

__all__ = ["Signer", "WebullAuth"]

_DEFAULT_PORTS = {"http": "80", "https": "443"}


class Signer(Protocol):
    """What the hook needs: fresh headers for one request, and a way to record a use."""

    def headers(
        self,
        method: str,
        path: str,
        params: Any = None,
        body: Any = None,
        *,
        host: str | None = None,
        version: str | None = None,
    ) -> dict[str, str]:
        """Signed headers for exactly this request (``version``: an ``x-version`` chosen)."""

    def note_use(self) -> None:
        """Record that the token was just used successfully."""

    def note_response(self, response: requests.Response) -> None:
        """Record an answer (a request log)."""


def _host(scheme: str, netloc: str) -> str:
    """``netloc`` as http.client puts it in the Host header: without the scheme's default port."""
    port = _DEFAULT_PORTS.get(scheme)
    if port and netloc.endswith(":" + port):
        return netloc[: -len(port) - 1]
    return netloc


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), _host(parts.scheme, parts.netloc).lower()


class WebullAuth(AuthBase):
    """Signs a prepared ``requests`` request over its real URL, Host and body bytes."""

    def __init__(self, signer: Signer) -> None:
        self.session = signer

    def __repr__(self) -> str:
        """Name the session it signs for."""
        return f"WebullAuth({self.session!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Add the signing headers and the token; watch the response for redirects and use."""
        parts = urlsplit(request.url or "")
        host = request.headers.get("Host") or _host(parts.scheme, parts.netloc)
        body = request.body
        if body is not None and not isinstance(body, (bytes, str)):
            raise TypeError("WebullAuth cannot sign a streamed body: pass bytes, str or json=")
        headers = self.session.headers(
            request.method or "GET",
            unquote(parts.path or "/"),
            parse_qsl(parts.query, keep_blank_values=True),
            body,
            host=host,
            # A version the caller set stays as sent, so a path can be tried in another one.
            version=request.headers.get("x-version"),
        )
        if not body or "Content-Type" in request.headers:
            headers.pop("Content-Type", None)  # keep whatever requests chose for the body
        request.headers.update(headers)
        request.register_hook("response", self._on_response)
        return request

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        sent = response.request
        self.session.note_response(response)
        if response.is_redirect and sent is not None:
            target = urljoin(response.url, response.headers.get("location", ""))
            if _origin(target) != _origin(sent.url or ""):
                # requests copies this request's headers into the redirected one.
                _strip_private(sent.headers)
            return
        if 200 <= response.status_code < 300 and sent is not None and TOKEN_HEADER in sent.headers:
            self.session.note_use()


def _strip_private(headers: Mapping[str, str] | Any) -> None:
    for name in [name for name in headers if is_secret_header(name)]:
        del headers[name]
