"""``webull-nb classroom serve|snippet``: a class on one simulator, from a terminal.

``serve`` is ``python -m webull_nb.simulator --students N --roster FILE`` under a friendlier
name; ``snippet`` prints what each student pastes, read from the roster (mode 0600).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from webull_nb.cli.args import EXIT_ERROR, EXIT_OK, EXIT_USAGE

__all__ = ["add_classroom_parser", "run"]


def add_classroom_parser(commands: Any) -> None:
    """Register ``classroom`` (``serve``, ``snippet``) on the ``webull-nb`` subcommands."""
    from webull_nb.simulator.__main__ import add_class_arguments, add_server_arguments

    parser = commands.add_parser("classroom", help="serve a class on one simulator")
    actions = parser.add_subparsers(dest="action", required=True)
    serve = actions.add_parser(
        "serve",
        help="serve N students, one simulated account each; write the roster (0600)",
        description="Serve a class: one simulator, an account per student, the teacher's "
        "view at /_class/. The roster (JSON, mode 0600) holds every key pair and the "
        "teacher token; nothing secret is printed.",
    )
    add_server_arguments(serve)
    add_class_arguments(serve, required=True)
    snippet = actions.add_parser("snippet", help="print what a student pastes (from the roster)")
    snippet.add_argument("--roster", required=True, metavar="FILE", help="the class's roster")
    snippet.add_argument(
        "student", nargs="?", default=None, help="one student (s01, ...); default: every one"
    )


def _snippet(roster_path: str, student: str | None) -> int:
    from webull_nb.simulator.classroom import snippet_for

    try:
        roster = json.loads(Path(roster_path).read_text("utf-8"))
        students = roster["students"]
        url = roster["url"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"webull-nb classroom: cannot read the roster {roster_path}: {exc}")
        return EXIT_ERROR
    chosen = [s for s in students if student is None or s.get("student") == student]
    if not chosen:
        names = ", ".join(str(s.get("student")) for s in students)
        print(f"webull-nb classroom: no student {student!r} in the roster (it has {names})")
        return EXIT_USAGE
    for entry in chosen:
        print(f"## {entry['student']}")
        print(snippet_for(url, entry["app_key"], entry["app_secret"]))
        print()
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Run ``webull-nb classroom ACTION``; return the exit code."""
    if args.action == "snippet":
        return _snippet(args.roster, args.student)
    from webull_nb.simulator.__main__ import serve_class

    return serve_class(args)
