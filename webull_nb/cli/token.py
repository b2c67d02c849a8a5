"""``webull-nb token ...``: the token flow from a terminal, for servers and SSH sessions.

Built on ``Session``'s public API, so a terminal and a notebook kernel of the same account
share one token store and join one PENDING token rather than send two SMS. The exit codes
are in :mod:`webull_nb.cli.args`; what is printed where, in :mod:`webull_nb.cli.report`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from webull_nb.cli.args import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    BadSetting,
    NotADirectoryFlag,
    require_directory,
)
from webull_nb.cli.connect import open_session
from webull_nb.cli.interrupt import one_interrupt
from webull_nb.cli.report import actions, advise, facts, report, say
from webull_nb.cli.wait import wait_for_approval
from webull_nb.core import env, messages
from webull_nb.core.errors import AuthenticationError, EndpointError, WebullError
from webull_nb.core.secrets import mask_token
from webull_nb.core.status import IDLE_LIFETIME

if TYPE_CHECKING:
    from collections.abc import Callable

    from webull_nb.session.session import Session

__all__ = ["run"]


def _status(session: Session, args: argparse.Namespace) -> int:
    if session.error:
        say(f"note: {session.error}")
    advise(session, args)
    return report(session, args)


def _create(session: Session, args: argparse.Namespace) -> int:
    before = session.token_hint if session.status == "PENDING" else None
    status = session.create_token()
    if status == "PENDING":
        joined = before is not None and before == session.token_hint
        say(messages.console(messages.awaiting(session.token_hint, joined, session.seconds_left())))
        status = wait_for_approval(session, args.wait)
        if status == "PENDING":
            text = messages.still_pending(actions(args), session.seconds_left())
            say(messages.console(text))
    if session.error:
        # Whatever the status, a problem the session saw (a token it could not store, a
        # budget no longer shared) is said here: the terminal has no panel to show it.
        say(f"note: {session.error}")
    if status in ("EXPIRED", "INVALID"):
        advise(session, args)
    return report(session, args)


def _check(session: Session, args: argparse.Namespace) -> int:
    if session.status != "NONE":
        session.check_token(wait=True)
    if session.status != "NORMAL":
        advise(session, args)
    return report(session, args)


def _export_target(args: argparse.Namespace) -> Path:
    """Where ``export --to`` writes, refusing a file, and a missing parent unless --parents."""
    target = Path(args.to).expanduser().absolute()
    require_directory(target, "--to")
    parent = target.parent
    if not target.exists() and not parent.is_dir():
        if parent.exists():
            raise NotADirectoryFlag(f"--to {args.to}: {parent} is not a directory")
        if not args.parents:
            raise NotADirectoryFlag(
                f"--to {args.to}: the parent directory {parent} does not exist. Check the path "
                "for a typo, or add --parents to create the missing directories."
            )
        parent.mkdir(parents=True, exist_ok=True)
    return target


def _export(session: Session, args: argparse.Namespace) -> int:
    from webull_nb.shared.files.store import TokenStore

    target_dir = _export_target(args)
    store = session.store
    stored = store.load() if store is not None else None
    if store is None or stored is None or session.status != "NORMAL" or stored.status != "NORMAL":
        say(
            f"Nothing to export: the token is {session.status}, and only a NORMAL token helps "
            "a server."
        )
        advise(session, args)
        return report(session, args)
    target = TokenStore(target_dir)
    if target.directory == getattr(store, "directory", None):  # a Redis store has none
        say(f"The token already lives in {target.directory}.")
        return report(session, args, exported_to=str(target.path))
    there = target.load()
    other = there is not None and there.status == "NORMAL" and there.token != stored.token
    if there is not None and other and not args.force:
        say(
            f"{target.path} holds a different NORMAL token ({mask_token(there.token)}): "
            "not replacing it. Pass --force to replace it."
        )
        return EXIT_ERROR
    target.save(stored)
    where = shlex.quote(str(target.directory))
    say(
        f"Exported token {mask_token(stored.token)} to {target.path} (file 0600, dir 0700).\n"
        f"On the server, point the SDK at it: {env.TOKEN_DIR}={where}"
    )
    return report(session, args, exported_to=str(target.path))


def _forget(session: Session, args: argparse.Namespace) -> int:
    hint = session.token_hint
    session.forget_token()
    if hint:
        say(
            f"Forgot token {hint} here. Webull has no revoke call: copies elsewhere stay usable "
            f"until unused for {IDLE_LIFETIME.days} days."
        )
    report(session, args)
    return EXIT_OK  # forgetting succeeded; there is nothing left to act on


_RUNNERS: dict[str, Callable[[Session, argparse.Namespace], int]] = {
    "status": _status,
    "create": _create,
    "check": _check,
    "export": _export,
    "forget": _forget,
}

# What the client's INCORRECT_SIGN message says for Python users; a terminal shows the string.
_ATTRIBUTE_CLAUSE = "; .last_canonical_string shows what was signed"


def _error_text(exc: Exception, session: Session | None, args: argparse.Namespace) -> str:
    """The message for a failure, with what a terminal user can act on."""
    text = str(exc).replace(_ATTRIBUTE_CLAUSE, "")
    if isinstance(exc, EndpointError):
        from_env = [
            f"{name}={os.environ[name]}"
            for name, flag in (
                (env.REGION, args.region),
                (env.ENVIRONMENT, args.environment),
            )
            if flag is None and os.environ.get(name)
        ]
        if from_env:
            text += f" (from the environment: {', '.join(from_env)})"
    if isinstance(exc, AuthenticationError) and exc.error_code == "INCORRECT_SIGN":
        signed = session.last_canonical_string if session is not None else None
        if signed:
            text += (
                "\nWhat was signed, the canonical string (the path, the query and signed "
                "headers as sorted name=value pairs, the body's MD5; never the secret). If "
                "your own signer builds the same string, the secret is what differs:\n  " + signed
            )
    return text


def _exit_code(exc: Exception) -> int:
    # A bad region, environment, API flavour, endpoint or store is a usage error wherever it
    # came from (a flag, WEBULL_ENVIRONMENT or WEBULL_NB_STORE): nothing was attempted.
    return EXIT_USAGE if isinstance(exc, (EndpointError, BadSetting)) else EXIT_ERROR


def _interrupted(session: Session | None, args: argparse.Namespace) -> None:
    """Say truthfully where a Ctrl-C left the token: this process stops, the token stays."""
    if session is None:
        say("interrupted")
        return
    text = messages.interrupted(
        session.status, session.token_hint, actions(args), session.seconds_left()
    )
    say("\n" + messages.console(text))  # after the countdown line
    if args.json:
        print(json.dumps({**facts(session), "error": "interrupted"}), flush=True)


def run(args: argparse.Namespace) -> int:
    """Run one ``webull-nb token`` action; return the process exit code."""
    session = None
    with one_interrupt() as cleanup_only:
        try:
            try:
                session = open_session(args)
                return _RUNNERS[args.action](session, args)
            except (WebullError, ValueError, OSError) as exc:
                cleanup_only[0] = True
                say(f"webull-nb token {args.action}: {_error_text(exc, session, args)}")
                if args.json:
                    result = facts(session) if session is not None else {"status": None}
                    print(json.dumps({**result, "error": str(exc)}), flush=True)
                return _exit_code(exc)
        except KeyboardInterrupt:  # the first Ctrl-C; later ones are ignored
            _interrupted(session, args)
            return EXIT_INTERRUPTED
        finally:
            cleanup_only[0] = True
            if session is not None:
                session.close()
