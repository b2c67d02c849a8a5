"""Every sentence a user reads about a token's status, written once for every surface.

A surface (code, the panel, a terminal, the SDK bridge) differs only in how it says to act:
"click *Create token*", "run `webull-nb token create`", "call `session.create_token()`".
It passes those words as ``Actions``; the sentences around them live here. Text may carry
two light marks, ``*emphasis*`` and ```code```: ``plain()`` drops them for a terminal or an
exception, ``html()`` renders them for the panel.
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass
from datetime import datetime

from webull_nb.core.status import IDLE_LIFETIME, IDLE_WARNING_DAYS, VERIFICATION_WINDOW
from webull_nb.core.timefmt import countdown, utc_text, within

__all__ = [
    "BADGE",
    "CODE",
    "EXPIRED_UNCONFIRMED",
    "NEUTRAL",
    "PANEL",
    "PHONE_STEPS",
    "SDK",
    "UAT_NOTE",
    "Actions",
    "advice",
    "html",
    "idle_passed",
    "meaning",
    "not_usable",
    "plain",
    "status_line",
    "terminal",
]

_MINUTES = f"{VERIFICATION_WINDOW / 60:.0f}"
_IDLE = f"{IDLE_LIFETIME.days} days"


@dataclass(frozen=True)
class Actions:
    """How one surface says to act: create a token, and wait for its approval."""

    #: An imperative, lower case: "click *Create token*".
    create: str
    #: What waiting looks like there: "this panel turns green by itself".
    wait: str


#: Python code in a cell or a script.
CODE = Actions(
    create="call `session.create_token()`",
    wait="`session.wait()` blocks until then",
)
#: Any view: the account's own words, shown by the panel, the terminal and code alike.
NEUTRAL = Actions(create="create a new token", wait="it turns NORMAL once approved")
#: The token panel.
PANEL = Actions(create="click *Create token*", wait="this panel turns green by itself")
#: The official SDK's clients, built on our token.
SDK = Actions(
    create="click *Create token* in the panel (or run `webull-nb token create`)",
    wait="the panel shows the time left, and `session.wait()` blocks until then",
)


def terminal(create_command: str, wait_command: str) -> Actions:
    """The actions of a terminal, as the exact commands of this run."""
    return Actions(
        create=f"run `{create_command}`",
        wait=f"to wait for it here, run `{wait_command}` (it joins this token: no new SMS)",
    )


#: The badge: the status in a few words (ERROR: a failure left no token at all).
BADGE = {
    "NONE": "NO TOKEN",
    "PENDING": "PENDING: approve it in the Webull App",
    "NORMAL": "NORMAL: ready",
    "EXPIRED": "EXPIRED: not approved in time",
    "INVALID": "INVALID: create a new token",
    "ERROR": "ERROR",
}

_MEANING = {
    "NONE": "there is no access token yet",
    "PENDING": "the access token waits for approval: approve it in the Webull App",
    "NORMAL": "the access token is approved: requests can use it",
    "EXPIRED": "the access token expired before it was approved",
    "INVALID": f"the access token is no longer valid (unused for {_IDLE}, or replaced)",
}

#: What to do on the phone while a token is PENDING.
PHONE_STEPS = (
    "Open the *Webull App* on the phone of this account and approve the prompt.",
    "No prompt? In the app: *Menu → Messages → OpenAPI Notifications*, open the latest "
    "message, tap *Check Now*, enter the *SMS code* and tap *Confirm*.",
    "Keep the Webull App up to date; an old version may not show the prompt.",
)

#: Test (UAT) tokens skip the phone.
UAT_NOTE = "Test (UAT) tokens need no verification: they are NORMAL at once."


def meaning(status: str) -> str:
    """What a status means, as a clause in lower case."""
    return _MEANING.get(status, f"the access token is {status}")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def not_usable(status: str, actions: Actions, seconds_left: float | None = None) -> str:
    """Why a token in this status cannot sign a request, and the way on (one clause)."""
    if status == "PENDING":
        left = f" ({countdown(seconds_left)} left)" if seconds_left is not None else ""
        return f"{meaning(status)}{left}; {actions.wait}"
    if status == "NONE":
        return f"{meaning(status)}: {actions.create} and approve it in the Webull App"
    if status in ("EXPIRED", "INVALID"):
        return f"{meaning(status)}: {actions.create} (a new SMS)"
    return meaning(status)


#: A PENDING token whose window passed while the service could not be asked.
EXPIRED_UNCONFIRMED = (
    "the verification window passed and the service could not be reached to confirm it: "
    "create a new token once it can be"
)


def status_line(
    status: str,
    seconds_left: float | None = None,
    token_hint: str = "",
    idle_days_left: float | None = None,
    error: str = "",
) -> str:
    """The state in one line, as a terminal shows it."""
    line = f"Webull token: {status}"
    if seconds_left is not None:
        line += f" | {countdown(seconds_left)} left to approve it in the Webull App"
    elif status == "NORMAL" and token_hint:
        line += f" | {token_hint}"
        if idle_days_left is not None:
            line += f" | valid {idle_days_left:.1f} more days if unused"
            if idle_days_left < IDLE_WARNING_DAYS:
                line += " (use it soon, or it becomes INVALID)"
    if error:
        line += f" | {error}"
    return line


def idle_passed(until: datetime) -> str:
    """A stored NORMAL token whose idle deadline passed (this clock's verdict, to confirm)."""
    return (
        f"the stored token was valid until {utc_text(until)} if unused, and that has "
        f"passed: Webull drops tokens unused for {_IDLE}. Create a new one"
    )


def advice(status: str, actions: Actions, seconds_left: float | None = None) -> str:
    """What the user should do now, in whole sentences ("" when nothing is needed)."""
    if status == "NONE":
        return (
            f"{_sentence(meaning(status))}. {_sentence(actions.create)}: Webull texts a code to "
            f"the phone of this account, and the token must then be approved in the Webull App "
            f"within {_MINUTES} minutes."
        )
    if status == "PENDING":
        return (
            f"Webull has sent an SMS code: approve the token in the Webull App"
            f"{within(seconds_left)}. {_sentence(actions.wait)}."
        )
    if status == "EXPIRED":
        return (
            "The token EXPIRED: it was not approved in the Webull App within its "
            f"{_MINUTES}-minute window, and can no longer be. {_sentence(actions.create)} "
            "for a new one (a new SMS)."
        )
    if status == "INVALID":
        return (
            f"The token is INVALID: Webull no longer accepts it (unused for {_IDLE}, or "
            f"replaced). {_sentence(actions.create)} for a new one (a new SMS)."
        )
    return ""


_MARKS = re.compile(r"\*([^*]+)\*|`([^`]+)`")


def plain(text: str) -> str:
    """The text without its marks, for a terminal, a log line or an exception."""
    return _MARKS.sub(lambda m: m[1] or m[2], text)


def html(text: str) -> str:
    """The text as escaped HTML: ``*x*`` bold, ```x``` code."""

    def mark(match: re.Match[str]) -> str:
        if match[1] is not None:
            return f"<b>{_html.escape(match[1])}</b>"
        return f"<code>{_html.escape(match[2])}</code>"

    parts, last = [], 0
    for match in _MARKS.finditer(text):
        parts += [_html.escape(text[last : match.start()]), mark(match)]
        last = match.end()
    return "".join([*parts, _html.escape(text[last:])])


# --- terminal ---------------------------------------------------------------------------------
# What ``webull-nb token`` says around a token it waits for; its commands come as ``Actions``
# from ``terminal()``.

__all__ += ["awaiting", "console", "interrupted", "still_pending", "ticker"]


def console(text: str) -> str:
    """The text for a terminal: emphasis dropped, code kept in backticks.

    A command may hold quoted paths with spaces; the backticks show where it ends, so it can
    be pasted as printed.
    """
    return _MARKS.sub(lambda m: m[1] if m[1] is not None else m[0], text)


def awaiting(token_hint: str, joined: bool, seconds_left: float | None) -> str:
    """A token now waits for approval: a new SMS or a joined token, then the phone's steps."""
    opening = (
        f"Joined token {token_hint}, already waiting for approval (no new SMS)"
        if joined
        else f"Webull has sent an SMS code to the phone of this account for token {token_hint}"
    )
    steps = "".join(f"\n  - {step}" for step in PHONE_STEPS)
    return f"{opening}. Approve it in the Webull App{within(seconds_left)}:{steps}"


def _waiting(seconds_left: float | None) -> str:
    return f"waiting for approval in the Webull App{within(seconds_left)}"


def ticker(status: str, seconds_left: float | None) -> str:
    """The one line redrawn every second while a terminal waits for the approval."""
    if seconds_left is None:
        return f"the token is {status}"
    return f"{_waiting(seconds_left)} (Ctrl-C stops waiting)"


def still_pending(actions: Actions, seconds_left: float | None) -> str:
    """The wait ended and the token still awaits approval."""
    return f"Still {_waiting(seconds_left)}. {_sentence(actions.wait)}."


def interrupted(status: str, token_hint: str, actions: Actions, seconds_left: float | None) -> str:
    """Where a Ctrl-C left the token: this process stops, the token stays as it is."""
    if status == "PENDING":
        return (
            f"Interrupted: this command stops checking, and the token {token_hint} stays "
            f"PENDING: it can still be approved in the Webull App{within(seconds_left)}. "
            f"{_sentence(actions.wait)}."
        )
    return f"Interrupted; the token is {status}."


# --- panel


def uat_advice(status: str, actions: Actions) -> str:
    """What to do with a test (UAT) token: it skips the phone, so only create it if needed."""
    return UAT_NOTE if status == "NORMAL" else f"{UAT_NOTE} {_sentence(actions.create)}."


def held(hint: str, valid_until: str | None, *, restored: bool = False) -> str:
    """What a NORMAL token is: its masked form, and until when it stays valid if unused."""
    where = " (restored from the token store)" if restored else ""
    until = (
        f"valid until about *{valid_until}* if unused ({_IDLE} after last use)"
        if valid_until
        else "valid"
    )
    return f"Token `{hint}`{where}, {until}."


def idle_warning(left: str) -> str:
    """Warn that a NORMAL token goes INVALID soon if unused (``left``: "36 h", "3 days")."""
    return (
        f"{left} left on the {IDLE_LIFETIME.days}-day idle clock: use the token "
        "(any signed request) to keep it valid."
    )


__all__ += ["held", "idle_warning", "uat_advice"]
