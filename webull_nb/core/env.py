"""The environment variables webull-nb reads: every name once, and one way to read them."""

from __future__ import annotations

import os

__all__ = [
    "APP_KEY",
    "APP_SECRET",
    "AUTOPILOT",
    "ENVIRONMENT",
    "REGION",
    "SIMULATOR_URL",
    "STORE",
    "TEACHER_TOKEN",
    "TOKEN_DIR",
    "get",
]

APP_KEY = "WEBULL_APP_KEY"
APP_SECRET = "WEBULL_APP_SECRET"
REGION = "WEBULL_REGION"
ENVIRONMENT = "WEBULL_ENVIRONMENT"
#: The official SDK's variable: both keep their token in the directory it names.
TOKEN_DIR = "WEBULL_OPENAPI_TOKEN_DIR"
#: Where accounts keep their shared state: unset for token directories, or a Redis URL
#: (what a JupyterHub admin sets in ``c.Spawner.environment``).
STORE = "WEBULL_NB_STORE"
#: Set by ``webull-nb demo``: the simulator the quickstart notebook talks to.
SIMULATOR_URL = "WEBULL_NB_SIMULATOR_URL"
#: Set by ``webull-nb demo --headless``: the quickstart approves its token by itself.
AUTOPILOT = "WEBULL_NB_AUTOPILOT"
#: A class server's teacher token when ``--teacher-token`` is not given: unlike a flag, the
#: environment of a process is not shown to other users by ``ps``.
TEACHER_TOKEN = "WEBULL_NB_TEACHER_TOKEN"


def get(name: str) -> str | None:
    """The variable's value without surrounding blanks; None when unset or blank."""
    return os.environ.get(name, "").strip() or None
