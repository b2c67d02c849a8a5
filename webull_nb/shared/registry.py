"""Where accounts are assembled: storage, client and account, one per account per process.

Sessions of one process with the same credentials and storage share one ``Account`` (and so
one poller, one listener list, one view of the token); the last session to leave closes it.
This is the one place that picks a storage backend and wires the client's rate limit to the
storage's shared ledger.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from webull_nb.core import env
from webull_nb.core.endpoints import Endpoint
from webull_nb.core.errors import StoreError
from webull_nb.core.secrets import Secret, mask_token
from webull_nb.http.client import Client
from webull_nb.shared.account import Account
from webull_nb.shared.files.backend import FileStorage
from webull_nb.shared.poller import POLL_INTERVAL
from webull_nb.shared.redisstore.connect import describe, is_files, is_store_url
from webull_nb.shared.storage import Storage, fingerprint

__all__ = ["open_account", "release_account", "storage_for"]

_accounts: dict[tuple[object, ...], Account] = {}
_accounts_lock = threading.Lock()


def storage_for(
    app_key: str,
    endpoint: Endpoint,
    token_dir: str | os.PathLike[str] | None = None,
    *,
    explicit_endpoint: bool = False,
    store: str | None = None,
    app_secret: Secret | None = None,
) -> Storage:
    """The storage of one app key's account: a token directory, or Redis when ``store``
    (else ``$WEBULL_NB_STORE``) is a Redis URL.

    An explicit endpoint (a simulator, say) gets storage of its own, so its tokens never
    mix with the real service's. A Redis store needs ``app_secret`` (tokens are sealed
    with a key derived from it); a NORMAL or PENDING token in the account's token directory
    moves into an empty Redis store instead of costing a new SMS.
    """
    explicit = endpoint.base_url if explicit_endpoint else None
    local = FileStorage.for_account(
        app_key, endpoint.environment, endpoint.region, token_dir, explicit
    )
    chosen = store if store is not None else env.get(env.STORE)
    if not chosen or is_files(chosen):
        return local
    if not is_store_url(chosen):
        raise StoreError(
            f"unknown store {describe(chosen)!r}: use a Redis URL such as "
            "redis://host:6379/0 (rediss:// for TLS, unix:///path/redis.sock), or leave it "
            "unset for token directories"
        )
    if app_secret is None:
        raise StoreError("a Redis store needs the app secret: tokens are sealed with it")
    from webull_nb.shared.redisstore.backend import RedisStorage

    place = f"url-{fingerprint(explicit)[:12]}" if explicit else endpoint.region
    account = f"{endpoint.environment}:{place}:{fingerprint(app_key)[:16]}"
    storage = RedisStorage(chosen, account, app_key, app_secret, local_directory=local.directory)
    storage.move_in(local.records)
    return storage


def open_account(
    app_key: str,
    app_secret: Secret,
    endpoint: Endpoint,
    storage: Storage,
    *,
    algorithm: str = "HMAC-SHA1",
    timeout: float | tuple[float, float] = (5.0, 15.0),
    clock: Callable[[], float] = time.time,
    poll_interval: float = POLL_INTERVAL,
) -> Account:
    """Return this process's ``Account`` for these credentials and storage (shared, counted).

    Accounts differ when any argument does (the clock by identity: two manual clocks that
    read the same time are still two clocks).
    """
    key = (
        storage.where,
        app_key,
        app_secret.digest(),
        endpoint,
        algorithm,
        str(timeout),
        id(clock),
        poll_interval,
    )
    with _accounts_lock:
        account = _accounts.get(key)
        if account is None or account.closed:
            client = Client(
                app_key,
                app_secret,
                endpoint=endpoint,
                algorithm=algorithm,
                timeout=timeout,
                wait_for_rate_limit=False,
                clock=clock,
                limiters=(storage.ledger.limiter("create"), storage.ledger.limiter("check")),
            )
            account = Account(
                client, storage, app_key_hint=mask_token(app_key), poll_interval=poll_interval
            )
            _accounts[key] = account
        account.users += 1
        return account


def release_account(account: Account) -> None:
    """Drop one user of ``account``; the last one closes it."""
    with _accounts_lock:
        account.users -= 1
        if account.users > 0:
            return
        for key, value in list(_accounts.items()):
            if value is account:
                del _accounts[key]
    account.close()
