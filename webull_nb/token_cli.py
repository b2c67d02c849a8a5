"""``webull-nb token ...``: the token flow from a terminal, for servers and SSH sessions.

Built on ``Session``'s public API, so a terminal and a notebook kernel of the same account
share one token store and join one PENDING token rather than send two SMS. Results go to
stdout (one JSON object with ``--json``); guidance, the countdown and warnings go to stderr.
Exit codes: 0 the token is NORMAL, 2 action needed (no token, PENDING, EXPIRED, INVALID),
1 an error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .errors import CredentialsError, WebullError, mask_token
from .status import IDLE_WARNING_DAYS

if TYPE_CHECKING:
    from .session import Session

__all__ = ["EXIT_ACTION", "EXIT_ERROR", "EXIT_OK", "add_parser", "run"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_ACTION = 2
DEFAULT_WAIT = 300.0

_ACTIONS = {
    "status": "show the stored token (no network call)",
    "create": "create a token (or join the one waiting for approval) and wait for NORMAL",
    "check": "ask Webull for the stored token's current status",
    "export": "copy the NORMAL token into another token dir, in the SDK's token.txt format",
    "forget": "delete the stored token here (Webull has no revoke call)",
}


def add_parser(commands: Any) -> None:
    """Register ``token`` and its actions on the ``webull-nb`` subcommand parsers."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--region", help="Webull region (default $WEBULL_REGION or us)")
    common.add_argument(
        "--env",
        dest="environment",
        choices=("prod", "uat"),
        help="environment (default $WEBULL_ENVIRONMENT or prod)",
    )
    common.add_argument("--api", choices=("v2", "v3"), default="v2", help="token API flavour")
    common.add_argument("--endpoint", metavar="URL", help="base URL, e.g. a local simulator")
    common.add_argument(
        "--token-dir",
        metavar="DIR",
        help="token directory (default $WEBULL_OPENAPI_TOKEN_DIR, else one per user and key)",
    )
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    token = commands.add_parser(
        "token",
        help="create, check and export the access token from a terminal",
        description="Credentials come from WEBULL_APP_KEY and WEBULL_APP_SECRET, or a prompt "
        "on a terminal (never a flag: it would land in shell history). Exit codes: 0 NORMAL, "
        "2 action needed (no token, PENDING, EXPIRED, INVALID), 1 error.",
    )
    actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    parsers = {
        name: actions.add_parser(name, parents=[common], help=text, description=text)
        for name, text in _ACTIONS.items()
    }
    parsers["create"].add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT,
        metavar="SECONDS",
        help=f"wait this long for the approval (default {DEFAULT_WAIT:.0f}; 0: do not wait)",
    )
    parsers["export"].add_argument(
        "--to",
        required=True,
        metavar="DIR",
        help="target token dir (the SDK's WEBULL_OPENAPI_TOKEN_DIR); it is made private (0700)",
    )
    parsers["export"].add_argument(
        "--force", action="store_true", help="replace a different NORMAL token in DIR"
    )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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


