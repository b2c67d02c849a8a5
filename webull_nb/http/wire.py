"""What goes on the wire: JSON bodies as the SDK encodes them, request targets, secret headers."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, unquote

from webull_nb.core import signing
from webull_nb.core.secrets import Secret, mask_token

__all__ = [
    "SIGNATURE_PREFIX",
    "TOKEN_HEADER",
    "SignedHeaders",
    "body_bytes",
    "compact_json",
    "is_secret_header",
    "reveal",
    "split_target",
]

#: The access token header, and the prefix of the signature and its parameters: what is
#: never shown whole and never follows a redirect to another origin (the one rule for both).
TOKEN_HEADER = "x-access-token"
SIGNATURE_PREFIX = "x-signature"


def is_secret_header(name: str) -> bool:
    """Whether a header (any case) is the access token or part of the signature."""
    name = name.lower()
    return name == TOKEN_HEADER or name.startswith(SIGNATURE_PREFIX)


class SignedHeaders(dict):  # type: ignore[type-arg]
    """The headers of one request; its repr masks the token and the signature."""

    def __repr__(self) -> str:
        """Every header, with the secret ones masked."""
        shown = {
            name: (mask_token(value) if is_secret_header(name) else value)
            for name, value in self.items()
        }
        return f"SignedHeaders({shown!r})"


def reveal(value: Secret[str] | str) -> str:
    """The text of a boxed or plain secret."""
    return value.reveal() if isinstance(value, Secret) else value


def compact_json(value: object) -> bytes:
    """Encode a JSON body exactly as the official SDK does (compact, UTF-8, non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def body_bytes(body: object) -> bytes | None:
    """Return the bytes to send: bytes as they are, str as UTF-8, anything else as compact JSON."""
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, Secret):
        return body_bytes(body.reveal())
    return compact_json(body)


def split_target(path: str, params: signing.Query = None) -> tuple[str, signing.Query]:
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
