"""The session a ``webull-nb token`` action works on: credentials, flags, directory checks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from webull_nb.cli.args import require_directory
from webull_nb.core import env

if TYPE_CHECKING:
    from webull_nb.session.session import Session

__all__ = ["open_session"]


def open_session(args: argparse.Namespace) -> Session:
    """Open the session of the account the flags pick, after checking the directory flags."""
    from webull_nb.session import credentials
    from webull_nb.session.session import Session

    from_env = env.get(env.TOKEN_DIR)
    if args.token_dir:
        require_directory(Path(args.token_dir).expanduser(), "--token-dir")
    elif from_env:
        require_directory(Path(from_env).expanduser(), env.TOKEN_DIR)
    key, secret = credentials.prompt()
    return Session(
        key,
        secret,
        region=args.region,
        environment=args.environment,
        api=args.api or "v2",
        endpoint=args.endpoint,
        token_dir=args.token_dir,
    )
