"""Where an app key and secret come from, in one place: given, else the environment, else asked.

The secret is boxed (``Secret``) the moment it is known, so no traceback, repr or log line
of a frame that held it can show it.
"""

from __future__ import annotations

import getpass
import sys

from webull_nb.core import env
from webull_nb.core.errors import CredentialsError
from webull_nb.core.secrets import Secret

__all__ = ["MISSING", "boxed", "find", "prompt"]

#: What to do when no credentials are found, wherever the session is used.
MISSING = (
    f"no Webull app key and secret: pass Session(app_key, app_secret), set the {env.APP_KEY} "
    f"and {env.APP_SECRET} environment variables, or enter them in webull_nb.panel()"
)


def boxed(secret: str | Secret[str] | None) -> Secret[str]:
    """``secret`` in a box, stripped of surrounding blanks (an empty box when missing)."""
    if isinstance(secret, Secret):
        return secret
    return Secret((secret or "").strip())


def find(
    app_key: str | None = None, app_secret: str | Secret[str] | None = None
) -> tuple[str | None, Secret[str]]:
    """(app key, boxed secret): each as given, else from the environment (either may be empty)."""
    secret = boxed(app_secret or env.get(env.APP_SECRET))
    del app_secret
    return (app_key or "").strip() or env.get(env.APP_KEY), secret


def prompt() -> tuple[str, Secret[str]]:
    """(app key, boxed secret): from the environment, else asked on the terminal (stderr)."""
    key, secret = find()
    if key and secret:
        return key, secret
    if not sys.stdin.isatty():
        raise CredentialsError(
            f"no Webull app key and secret: set {env.APP_KEY} and {env.APP_SECRET} "
            "(there is no terminal to ask on)"
        )
    if not key:
        sys.stderr.write("Webull app key: ")
        sys.stderr.flush()
        key = sys.stdin.readline().strip()
    if not secret:
        secret = boxed(getpass.getpass("Webull app secret (not shown): ", stream=sys.stderr))
    if not key or not secret:
        raise CredentialsError("both the app key and the app secret are needed")
    return key, secret
