"""The session a ``webull-nb token`` action works on: credentials, flags, directory checks."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from webull_nb.cli.args import require_directory
from webull_nb.core.errors import CredentialsError

if TYPE_CHECKING:
    from webull_nb.session.session import Session

__all__ = ["open_session"]


def _credentials() -> tuple[str, str]:
    """Return (app key, app secret) from the environment, or asked on the terminal."""
    key = os.environ.get("WEBULL_APP_KEY", "").strip()
    secret = os.environ.get("WEBULL_APP_SECRET", "").strip()
    if key and secret:
        return key, secret
    if not sys.stdin.isatty():
        raise CredentialsError(
            "no Webull app key and secret: set WEBULL_APP_KEY and WEBULL_APP_SECRET "
            "(there is no terminal to ask on)"
        )
    if not key:
        sys.stderr.write("Webull app key: ")
        sys.stderr.flush()
        key = sys.stdin.readline().strip()
    if not secret:
        secret = getpass.getpass("Webull app secret (not shown): ", stream=sys.stderr).strip()
    if not key or not secret:
        raise CredentialsError("both the app key and the app secret are needed")
    return key, secret


def open_session(args: argparse.Namespace) -> Session:
    """Open the session of the account the flags pick, after checking the directory flags."""
    from webull_nb.session.session import Session
    from webull_nb.shared.files.store import TOKEN_DIR_ENV

    if args.token_dir:
        require_directory(Path(args.token_dir).expanduser(), "--token-dir")
    elif os.environ.get(TOKEN_DIR_ENV, "").strip():
        require_directory(Path(os.environ[TOKEN_DIR_ENV].strip()).expanduser(), TOKEN_DIR_ENV)
    key, secret = _credentials()
    return Session(
        key,
        secret,
        region=args.region,
        environment=args.environment,
        api=args.api or "v2",
        endpoint=args.endpoint,
        token_dir=args.token_dir,
    )
