"""IPython integration: ``%load_ext webull_nb`` then ``%webull [--env uat] [--region hk]``.

``%webull get PATH ...`` and its siblings explore the API (``explore``), with tab completion
from the endpoint catalog (``complete``).

``--store URL`` keeps the account's token in a shared Redis store (as ``panel(store=...)``);
without it ``$WEBULL_NB_STORE`` decides, else the token directory.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from webull_nb.core import env
from webull_nb.core.endpoints import resolve
from webull_nb.core.errors import EndpointError
from webull_nb.shared.redisstore.connect import STORE_FORMS, is_store_choice
from webull_nb.ui import complete, explore
from webull_nb.ui.complete import SUBCOMMANDS

__all__ = ["load_ipython_extension", "webull_magic"]


USAGE = (
    "usage: %webull [--env prod|uat] [--region REGION] [--api v2|v3] [--endpoint URL] "
    "[--store URL] [--simulator]; %webull get|post|endpoints|help|log ... (%webull help)"
)


class _UsageError(Exception):
    """A bad %webull line: its message is printed as one line, never a traceback."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would print usage and SystemExit
        raise _UsageError(message)


def _store(text: str) -> str:
    """Parse ``--store``: a Redis URL, or ``files`` for token directories."""
    if not is_store_choice(text):
        # The value is not repeated: argparse would quote it, and it may hold a password.
        raise argparse.ArgumentTypeError(f"not a store: {STORE_FORMS}")
    return text.strip()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%webull", add_help=False)
    parser.add_argument("--env", "--environment", dest="environment", default=None)
    parser.add_argument("--region", default=None)
    parser.add_argument("--api", default="v2")
    parser.add_argument("--endpoint", default=None)
    parser.add_argument("--store", type=_store, default=None)
    parser.add_argument(
        "--simulator", action="store_true", help="start an embedded simulator and use it"
    )
    return parser


def webull_magic(line: str = "", cell: str | None = None) -> Any:
    """Show a token panel (``%webull [--env uat] [--store URL] [--simulator]``), or explore
    the API: ``%webull get PATH name=value``, ``post``, ``endpoints``, ``help``, ``log``."""
    first = line.split(None, 1)[0] if line.strip() else ""
    if first in SUBCOMMANDS:
        from IPython.display import display

        return explore.run(line, cell, display)
    if cell is not None:
        print(f"%%webull: the cell form is for a POST body: %%webull post PATH ({USAGE})")
        return None
    # Here, not at the top: loading the extension must not load the widgets.
    from webull_nb.ui.panel import panel

    try:
        args = _parser().parse_args(shlex.split(line))
        # Checked before a simulator or session exists, so a typo costs one line, not a
        # traceback (and no half-started simulator).
        resolve(
            args.region or env.get(env.REGION) or "us",
            args.environment or env.get(env.ENVIRONMENT) or "prod",
            args.api,
            args.endpoint,
        )
    except (_UsageError, EndpointError, ValueError) as exc:
        print(f"%webull: {exc} ({USAGE})")
        return None
    kwargs: dict[str, Any] = {"api": args.api}
    if args.environment:
        kwargs["environment"] = args.environment
    if args.region:
        kwargs["region"] = args.region
    if args.endpoint:
        kwargs["endpoint"] = args.endpoint
    if args.store:
        kwargs["store"] = args.store
    if args.simulator:
        from webull_nb.simulator import Simulator

        environment = args.environment or "prod"
        return panel(simulator=Simulator(environment=environment).start(), **kwargs)
    return panel(**kwargs)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%webull`` (and ``%%webull post``) and its tab completion."""
    ipython.register_magic_function(webull_magic, magic_kind="line_cell", magic_name="webull")
    complete.register(ipython)
