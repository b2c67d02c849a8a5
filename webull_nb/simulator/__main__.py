"""Run the simulator from a shell: ``python -m webull_nb.simulator --help``."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading

from webull_nb.core.status import VERIFICATION_WINDOW
from webull_nb.simulator import DEMO_APP_KEY, DEMO_APP_SECRET, Simulator


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m webull_nb.simulator",
        description="Serve a local Webull OpenAPI simulator (token flow, signed requests).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument("--app-key", default=DEMO_APP_KEY, help="app key clients must use")
    parser.add_argument("--app-secret", default=DEMO_APP_SECRET, help="app secret to verify")
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
    return parser


def is_loopback(host: str) -> bool:
    """Return True when ``host`` is reachable only from this machine."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve to anything


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM, then exit 0."""
    args = build_parser().parse_args(argv)
    simulator = Simulator(
        args.app_key,
        args.app_secret,
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
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
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
