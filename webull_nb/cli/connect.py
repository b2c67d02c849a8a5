"""The session a ``webull-nb token`` action works on: credentials, flags, directory checks.

``--store URL`` (else ``$WEBULL_NB_STORE``, which the session reads itself) picks a Redis store.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from webull_nb.cli.args import require_directory, require_store
from webull_nb.core import env
from webull_nb.core.errors import StoreError

if TYPE_CHECKING:
    from webull_nb.session.session import Session

__all__ = ["open_session"]


def open_session(args: argparse.Namespace) -> Session:
    """Open the session of the account the flags pick, after checking the directory flags.

    A store that cannot be reached raises ``StoreUnavailableError``; a Redis store without
    the ``webull-nb[redis]`` extra a ``StoreError`` naming it (not ``ImportError``), so that
    the terminal prints one line either way.
    """
    from webull_nb.session import credentials
    from webull_nb.session.session import Session

    from_env = env.get(env.TOKEN_DIR)
    if args.token_dir:
        require_directory(Path(args.token_dir).expanduser(), "--token-dir")
    elif from_env:
        require_directory(Path(from_env).expanduser(), env.TOKEN_DIR)
    if args.store is None:
        require_store()  # the flag was checked by the parser
    key, secret = credentials.prompt()
    try:
        return Session(
            key,
            secret,
            region=args.region,
            environment=args.environment,
            api=args.api or "v2",
            endpoint=args.endpoint,
            token_dir=args.token_dir,
            store=args.store,
        )
    except ImportError as exc:
        # A terminal gets one line that names the extra, not a traceback.
        raise StoreError(str(exc)) from None
