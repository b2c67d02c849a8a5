"""The ``webull-nb`` command (``webull_nb.cli.main:main``): demo, token and classroom."""

from __future__ import annotations

from webull_nb.cli import classroom, token
from webull_nb.cli.args import EXIT_INTERRUPTED, ArgumentParser, add_token_parser
from webull_nb.cli.demo import add_demo_parser, demo

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``webull-nb`` console script."""
    from webull_nb import __version__

    # Usage errors exit 64, not argparse's 2, which `webull-nb token` uses for "action needed".
    parser = ArgumentParser(prog="webull-nb")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    add_demo_parser(commands)
    add_token_parser(commands)
    classroom.add_classroom_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "classroom":
        return classroom.run(args)
    if args.command == "token":
        try:
            return token.run(args)
        except KeyboardInterrupt:  # a Ctrl-C in the last instant of cleanup: no traceback
            return EXIT_INTERRUPTED
    return demo(args.headless)
