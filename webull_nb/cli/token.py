"""``webull-nb token ...``: the token flow from a terminal, for servers and SSH sessions.

Built on ``Session``'s public API, so a terminal and a notebook kernel of the same account
share one token store and join one PENDING token rather than send two SMS. Results go to
stdout (one JSON object with ``--json``); guidance, the countdown and warnings go to stderr.
Exit codes (stable, for scripts): 0 the token is NORMAL (or ``forget`` succeeded), 1 an error,
2 action needed (no token, PENDING, EXPIRED, INVALID), 64 a usage error (a bad flag, or a bad
setting such as ``WEBULL_ENVIRONMENT=staging``), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import math
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from webull_nb.core.errors import AuthenticationError, CredentialsError, EndpointError, WebullError
from webull_nb.core.secrets import mask_token
from webull_nb.core.status import IDLE_WARNING_DAYS
from webull_nb.core.timefmt import countdown

if TYPE_CHECKING:
    from webull_nb.session.session import Session

__all__ = [
    "EXIT_ACTION",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ArgumentParser",
    "add_parser",
    "command_line",
    "run",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_ACTION = 2
EXIT_USAGE = 64  # sysexits.h EX_USAGE: argparse's own 2 would read as "action needed"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
DEFAULT_WAIT = 300.0

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
    common.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    token = commands.add_parser(
        "token",
        help="create, check and export the access token from a terminal",
        description="Credentials come from WEBULL_APP_KEY and WEBULL_APP_SECRET, or a prompt "
        "on a terminal (never a flag: it would land in shell history). Exit codes: 0 NORMAL, "
        "1 error, 2 action needed (no token, PENDING, EXPIRED, INVALID), 64 usage error, "
        "130 interrupted.",
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
            words += [flag, str(value)]
    return shlex.join(words)


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


class _NotADirectory(WebullError):
    """A directory flag names something that exists and is not a directory."""


def _require_directory(path: Path, what: str) -> None:
    """Refuse a path that exists but is not a directory, before anything is written there."""
    if path.exists() and not path.is_dir():
        raise _NotADirectory(f"{what} takes a directory, and {path} is not one (it is a file)")


def _open_session(args: argparse.Namespace) -> Session:
    from webull_nb.session.session import Session
    from webull_nb.shared.files.store import TOKEN_DIR_ENV

    if args.token_dir:
        _require_directory(Path(args.token_dir).expanduser(), "--token-dir")
    elif os.environ.get(TOKEN_DIR_ENV, "").strip():
        _require_directory(Path(os.environ[TOKEN_DIR_ENV].strip()).expanduser(), TOKEN_DIR_ENV)
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


def _within(session: Session) -> str:
    """' within m:ss' while the token awaits approval, else empty."""
    left = session.seconds_left()
    return f" within {countdown(left)}" if left is not None else ""


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


def _advise(session: Session, args: argparse.Namespace) -> None:
    """Say on stderr what the token's status means and the exact command that moves it on."""
    status = session.status
    create = command_line(args, "create")
    if status == "NONE":
        _say(f"There is no token here yet: run `{create}`.")
    elif status == "PENDING":
        within = _within(session)
        _say(
            f"The token waits for approval in the Webull App{within}. To wait for it here: "
            f"`{command_line(args, 'create', '--wait', '300')}` (it joins this token: no new "
            "SMS)."
        )
    elif status == "EXPIRED":
        _say(
            "The token EXPIRED: it was not approved in the Webull App within its 5-minute "
            f"window, and can no longer be. Run `{create}` for a new one (a new SMS)."
        )
    elif status == "INVALID":
        _say(
            "The token is INVALID: Webull no longer accepts it (unused for 15 days, or "
            f"replaced). Run `{create}` for a new one (a new SMS)."
        )


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
            lines.append(f"approve within {countdown(facts['seconds_left'])} in the Webull App")
        lines.append(f"token dir: {facts['token_dir']}")
        print("\n".join(lines), flush=True)
    if days is not None and idle_left is not None and days < IDLE_WARNING_DAYS:
        _say(
            f"warning: the token goes INVALID if unused for {_span(idle_left)} more: use it "
            "(any API call) before then, or create a new one"
        )
    return EXIT_OK if session.status == "NORMAL" else EXIT_ACTION


def _status(session: Session, args: argparse.Namespace) -> int:
    if session.error:
        _say(f"note: {session.error}")
    _advise(session, args)
    return _report(session, args)


