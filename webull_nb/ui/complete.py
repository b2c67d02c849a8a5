"""Tab completion for ``%webull`` lines: subcommands, then catalog paths, then parameter names.

It is an IPython matcher (API v2), so it answers the kernel's ``complete_request`` too:
JupyterLab, Notebook 7 and terminal IPython all complete the same way.
"""

from __future__ import annotations

import shlex
from typing import Any

from webull_nb.core import catalog

__all__ = ["SUBCOMMANDS", "candidates", "register"]

SUBCOMMANDS = ("get", "post", "endpoints", "help", "log")
_PANEL_OPTIONS = ("--env", "--region", "--api", "--endpoint", "--store", "--simulator")
_CALL_OPTIONS = ("--confirm", "--version")
_MAGIC = ("%webull", "%%webull")


def _words(text: str) -> list[str] | None:
    """The words before the cursor, the last one being completed (None: not a %webull line)."""
    stripped = text.lstrip()
    if not stripped.startswith(_MAGIC):
        return None
    try:
        words = shlex.split(stripped)
    except ValueError:  # an open quote: complete nothing rather than guess
        return None
    if text.endswith((" ", "\t")):
        words.append("")
    return words if words and words[0] in _MAGIC else None


def candidates(text: str) -> tuple[str, list[str]] | None:
    """``(fragment, completions)`` for the text before the cursor, or None if not ours."""
    words = _words(text)
    if words is None or len(words) < 2:
        return None
    word = words[-1]
    if len(words) == 2:
        options = [*SUBCOMMANDS, *_PANEL_OPTIONS]
        return word, [o for o in options if o.startswith(word)]
    command = words[1]
    if command not in ("get", "post", "help"):
        return None
    method = {"get": "GET", "post": "POST"}.get(command)
    if len(words) == 3:
        return word, catalog.paths(method, word)
    entry = catalog.find(method or "GET", words[2]) or catalog.find("POST", words[2])
    if word.startswith("-"):
        return word, [o for o in _CALL_OPTIONS if o.startswith(word)]
    if entry is None or "=" in word:
        return None
    given = {w.split("=", 1)[0].rstrip(":") for w in words[3:-1]}
    names = [n for n in entry.names if n not in given and n.startswith(word)]
    return word, [f"{n}=" for n in names]


def _matcher() -> Any:
    from IPython.core.completer import CompletionContext, SimpleCompletion, context_matcher

    @context_matcher()
    def webull_matcher(context: CompletionContext) -> dict[str, Any]:
        """Complete %webull lines from the endpoint catalog."""
        found = candidates(context.text_until_cursor)
        if found is None:
            return {"completions": [], "suppress": False}
        fragment, texts = found
        if not context.token.endswith(fragment):
            # IPython's splitter cut the word elsewhere ("name=" splits at "="): complete
            # only the part it replaces.
            fragment = context.token
        return {
            "completions": [SimpleCompletion(text, type="webull") for text in texts],
            "matched_fragment": fragment,
            "suppress": bool(texts),
            "ordered": True,
        }

    return webull_matcher


def register(ipython: Any) -> None:
    """Add the matcher to an IPython shell's completer (once)."""
    completer = getattr(ipython, "Completer", None)
    matchers = getattr(completer, "custom_matchers", None)
    if matchers is None:
        return  # an IPython without the v2 matcher API: no completion, the magic still works
    if any(getattr(m, "__qualname__", "").endswith("webull_matcher") for m in matchers):
        return
    matchers.append(_matcher())