def _open_session(args: argparse.Namespace) -> Session:
    from .session import Session

    key, secret = _credentials()
    return Session(
        key,
        secret,
        region=args.region,
        environment=args.environment,
        api=args.api,
        endpoint=args.endpoint,
        token_dir=args.token_dir,
    )


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


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.999))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _utc_text(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _facts(session: Session) -> dict[str, Any]:
    """The state as one JSON-ready object: never the full token."""
    until = session.valid_until()
    store = session.store
    facts: dict[str, Any] = {
        "status": session.status,
        "token": session.token_hint or None,
        "valid_until": until.isoformat() if until else None,
        "token_dir": str(store.directory) if store else None,
    }
    left = session.seconds_left()
    if left is not None:
        facts["seconds_left"] = round(left)
    return facts


def _report(session: Session, args: argparse.Namespace, **extra: Any) -> int:
    """Print the result (stdout), warn about the idle clock (stderr), return the exit code."""
    facts = {**_facts(session), **extra}
    until = session.valid_until()
    days = session.idle_days_left()
    idle_left = days * 86400 if days is not None else None
    if args.json:
        print(json.dumps(facts), flush=True)
    else:
        lines = [f"status:    {facts['status']}"]
        if facts["token"]:
            lines.append(f"token:     {facts['token']}")
        if until is not None and idle_left is not None:
            lines.append(
                f"valid if unused until {_utc_text(until)} ({_span(idle_left)} left; "
                "each use restarts the 15-day clock)"
            )
        if "seconds_left" in facts:
            lines.append(f"approve within {_clock(facts['seconds_left'])} in the Webull App")
        lines.append(f"token dir: {facts['token_dir']}")
        print("\n".join(lines), flush=True)
    if days is not None and idle_left is not None and days < IDLE_WARNING_DAYS:
        _say(
            f"warning: the token goes INVALID if unused for {_span(idle_left)} more: use it "
            "(any API call) before then, or create a new one"
        )
    return EXIT_OK if session.status == "NORMAL" else EXIT_ACTION


def _countdown(session: Session, stop: threading.Event) -> None:
    """Redraw a one-line countdown on stderr every second until ``stop`` is set."""
    while True:
        left = session.seconds_left()
        text = (
            f"waiting for approval in the Webull App: {_clock(left)} left (Ctrl-C stops waiting)"
            if left is not None
            else f"token {session.status}"
        )
        sys.stderr.write("\r\x1b[2K" + text)
        sys.stderr.flush()
        if stop.wait(1.0):
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            return


def _wait(session: Session, timeout: float) -> str:
    """Wait up to ``timeout`` seconds for the PENDING token to settle; return its status."""
    if timeout <= 0 or session.status != "PENDING":
        return session.status
    stop = threading.Event()
    ticker = None
    if sys.stderr.isatty():
        ticker = threading.Thread(target=_countdown, args=(session, stop), daemon=True)
        ticker.start()
    try:
        return session.wait(timeout, progress=False)
    finally:
        stop.set()
        if ticker is not None:
            ticker.join()


def _create(session: Session, args: argparse.Namespace) -> int:
    before = session.token_hint if session.status == "PENDING" else None
    status = session.create_token()
    if status == "PENDING":
        joined = before is not None and before == session.token_hint
        left = session.seconds_left()
        opening = (
            "Joined the token already waiting for approval (no new SMS)"
            if joined
            else "Webull has sent a verification to the phone of this account"
        )
        within = f" within {_clock(left)}" if left is not None else ""
        _say(
            f"{opening}: token {session.token_hint}.\n"
            "On the phone: open the Webull App (latest version, notifications on) and approve "
            f"the prompt{within}."
        )
        status = _wait(session, args.wait)
        if status == "PENDING":
            _say(
                "Still waiting for approval: run `webull-nb token create --wait 300` again to "
                "keep waiting (it joins this token: no new SMS)."
            )
    if status in ("EXPIRED", "INVALID"):
        _say(f"{session.error or 'the token is ' + status}: run `webull-nb token create` again.")
    return _report(session, args)


def _check(session: Session, args: argparse.Namespace) -> int:
    if session.status == "NONE":
        _say("There is no token to check: run `webull-nb token create`.")
        return _report(session, args)
    session.check_token(wait=True)
    return _report(session, args)


def _export(session: Session, args: argparse.Namespace) -> int:
    from .store import TokenStore

    store = session.store
    stored = store.load() if store is not None else None
    if stored is None or session.status != "NORMAL" or stored.status != "NORMAL":
        _say(
            f"Nothing to export: the token is {session.status}, and only a NORMAL token helps "
            "a server. Run `webull-nb token create` first."
        )
        return _report(session, args)
    target = TokenStore(args.to)
    assert store is not None
    if target.directory == store.directory:
        _say(f"The token already lives in {target.directory}.")
        return _report(session, args, exported_to=str(target.path))
    there = target.load()
    other = there is not None and there.status == "NORMAL" and there.token != stored.token
    if other and not args.force:
        assert there is not None
        _say(
            f"{target.path} holds a different NORMAL token ({mask_token(there.token)}): "
            "not replacing it. Pass --force to replace it."
        )
        return EXIT_ERROR
    target.save(stored)
    _say(
        f"Exported token {mask_token(stored.token)} to {target.path} (file 0600, dir 0700).\n"
        f"On the server, point the SDK at it: WEBULL_OPENAPI_TOKEN_DIR={target.directory}"
    )
    return _report(session, args, exported_to=str(target.path))


def _forget(session: Session, args: argparse.Namespace) -> int:
    hint = session.token_hint
    session.forget_token()
    if hint:
        _say(
            f"Forgot token {hint} here. Webull has no revoke call: copies elsewhere stay usable "
            "until unused for 15 days."
        )
    _report(session, args)
    return EXIT_OK  # forgetting succeeded; there is nothing left to act on


_RUNNERS = {
    "status": _report,
    "create": _create,
    "check": _check,
    "export": _export,
    "forget": _forget,
}


def run(args: argparse.Namespace) -> int:
    """Run one ``webull-nb token`` action; return the process exit code."""
    session = None
    try:
        session = _open_session(args)
        return _RUNNERS[args.action](session, args)
    except (WebullError, ValueError, OSError) as exc:
        _say(f"webull-nb token {args.action}: {exc}")
        if args.json:
            facts = _facts(session) if session is not None else {"status": None}
            print(json.dumps({**facts, "error": str(exc)}), flush=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    finally:
        if session is not None:
            session.close()
