"""Reaching a Redis server: URLs, bounded timeouts, and redis-py's errors as ours.

``redis`` (redis-py) is an optional extra, imported only when a Redis store is chosen, so
``import webull_nb`` stays free of it. One client (one connection pool) per URL per process.
Every error message names the server as ``describe(url)`` does: host and port, never the
password, which redis-py keeps in its connection arguments and never prints.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from webull_nb.core.errors import StoreError, StoreUnavailableError

__all__ = [
    "CONNECT_TIMEOUT",
    "REDIS_EXTRA",
    "SCHEMES",
    "SOCKET_TIMEOUT",
    "STORE_FORMS",
    "client_for",
    "describe",
    "guarded",
    "import_redis",
    "is_files",
    "is_store_choice",
    "is_store_url",
]

REDIS_EXTRA = "pip install 'webull-nb[redis]'"
SCHEMES = ("redis", "rediss", "unix")
# A server that is down answers a connect at once; one that is paused or far away must not
# hang a cell: every call gives up after these, and the caller backs off.
CONNECT_TIMEOUT = 3.0
SOCKET_TIMEOUT = 3.0

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


#: What a store may be, for the messages that refuse one. They never repeat the value: a
#: mistyped URL may still hold a password.
STORE_FORMS = (
    "use a Redis URL such as redis://host:6379/0 (rediss:// for TLS, unix:///path/redis.sock), "
    "or files for token directories"
)


def is_files(value: str) -> bool:
    """Whether ``value`` asks for token directories (``files``), not a Redis store."""
    return value.strip().lower() in ("files", "file")


def is_store_choice(value: str) -> bool:
    """Whether ``value`` picks a store at all: ``files`` or a Redis URL."""
    try:
        return is_files(value) or is_store_url(value)
    except ValueError:  # urlsplit refuses some text ("redis://[::1"): not a store either
        return False


def is_store_url(value: str) -> bool:
    """Whether ``value`` names a Redis store (``redis://``, ``rediss://`` or ``unix://``)."""
    return urlsplit(value.strip()).scheme.lower() in SCHEMES


def describe(url: str) -> str:
    """The URL as messages show it: scheme, user, host, port and database; no password."""
    parts = urlsplit(url.strip())
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    user = unquote(parts.username) + "@" if parts.username else ""
    try:
        port = parts.port or 6379
    except ValueError:
        port = "?"
    database = parts.path.lstrip("/") or "0"
    if not database.isdigit():
        database = "?"  # not a database number: text typed in the wrong place, maybe a password
    return f"{parts.scheme}://{user}{parts.hostname or 'localhost'}:{port}/{database}"


def import_redis() -> Any:
    """The ``redis`` module, or an ``ImportError`` naming the extra that brings it."""
    try:
        import redis
    except ImportError as exc:
        raise ImportError(
            f"a Redis store needs the redis client and cryptography: {REDIS_EXTRA}"
        ) from exc
    return redis


def _message(exc: BaseException, where: str) -> StoreError:
    redis = import_redis()
    errors = redis.exceptions
    text = str(exc)
    if isinstance(exc, errors.AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text:
        return StoreUnavailableError(
            f"Redis at {where} refused the user name or password in the store URL "
            "(WRONGPASS/NOAUTH): check the URL's user and password"
        )
    if isinstance(exc, errors.NoPermissionError) or text.startswith("NOPERM"):
        # NOPERM messages name the user and the command, never a password.
        return StoreUnavailableError(
            f"Redis at {where} denies the store's user a command it needs ({text}): "
            "grant the user +@read +@write +@scripting +@pubsub on the webull-nb:* keys "
            "and channels"
        )
    if isinstance(exc, errors.TimeoutError):
        return StoreUnavailableError(
            f"Redis at {where} did not answer within {SOCKET_TIMEOUT:.0f} s "
            "(is it paused, overloaded or far away?)"
        )
    if isinstance(exc, (errors.ConnectionError, OSError)):
        reason = type(exc).__name__ if "password" in text.lower() else text
        return StoreUnavailableError(f"cannot reach Redis at {where}: {reason}")
    return StoreError(f"Redis at {where} answered with an error: {type(exc).__name__}: {text}")


@contextlib.contextmanager
def guarded(where: str) -> Iterator[None]:
    """Turn redis-py's errors inside the block into ``StoreError``s that name ``where``."""
    redis = import_redis()
    try:
        yield
    except redis.exceptions.RedisError as exc:
        # from None: redis-py's own exception chain holds connection objects, not ours to show.
        raise _message(exc, where) from None
    except OSError as exc:
        if isinstance(exc, StoreError):
            raise
        raise _message(exc, where) from None


def client_for(url: str) -> Any:
    """This process's client for ``url`` (one pool per URL), checked with a PING."""
    redis = import_redis()
    where = describe(url)
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            try:
                client = redis.Redis.from_url(
                    url.strip(),
                    socket_connect_timeout=CONNECT_TIMEOUT,
                    socket_timeout=SOCKET_TIMEOUT,
                    health_check_interval=30,
                    decode_responses=True,
                )
            except ValueError as exc:
                # The parser's message quotes no password; it names the part that is wrong.
                raise StoreError(f"not a usable Redis URL ({where}): {exc}") from None
            _clients[url] = client
    with guarded(where):
        client.ping()
    return client


def forget_clients() -> None:
    """Close every client (tests, and a process that is about to fork)."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        with contextlib.suppress(Exception):
            client.close()
