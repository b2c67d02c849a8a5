"""The official SDK's clients on a session's token: ``session.sdk_api_client()``.

``webull-openapi-python-sdk`` (an optional extra: ``pip install 'webull-nb[sdk]'``) is
imported only when a bridge is built, so ``import webull_nb`` stays cheap. The
``ApiClient`` returned shares the session's app key, region, endpoint and token directory
(``Storage.sdk_directory``: the token directory itself, or with a Redis store a private local
copy of the NORMAL token), so ``TradeClient(api)`` and ``DataClient(api)`` find the session's
NORMAL token in ``token.txt`` and send no new SMS.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webull_nb.core import messages
from webull_nb.core.errors import StoreError, TokenStateError
from webull_nb.core.secrets import mask_token
from webull_nb.shared.account import Account

if TYPE_CHECKING:
    from webull.core.client import ApiClient

__all__ = [
    "CHECK_DURATION",
    "CHECK_INTERVAL",
    "SDK_EXTRA",
    "UAT_STREAM_HOSTS",
    "sdk_api_client",
]

SDK_EXTRA = "pip install 'webull-nb[sdk]'"
# The SDK polls a PENDING token for its check duration (300 s by default) before failing.
# We refuse non-NORMAL tokens up front, so this only bounds a token that changes state
# between our check and the SDK's: seconds, never a 5-minute frozen cell.
CHECK_DURATION = 5
CHECK_INTERVAL = 1

# The SDK ships production hosts only. Its HTTP calls (trading, market-data snapshots)
# go to the DEFAULT host, which comes from webull_nb.endpoints; these are the hosts of the
# MQTT quotes stream (QUOTES) and the gRPC trade events (EVENTS) in the test environment,
# as Webull's SDK guides list them.
UAT_STREAM_HOSTS: dict[str, tuple[str, str]] = {
    "us": (
        "us-openapi-quotes-api.uat.webullbroker.com",
        "us-openapi-events.uat.webullbroker.com",
    ),
    "hk": ("data-api.sandbox.webull.hk", "events-api.sandbox.webull.hk"),
    "jp": ("data-api.uat.webullbroker.com", "jp-openapi-events.uat.webullbroker.com"),
    "sg": ("data-api.uat.webullbroker.com", "sg-events-api.uat.webullbroker.com"),
    "th": ("data-api.uat.webullbroker.com", "th-events-api.uat.webullbroker.com"),
    "my": ("data-api.uat.webullbroker.com", "my-events-api.uat.webullbroker.com"),
    "uk": ("data-api.uat.webullbroker.com", "uk-events-api.uat.webullbroker.com"),
    "mx": (
        "us-openapi-quotes-api.uat.webullbroker.com",
        "us-openapi-events.uat.webullbroker.com",
    ),
    "br": (
        "us-openapi-quotes-api.uat.webullbroker.com",
        "us-openapi-events.uat.webullbroker.com",
    ),
    "za": ("au-api.uat.webullbroker.com", "au-events-api.uat.webullbroker.com"),
}


def _refuse_unless_normal(account: Account) -> None:
    """Raise TokenStateError unless the SDK would find a NORMAL token (or need none)."""
    status = account.state.status
    # Without token checks (the test environment) the SDK skips its token flow entirely.
    if status == "NORMAL" or not account.token_check():
        return
    reason = messages.plain(messages.not_usable(status, messages.SDK))
    raise TokenStateError(
        f"the official SDK needs a NORMAL token: {reason}; then call "
        "session.sdk_api_client() again (this refuses now rather than let the SDK block "
        "for 5 minutes)"
    )


# --- logging ---------------------------------------------------------------------------------

# JSON or repr key/value pairs whose key names a token or a secret, e.g. "x-access-token": "...".
_SENSITIVE = re.compile(
    r"""(?P<key>["'][\w-]*(?:token|secret)[\w-]*["']\s*:\s*)(?P<q>["'])(?P<value>[^"']+)(?P=q)""",
    re.IGNORECASE,
)
# The SDK warns this each time a client starts and finds token.txt, which with the bridge
# is always: noise that reads like a problem.
_BENIGN = ("storage_token Note: The token file already exists",)


class _ScrubFilter(logging.Filter):
    """Masks tokens and secrets in SDK log records, and drops the SDK's benign notes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place, so handlers after ours (the root's) see it masked."""
        message = record.getMessage()
        if message.startswith(_BENIGN):
            return False
        masked = _SENSITIVE.sub(
            lambda m: f"{m['key']}{m['q']}{mask_token(m['value'])}{m['q']}", message
        )
        record.msg, record.args = masked, None
        return True


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (a kernel swaps it per cell)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always sys.stderr


@functools.cache
def _install_logging() -> None:
    """Send the SDK's WARNING+ records to stderr, masked, once per process."""
    handler = _StderrHandler()
    handler.setLevel(logging.WARNING)
    handler.addFilter(_ScrubFilter())
    handler.setFormatter(logging.Formatter("webull SDK %(levelname)s: %(message)s"))
    logger = logging.getLogger("webull")
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level < logging.WARNING:
        logger.setLevel(logging.WARNING)


# --- the client ------------------------------------------------------------------------------


def _import_sdk() -> Any:
    try:
        from webull.core import client as sdk_client
        from webull.core.common import api_type
        from webull.core.http import protocol_type
    except ImportError as exc:
        raise ImportError(
            f"the official Webull SDK is not installed: {SDK_EXTRA} "
            "(webull-openapi-python-sdk 3.0.x)"
        ) from exc
    return sdk_client, api_type, protocol_type


@functools.cache
def _bridge_class() -> type[ApiClient]:
    sdk_client, _, protocol_type = _import_sdk()

    class SessionApiClient(sdk_client.ApiClient):  # type: ignore[misc, name-defined]
        """The SDK's ApiClient, bound to a webull-nb account's endpoint and token."""

        def __init__(self, account: Account, scheme: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._webull_nb_account = account
            self._webull_nb_protocol = (
                protocol_type.HTTP if scheme == "http" else protocol_type.HTTPS
            )

        def __repr__(self) -> str:
            """Name the account it follows, never the secret or the token."""
            return f"<webull SDK ApiClient for {self._webull_nb_account!r}>"

        def get_response(self, api_request: Any) -> Any:
            """Send one SDK request over this client's protocol (not the process-wide one)."""
            # The SDK's protocol switch is global: flipping it to http for a simulator
            # would send another client's production requests in clear text.
            api_request.set_protocol_type(self._webull_nb_protocol)
            return super().get_response(api_request)

        def get_token_dir(self) -> Any:
            """Return the account's token dir, refusing first if its token is not NORMAL."""
            # The SDK asks for the dir right before its token flow (in TradeClient(...),
            # DataClient(...)): refusing here keeps it from sending an SMS or blocking.
            _refuse_unless_normal(self._webull_nb_account)
            # Asked again each time: a store's local copy must hold today's token, not the
            # one of when this client was built (the SDK would replace a stale one: an SMS).
            self.set_token_dir(str(_sdk_directory(self._webull_nb_account)))
            return super().get_token_dir()

    return SessionApiClient


def _sdk_directory(account: Account) -> Path:
    """The directory whose ``token.txt`` the SDK reads, or ``StoreError`` when there is none."""
    directory = account.storage.sdk_directory()
    if directory is None:
        raise StoreError(
            f"the official SDK keeps its token in a directory, and this account's token "
            f"lives in {account.storage.where}, which offers none: use a token directory or "
            "a Redis store for SDK clients"
        )
    return directory


def sdk_api_client(account: Account) -> ApiClient:
    """Return the official SDK's ``ApiClient`` sharing ``account``'s key, endpoint and token.

    Use it as ``session.sdk_api_client()``; then ``TradeClient(api)`` and
    ``DataClient(api)`` reuse the account's NORMAL token with no new SMS. Raises
    ``TokenStateError`` when the token is not NORMAL, and ``ImportError`` naming the
    ``webull-nb[sdk]`` extra when the SDK is not installed.
    """
    _, api_type, _ = _import_sdk()
    # The SDK reads and writes token.txt itself: it needs a directory (a Redis store writes
    # a private local copy of the NORMAL token there).
    directory = _sdk_directory(account)
    client = account.client
    _refuse_unless_normal(account)
    _install_logging()
    endpoint = client.endpoint
    scheme = endpoint.base_url.split("://", 1)[0]
    api = _bridge_class()(
        account,
        scheme,
        app_key=client.app_key,
        app_secret=client.app_secret.reveal(),  # the SDK keeps it in clear
        region_id=endpoint.region,
        # With 80 (http) or 443 (https) the SDK appends no port: the URL and the signed
        # host are then exactly the endpoint's host[:port].
        port=80 if scheme == "http" else 443,
        token_check_duration_seconds=CHECK_DURATION,
        token_check_interval_seconds=CHECK_INTERVAL,
    )
    # Tells TradeClient/DataClient that logging is set up, so they add no console logger
    # on stdout and no webull_*_sdk.log file in the working directory.
    api._stream_logger_set = True
    api.add_endpoint(endpoint.region, endpoint.host, api_type.DEFAULT)
    if endpoint.environment == "uat" and endpoint.region in UAT_STREAM_HOSTS:
        quotes, events = UAT_STREAM_HOSTS[endpoint.region]
        api.add_endpoint(endpoint.region, quotes, api_type.QUOTES)
        api.add_endpoint(endpoint.region, events, api_type.EVENTS)
    api.set_token_dir(str(directory))
    return api
