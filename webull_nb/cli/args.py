"""The ``webull-nb`` command line: its parser, its exit codes, and its flags said back.

Exit codes (stable, for scripts): 0 the token is NORMAL (or ``forget`` succeeded), 1 an error
(a store that cannot be reached among them), 2 action needed (no token, PENDING, EXPIRED,
INVALID), 64 a usage error (a bad flag, or a bad setting such as ``WEBULL_ENVIRONMENT=staging``
or a ``WEBULL_NB_STORE`` that is no store), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import math
import re
import shlex
import sys
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

from webull_nb.core import env
from webull_nb.core.errors import WebullError
from webull_nb.core.status import VERIFICATION_WINDOW
from webull_nb.shared.redisstore.connect import STORE_FORMS, is_store_choice

__all__ = [
    "DEFAULT_WAIT",
    "EXIT_ACTION",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ArgumentParser",
    "BadSetting",
    "NotADirectoryFlag",
    "add_token_parser",
    "command_line",
    "require_directory",
    "require_store",
    "shown_store",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_ACTION = 2
EXIT_USAGE = 64  # sysexits.h EX_USAGE: argparse's own 2 would read as "action needed"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
#: ``create --wait``: the whole approval window, so one command sees the token through.
DEFAULT_WAIT = VERIFICATION_WINDOW

_ACTIONS = {
    "status": "show the stored token (no network call)",
    "create": "create a token (or join the one waiting for approval) and wait for NORMAL",
    "check": "ask Webull for the stored token's current status",
    "export": "copy the NORMAL token into another token dir, in the SDK's token.txt format",
    "forget": "delete the stored token here (Webull has no revoke call)",
}

# Flags a printed "run this again" command repeats: without them a pasted hint would talk to
# another token directory, or to the real service instead of a simulator. (flag, args name)
_REPEATED_FLAGS = (
    ("--region", "region"),
    ("--env", "environment"),
    ("--api", "api"),
    ("--endpoint", "endpoint"),
    ("--token-dir", "token_dir"),
    ("--store", "store"),
)


class ArgumentParser(argparse.ArgumentParser):
    """An ``argparse`` parser whose usage errors exit 64 (EX_USAGE) instead of 2.

    The ``token`` actions use 2 for "action needed", so a script must be able to tell a typo
    from a token that waits for approval.
    """

    def error(self, message: str) -> NoReturn:
        """Print the usage and the problem on stderr, then exit 64."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class NotADirectoryFlag(WebullError):
    """A directory flag names something that exists and is not a directory."""


class BadSetting(WebullError):
    """An environment variable holds a value no flag would accept (a usage error, exit 64)."""


def require_store() -> None:
    """Refuse a ``WEBULL_NB_STORE`` that is neither a Redis URL nor ``files``, before any work."""
    value = env.get(env.STORE)
    if value is not None and not is_store_choice(value):
        raise BadSetting(f"{env.STORE} is not a store: {STORE_FORMS}")


def shown_store(url: str) -> str:
    """``url`` as a printed command repeats it: a password in it becomes ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user = parts.username or ""
        host = netloc.rsplit("@", 1)[1]
        netloc = f"{user}:***@{host}"
    # redis-py also takes the password as a query parameter.
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def require_directory(path: Path, what: str) -> None:
    """Refuse a path that exists but is not a directory, before anything is written there."""
    if path.exists() and not path.is_dir():
        raise NotADirectoryFlag(f"{what} takes a directory, and {path} is not one (it is a file)")


def _seconds(text: str) -> float:
    """Parse ``--wait``: a finite number of seconds, 0 or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds, 0 or more")
    return value


def _directory(text: str) -> str:
    """Parse a directory flag: an empty path would silently mean the current directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path is not a directory; name one")
    return text


def _store(text: str) -> str:
    """Parse ``--store``: a Redis URL, or ``files`` for token directories."""
    if not is_store_choice(text):
        raise argparse.ArgumentTypeError(f"not a store: {STORE_FORMS}")
    return text.strip()


def _common_flags() -> argparse.ArgumentParser:
    """The flags every ``token`` action takes: which account, where its token lives, --json."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--region", help="Webull region (default $WEBULL_REGION or us)")
    common.add_argument(
        "--env",
        dest="environment",
        choices=("prod", "uat"),
        help="environment (default $WEBULL_ENVIRONMENT or prod)",
    )
    common.add_argument("--api", choices=("v2", "v3"), help="token API flavour (default v2)")
    common.add_argument(
        "--endpoint", metavar="URL", help="base URL, e.g. a local simulator http://127.0.0.1:8123"
    )
    common.add_argument(
        "--token-dir",
        metavar="DIR",
        type=_directory,
        help="token directory (default $WEBULL_OPENAPI_TOKEN_DIR, else one per user and key)",
    )
    common.add_argument(
        "--store",
        metavar="URL",
        type=_store,
        help="share the token through Redis, e.g. redis://host:6379/0 (default $WEBULL_NB_STORE, "
        "else the token directory); a password is better kept in $WEBULL_NB_STORE, out of "
        "shell history",
    )
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return common


def add_token_parser(commands: Any) -> None:
    """Register ``token`` and its actions on the ``webull-nb`` subcommand parsers."""
    common = _common_flags()
    token = commands.add_parser(
        "token",
        help="create, check and export the access token from a terminal",
        description="Credentials come from WEBULL_APP_KEY and WEBULL_APP_SECRET, or a prompt "
        "on a terminal (never a flag: it would land in shell history). Exit codes: "
        f"{EXIT_OK} NORMAL, {EXIT_ERROR} error, {EXIT_ACTION} action needed (no token, "
        f"PENDING, EXPIRED, INVALID), {EXIT_USAGE} usage error, {EXIT_INTERRUPTED} interrupted.",
    )
    actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    parsers = {
        name: actions.add_parser(name, parents=[common], help=text, description=text)
        for name, text in _ACTIONS.items()
    }
    parsers["create"].add_argument(
        "--wait",
        type=_seconds,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"wait this long for the approval (default {DEFAULT_WAIT:.0f}; 0: do not wait)",
    )
    parsers["export"].add_argument(
        "--to",
        required=True,
        type=_directory,
        metavar="DIR",
        help="target token dir (the SDK's WEBULL_OPENAPI_TOKEN_DIR); it is made private (0700)",
    )
    parsers["export"].add_argument(
        "--parents",
        action="store_true",
        help="create DIR's missing parent directories (without it a missing parent is refused, "
        "to catch typos)",
    )
    parsers["export"].add_argument(
        "--force", action="store_true", help="replace a different NORMAL token in DIR"
    )


def command_line(args: argparse.Namespace, action: str, *extra: str) -> str:
    """Return ``webull-nb token ACTION ...`` with the flags of this run that pick the account.

    Every hint that says "run ... again" is built here, quoted for a POSIX shell, so that it
    can be pasted as printed.
    """
    words = ["webull-nb", "token", action, *extra]
    for flag, name in _REPEATED_FLAGS:
        value = getattr(args, name, None)
        if value:
            words += [flag, shown_store(value) if flag == "--store" else str(value)]
    return shlex.join(words)
