"""Run the simulator from a shell: ``python -m webull_nb.simulator --help``.

With ``--students N --roster FILE`` it serves a class (``Classroom``): N accounts, their key
pairs and the teacher token written to a 0600 roster and never printed. ``serve_class(args)``
is that mode for other commands (``webull-nb classroom serve``): build their parser with
``add_server_arguments`` and ``add_class_arguments``.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
from pathlib import Path

from webull_nb.core import env
from webull_nb.core.status import VERIFICATION_WINDOW
from webull_nb.simulator import DEMO_APP_KEY, DEMO_APP_SECRET, Simulator
from webull_nb.simulator.classroom import MAX_STUDENTS, Classroom

__all__ = [
    "add_class_arguments",
    "add_server_arguments",
    "build_parser",
    "is_loopback",
    "main",
    "serve_class",
]

_WILDCARDS = ("", "0.0.0.0", "::")  # noqa: S104 (recognised, not bound)


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m webull_nb.simulator",
        description="Serve a local Webull OpenAPI simulator (token flow, signed requests), "
        "for one account or, with --students, for a class.",
    )
    add_server_arguments(parser)
    parser.add_argument(
        "--app-key", default=None, help=f"app key clients must use (default {DEMO_APP_KEY})"
    )
    parser.add_argument(
        "--app-secret", default=None, help="app secret to verify (default: the demo secret)"
    )
    add_class_arguments(parser)
    return parser


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags of every simulator: address, environment, window, auto-verify, no device."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument("--environment", choices=("prod", "uat"), default="prod")
    parser.add_argument(
        "--verification-window",
        type=float,
        default=VERIFICATION_WINDOW,
        metavar="SECONDS",
        help="how long a PENDING token waits for its SMS code (default %(default).0f)",
    )
    parser.add_argument(
        "--auto-verify-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="verify every new token by itself after this many seconds (for demos)",
    )
    parser.add_argument(
        "--no-device",
        action="store_true",
        help="play an account with no logged-in Webull App: creating a token answers "
        "HTTP 400 NO_AVAILABLE_DEVICE",
    )


def _student_count(text: str) -> int:
    count = int(text)
    if not 1 <= count <= MAX_STUDENTS:
        raise argparse.ArgumentTypeError(f"from 1 to {MAX_STUDENTS}")
    return count


def add_class_arguments(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """Add the class mode's flags (``required``: --students and --roster must be given)."""
    group = parser.add_argument_group("class mode (one account per student)")
    group.add_argument(
        "--students",
        type=_student_count,
        default=None,
        required=required,
        metavar="N",
        help="serve a class of N students (s01, s02, ...), each with a key pair of their own",
    )
    group.add_argument(
        "--roster",
        default=None,
        required=required,
        metavar="FILE",
        help="where to write the roster (JSON, mode 0600): the URL, the teacher token and "
        "every student's key pair",
    )
    group.add_argument(
        "--roster-csv",
        default=None,
        metavar="FILE",
        help="also write student,app_key,app_secret,url rows (mode 0600), for a spreadsheet",
    )
    group.add_argument(
        "--teacher-token",
        default=None,
        metavar="T",
        help="the teacher's bearer token for /_class/ (default: $WEBULL_NB_TEACHER_TOKEN, "
        "else a random one, in the roster); a flag is visible to other users in ps, the "
        "variable is not",
    )
    group.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="the URL students reach, for the roster and snippets (default: the one it "
        "listens on; set it when --host is 0.0.0.0)",
    )


def is_loopback(host: str) -> bool:
    """Return True when ``host`` is reachable only from this machine."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve to anything


def _stop_event() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def serve_class(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Serve a class from parsed flags until ``stop`` is set (None: SIGINT or SIGTERM); exit code.

    The roster is written before the first line (``webull-nb simulator listening on URL``) is
    printed; no secret and not the teacher token is ever printed.
    """
    if not args.students or not args.roster:
        raise ValueError("a class needs --students N and --roster FILE")
    room = Classroom(
        args.students,
        environment=args.environment,
        verification_window=args.verification_window,
        host=args.host,
        port=args.port,
        auto_verify_after=args.auto_verify_after,
        teacher_token=args.teacher_token or env.get(env.TEACHER_TOKEN),
        public_url=args.public_url,
    )
    if args.no_device:
        room.scenario("no_device")
    if stop is None:
        stop = _stop_event()
    with room:
        written = [Path(args.roster)] + ([Path(args.roster_csv)] if args.roster_csv else [])
        try:
            room.write_roster(written[0])
            if args.roster_csv:
                room.write_roster_csv(written[1])
        except OSError as exc:
            print(f"error: cannot write the roster: {exc}", file=sys.stderr, flush=True)
            return 1
        first, last = room.students[0], room.students[-1]
        print(f"webull-nb simulator listening on {room.url}", flush=True)
        print(
            f"class of {len(room.students)} students ({first}..{last}); roster (mode 0600, "
            f"their key pairs and the teacher token): {written[0].resolve()}",
            flush=True,
        )
        if args.roster_csv:
            print(f"roster CSV (mode 0600): {written[1].resolve()}", flush=True)
        if args.host in _WILDCARDS and not args.public_url:
            print(
                f"note: the roster says {room.url}; students on other machines need this "
                "machine's address: pass --public-url http://NAME:PORT",
                flush=True,
            )
        print(f"teacher's view: {room.url}/_class/ (it asks for the teacher token)", flush=True)
        print(f"environment: {room.environment}; stop with Ctrl-C", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM, then exit 0."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.students is not None or args.roster is not None:
        if args.students is None or args.roster is None:
            parser.error("class mode needs both --students N and --roster FILE")
        if args.app_key is not None or args.app_secret is not None:
            parser.error("in class mode each student has a key pair of their own (in the roster)")
        try:
            return serve_class(args)
        except ValueError as exc:  # raised before serving: a flag the class cannot take
            parser.error(str(exc))
    if args.roster_csv or args.teacher_token or args.public_url:
        parser.error("--roster-csv, --teacher-token and --public-url need --students")
    simulator = Simulator(
        args.app_key or DEMO_APP_KEY,
        args.app_secret or DEMO_APP_SECRET,
        environment=args.environment,
        verification_window=args.verification_window,
        host=args.host,
        port=args.port,
        auto_verify_after=args.auto_verify_after,
        no_device=args.no_device,
    )
    if not is_loopback(args.host):
        print(
            f"warning: --host {args.host} exposes the simulator beyond this machine. Its control "
            "plane (/_sim/sms, /_sim/verify) has no authentication: anyone on the network can "
            "read the SMS codes and approve tokens. Use --host 127.0.0.1 unless you mean it.",
            file=sys.stderr,
            flush=True,
        )
    stop = _stop_event()
    with simulator:
        print(f"webull-nb simulator listening on {simulator.url}", flush=True)
        print(f"app key:    {simulator.app_key}", flush=True)
        # The secret is printed on purpose: it is the simulator's own, for local clients.
        print(f"app secret: {simulator.app_secret}", flush=True)
        print(f"environment: {simulator.environment}; stop with Ctrl-C", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
