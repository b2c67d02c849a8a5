"""What a ``webull-nb token`` action prints: the result on stdout, guidance on stderr.

Results go to stdout (one JSON object with ``--json``); guidance, the countdown and warnings
go to stderr, so a script can read the one and a person the other. Where the token lives is
``token_dir`` (a directory, with ``store`` "files") or ``store`` (a Redis server, as
``describe`` names it: never its password; ``token_dir`` is then None).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from webull_nb.cli.args import DEFAULT_WAIT, EXIT_ACTION, EXIT_OK, command_line
from webull_nb.core import messages
from webull_nb.core.status import IDLE_LIFETIME, IDLE_WARNING_DAYS
from webull_nb.core.timefmt import utc_text, within
from webull_nb.shared.redisstore.connect import describe

if TYPE_CHECKING:
    from webull_nb.session.session import Session

__all__ = ["actions", "advise", "facts", "report", "say"]


def say(message: str) -> None:
    """Write one message for the person at the terminal (stderr)."""
    print(message, file=sys.stderr, flush=True)


def actions(args: argparse.Namespace) -> messages.Actions:
    """How this run says to act: the exact commands, with the flags that pick the account."""
    wait = command_line(args, "create", "--wait", f"{DEFAULT_WAIT:.0f}")
    return messages.terminal(command_line(args, "create"), wait)


def advise(session: Session, args: argparse.Namespace) -> None:
    """Say what the token's status means and the exact command that moves it on."""
    text = messages.advice(session.status, actions(args), session.seconds_left())
    if text:
        say(messages.console(text))


def _span(seconds: float) -> str:
    """Say a duration the way a person would: '14 d 23 h', '5 h 12 min', '3 min'."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _where(session: Session) -> tuple[str | None, str | None]:
    """(token dir, store) of the session's token: a directory and "files", or None and Redis."""
    directory = getattr(session.store, "directory", None)
    if directory is not None:
        return str(directory), "files"
    account = session.account
    url = getattr(account.storage, "url", None) if account is not None else None
    return None, describe(url) if url else None


def facts(session: Session) -> dict[str, Any]:
    """The state as one JSON-ready object: never the full token, never a store's password."""
    until = session.valid_until()
    token_dir, store = _where(session)
    result: dict[str, Any] = {
        "status": session.status,
        "token": session.token_hint or None,
        "valid_until": until.isoformat() if until else None,
        "token_dir": token_dir,
        "store": store,
    }
    left = session.seconds_left()
    if left is not None:
        result["seconds_left"] = round(left)
    return result


def _lines(result: dict[str, Any], until: datetime | None, idle_left: float | None) -> str:
    """The result for a person: one fact a line."""
    lines = [f"status:    {result['status']}"]
    if result["token"]:
        lines.append(f"token:     {result['token']}")
    if until is not None and idle_left is not None:
        lines.append(
            f"valid if unused until {utc_text(until)} ({_span(idle_left)} left; "
            f"each use restarts the {IDLE_LIFETIME.days}-day clock)"
        )
    if "seconds_left" in result:
        lines.append(f"approve{within(result['seconds_left'])} in the Webull App")
    if result["token_dir"] is None and result["store"] is not None:
        lines.append(f"store:     {result['store']}")
    else:
        lines.append(f"token dir: {result['token_dir']}")
    return "\n".join(lines)


def report(session: Session, args: argparse.Namespace, **extra: Any) -> int:
    """Print the result (stdout), warn about the idle clock (stderr), return the exit code."""
    result = {**facts(session), **extra}
    until = session.valid_until()
    days = session.idle_days_left()
    idle_left = days * 86400 if days is not None else None
    if args.json:
        print(json.dumps(result), flush=True)
    else:
        print(_lines(result, until, idle_left), flush=True)
    if days is not None and idle_left is not None and days < IDLE_WARNING_DAYS:
        say(
            f"warning: the token goes INVALID if unused for {_span(idle_left)} more: use it "
            "(any API call) before then, or create a new one"
        )
    return EXIT_OK if session.status == "NORMAL" else EXIT_ACTION
