"""The token at rest in a shared store: AES-GCM under a key derived from the app secret.

Whoever can sign requests for the account (holds the app secret) can read its token;
whoever can only read the store cannot. The key is derived with HKDF-SHA256 from the app
secret, bound to the account's id (also the associated data, so a sealed token copied to
another account's record does not open there). Nothing here is written anywhere: the key
lives in this object only.
"""

from __future__ import annotations

import base64
import os

from webull_nb.core.secrets import Secret
from webull_nb.shared.redisstore.connect import REDIS_EXTRA

__all__ = ["Sealer"]

_SALT = b"webull-nb/redis-store/v1"
_NONCE = 12


class Sealer:
    """Seals and opens one account's token; repr shows nothing."""

    __slots__ = ("_aad", "_aead")

    def __init__(self, app_secret: Secret, account_id: str) -> None:
        try:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        except ImportError as exc:
            needs = f"a Redis store seals tokens with cryptography: {REDIS_EXTRA}"
            raise ImportError(needs) from exc
        self._aad = account_id.encode("utf-8")
        secret = app_secret.reveal()
        material = secret.encode("utf-8") if isinstance(secret, str) else secret
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=self._aad).derive(
            material
        )
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        """Never the key."""
        return "Sealer(<key held>)"

    def seal(self, token: str) -> str:
        """The token encrypted (nonce and ciphertext, base64): fit for a shared store."""
        nonce = os.urandom(_NONCE)
        sealed = self._aead.encrypt(nonce, token.encode("utf-8"), self._aad)
        return base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, blob: str) -> str | None:
        """The token, or None when ``blob`` was sealed under another key or is damaged."""
        from cryptography.exceptions import InvalidTag

        try:
            raw = base64.b64decode(blob.encode("ascii"), validate=True)
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], self._aad).decode("utf-8")
        except (ValueError, InvalidTag, UnicodeError):
            return None