def _countdown(session: Session, stop: threading.Event) -> None:
    """Redraw a one-line countdown on stderr every second until ``stop`` is set."""
    while True:
        left = session.seconds_left()
        text = (
            f"waiting for approval in the Webull App: {countdown(left)} left (Ctrl-C stops waiting)"
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
    """Wait up to ``timeout`` seconds for the PENDING token to settle; return its status.

    Not ``session.wait()``: that one swallows Ctrl-C and says checks go on in the background,
    true in a kernel, but this process exits; here Ctrl-C reaches ``run``, which says so.
    """
    if timeout <= 0 or session.status != "PENDING":
        return session.status
    settled = threading.Event()

    def on_change(change: Any) -> None:
        if session.status != "PENDING":
            settled.set()

    session.observe(on_change, "status")
    stop = threading.Event()
    ticker = None
    if sys.stderr.isatty():
        ticker = threading.Thread(target=_countdown, args=(session, stop), daemon=True)
        ticker.start()
    try:
        end = time.monotonic() + timeout
        while session.status == "PENDING":
            left = end - time.monotonic()
            if left <= 0:
                break
            # Short slices: a long lock wait is not interruptible by Ctrl-C everywhere.
            settled.wait(min(left, 0.5))
        return session.status
    finally:
        session.unobserve(on_change, "status")
        stop.set()
        if ticker is not None:
            ticker.join()


def _create(session: Session, args: argparse.Namespace) -> int:
    before = session.token_hint if session.status == "PENDING" else None
    status = session.create_token()
    if status == "PENDING":
        joined = before is not None and before == session.token_hint
        opening = (
            "Joined the token already waiting for approval (no new SMS)"
            if joined
            else "Webull has sent a verification to the phone of this account"
        )
        within = _within(session)
        _say(
            f"{opening}: token {session.token_hint}.\n"
            "On the phone: open the Webull App (latest version, notifications on) and approve "
            f"the prompt{within}."
        )
        status = _wait(session, args.wait)
        if status == "PENDING":
            again = command_line(args, "create", "--wait", "300")
            _say(
                f"Still waiting for approval: run `{again}` to keep waiting (it joins this "
                "token: no new SMS)."
            )
    if session.error:
        # Whatever the status, a problem the session saw (a token it could not store, a
        # budget no longer shared) is said here: the terminal has no panel to show it.
        _say(f"note: {session.error}")
    if status in ("EXPIRED", "INVALID"):
        _advise(session, args)
    return _report(session, args)


def _check(session: Session, args: argparse.Namespace) -> int:
    if session.status == "NONE":
        _advise(session, args)
        return _report(session, args)
    session.check_token(wait=True)
    if session.status != "NORMAL":
        _advise(session, args)
    return _report(session, args)


def _export_target(args: argparse.Namespace) -> Path:
    """Where ``export --to`` writes, refusing a file, and a missing parent unless --parents."""
    target = Path(args.to).expanduser().absolute()
    _require_directory(target, "--to")
    parent = target.parent
    if not target.exists() and not parent.is_dir():
        if parent.exists():
            raise _NotADirectory(f"--to {args.to}: {parent} is not a directory")
        if not args.parents:
            raise _NotADirectory(
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
    if stored is None or session.status != "NORMAL" or stored.status != "NORMAL":
        _say(
            f"Nothing to export: the token is {session.status}, and only a NORMAL token helps "
            "a server."
        )
        _advise(session, args)
        return _report(session, args)
    target = TokenStore(target_dir)
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
    where = shlex.quote(str(target.directory))
    _say(
        f"Exported token {mask_token(stored.token)} to {target.path} (file 0600, dir 0700).\n"
        f"On the server, point the SDK at it: WEBULL_OPENAPI_TOKEN_DIR={where}"
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
                ("WEBULL_REGION", args.region),
                ("WEBULL_ENVIRONMENT", args.environment),
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
    # A bad region, environment, API flavour or endpoint is a usage error wherever it came
    # from (a flag or WEBULL_ENVIRONMENT): nothing was attempted.
    return EXIT_USAGE if isinstance(exc, EndpointError) else EXIT_ERROR


@contextlib.contextmanager
def _one_interrupt() -> Iterator[list[bool]]:
    """Turn the first Ctrl-C into ``KeyboardInterrupt`` and ignore every later one.

    A second Ctrl-C while the first one is handled (or while the session closes and releases
    its file locks) would otherwise print a traceback from deep inside the cleanup. Yields a
    flag list: set ``[0]`` to True once only cleanup is left, so that a Ctrl-C then is ignored.
    After an interrupt SIGINT stays ignored: the process exits next, and Python would restore
    the default action while it shuts down, so a late press would kill it mid-exit.
    """
    done = [False]
    if threading.current_thread() is not threading.main_thread():
        yield done
        return
    interrupted = []

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if not done[0]:
            done[0] = True
            interrupted.append(signum)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield done
    finally:
        if not interrupted:
            signal.signal(signal.SIGINT, previous)


def _interrupted(session: Session | None, args: argparse.Namespace) -> None:
    """Say truthfully where a Ctrl-C left the token: this process stops, the token stays."""
    if session is None:
        _say("interrupted")
        return
    status = session.status
    if status == "PENDING":
        within = _within(session)
        again = command_line(args, "create", "--wait", "300")
        _say(
            f"\nInterrupted: this command stops checking, and the token {session.token_hint} "
            f"stays PENDING: it can still be approved in the Webull App{within}. To wait for "
            f"it again: `{again}` (it joins this token: no new SMS)."
        )
    else:
        _say(f"\nInterrupted; the token is {status}.")
    if args.json:
        print(json.dumps({**_facts(session), "error": "interrupted"}), flush=True)


def run(args: argparse.Namespace) -> int:
    """Run one ``webull-nb token`` action; return the process exit code."""
    session = None
    with _one_interrupt() as cleanup_only:
        try:
            try:
                session = _open_session(args)
                return _RUNNERS[args.action](session, args)
            except (WebullError, ValueError, OSError) as exc:
                cleanup_only[0] = True
                _say(f"webull-nb token {args.action}: {_error_text(exc, session, args)}")
                if args.json:
                    facts = _facts(session) if session is not None else {"status": None}
                    print(json.dumps({**facts, "error": str(exc)}), flush=True)
                return _exit_code(exc)
        except KeyboardInterrupt:  # the first Ctrl-C; later ones are ignored
            _interrupted(session, args)
            return EXIT_INTERRUPTED
        finally:
            cleanup_only[0] = True
            if session is not None:
                session.close()
