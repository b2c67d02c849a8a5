"""Secrets kept out of sight: a box no repr, log line or pickle can open, and token masking."""

from __future__ import annotations

import hashlib
import hmac
from typing import Generic, TypeVar

__all__ = ["Secret", "mask_token"]

T = TypeVar("T", str, bytes)


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


class Secret(Generic[T]):
    """Holds a secret (text such as a token, or bytes such as a body carrying one) out of sight.

    No repr, ``vars()`` dump, log line or pickle shows the value; ``reveal()`` is the one way
    out, for the places that sign or send it.
    """

    __slots__ = ("__value",)

    def __init__(self, value: T) -> None:
        self.__value = value

    def reveal(self) -> T:
        """Return the secret itself, for the one place that needs it (signing, sending)."""
        return self.__value

    def matches(self, other: Secret[T] | T | None) -> bool:
        """Whether ``other`` holds the same value (compared in constant time)."""
        if other is None:
            return False
        value = other.reveal() if isinstance(other, Secret) else other
        return hmac.compare_digest(_as_bytes(self.__value), _as_bytes(value))

    def digest(self) -> str:
        """A one-way fingerprint of the value, to tell secrets apart without keeping them."""
        return hashlib.sha256(_as_bytes(self.__value)).hexdigest()

    def __repr__(self) -> str:
        """Never the value; for bytes, their count."""
        if isinstance(self.__value, bytes):
            return f"Secret(<{len(self.__value)} bytes>)"
        return "Secret('********')"

    __str__ = __repr__

    def __reduce__(self) -> object:
        raise TypeError("a Secret cannot be pickled")

    def __bool__(self) -> bool:
        """True when a non-empty secret is held."""
        return bool(self.__value)


def mask_token(token: str | None) -> str:
    """Show a token as its first 4 and last 4 characters, never more."""
    if not token:
        return "(none)"
    if len(token) < 12:
        return "****"
    return f"{token[:4]}…{token[-4:]}"
