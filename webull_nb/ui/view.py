"""The panel's view model: what a Session looks like on screen, as plain data and static HTML.

Pure: it reads a session and returns dicts and strings, so it can be tested, and used by a
front end without widgets, without loading ipywidgets. Every sentence about the token's
status comes from ``webull_nb.core.messages``; the text here is the panel's own (the
credentials form, its buttons and links, the header).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from webull_nb.core import messages
from webull_nb.core.endpoints import API_PROFILES, ENVIRONMENTS, REGIONS
from webull_nb.core.status import IDLE_WARNING_DAYS, VERIFICATION_WINDOW
from webull_nb.core.timefmt import countdown, utc_text

if TYPE_CHECKING:
    from webull_nb.session.session import Session

__all__ = [
    "IDLE_WARNING",
    "WINDOW_SECONDS",
    "badge_state",
    "guidance_html",
    "is_local_endpoint",
    "render_html",
    "token_info_html",
    "view_state",
    "where_text",
]

#: The approval window the countdown bar spans.
WINDOW_SECONDS = int(VERIFICATION_WINDOW)
#: Warn when less than this is left on the idle clock of a NORMAL token.
IDLE_WARNING = timedelta(days=IDLE_WARNING_DAYS)
#: Stands for the time left in the idle warning the browser fills in as the time passes.
IDLE_LEFT = "{left}"

_LOCAL_HOSTS = frozenset({"localhost", "::1"})

# The panel's own words: how to give it credentials, its buttons, a code hint.
_CREDENTIALS = (
    "Enter your app key and secret (from the Webull developer portal), or set "
    "`WEBULL_APP_KEY` and `WEBULL_APP_SECRET` before starting Jupyter."
)
_NO_SMS = "No SMS? *Send a new code*."
_LATER_CELL = 'In a later cell: `webull_nb.current().headers("GET", "/openapi/account/list")`'


def _ms(value: datetime | None) -> float | None:
    return value.timestamp() * 1000 if value is not None else None


def _guide(session: Session) -> str:
    return (
        f'See <a href="{escape(session.guide_url)}" target="_blank" rel="noopener">'
        "Webull's 2FA guide</a>."
    )


def badge_state(session: Session) -> str:
    """Return the badge style: the status, or ERROR when a failure left no token at all."""
    # A caution about the token directory is no failure: the badge stays as it is.
    if session.status == "NONE" and session.error and session.error != session.store_warning:
        return "ERROR"
    return session.status


def _uat(session: Session) -> bool:
    """Whether tokens skip the phone here (UAT), as far as the status shows it."""
    return session.token_check_enabled is False or (
        session.environment == "uat" and session.status in ("NONE", "NORMAL")
    )


def guidance_html(session: Session) -> str:
    """Return what the user should do now, as HTML built from escaped parts.

    It holds no time left: the live view draws the countdown itself, and a moving time here
    would make every publish differ.
    """
    status = session.status
    if not session.has_credentials:
        return messages.html(_CREDENTIALS)
    if _uat(session):
        return messages.html(messages.uat_advice(status, messages.PANEL))
    text = messages.html(messages.advice(status, messages.PANEL))
    if status == "PENDING":
        steps = "".join(f"<li>{messages.html(step)}</li>" for step in messages.PHONE_STEPS)
        return f'{text}<ol class="wnb-steps">{steps}</ol>{messages.html(_NO_SMS)} {_guide(session)}'
    if status == "NONE":
        return f"{text} {_guide(session)}"
    return text


def token_info_html(session: Session) -> str:
    """Return what the panel says about a NORMAL token (else ""): never the full token."""
    if session.status != "NORMAL":
        return ""
    until = session.valid_until()
    held = messages.held(
        session.token_hint,
        utc_text(until) if until is not None else None,
        restored=bool(session.restored),
    )
    return f"{messages.html(held)} {messages.html(_LATER_CELL)}"


def is_local_endpoint(session: Session) -> bool:
    """Return True when the session talks to this machine (a simulator): Webull is never local."""
    host = urlsplit(session.base_url or "").hostname or ""
    return host in _LOCAL_HOSTS or host.startswith("127.")


def where_text(session: Session, *, simulator: bool = False) -> str:
    """Return what the header says the session talks to: a simulator, or environment · region."""
    if simulator or is_local_endpoint(session):
        place = "simulator" + (" · uat" if session.environment == "uat" else "")
    else:
        place = f"{session.environment} · {session.region}"
    return f"{place} · API {session.api}"


def view_state(session: Session, *, simulator: bool = False) -> dict[str, Any]:
    """Return what the panel draws, without the clock: never the secret or a full token."""
    status = session.status
    has_token = status != "NONE"
    wait = session.next_check_in() if has_token and status != "PENDING" else 0.0
    # Whole seconds of the server's clock, so that the observers of one change agree on it.
    next_check = math.ceil(session.now() + wait) * 1000 if wait > 0 else None
    badge = badge_state(session)
    return {
        "status": status,
        "badge": badge,
        "badge_text": messages.BADGE[badge],
        "deadline_ms": _ms(session.deadline) if status == "PENDING" else None,
        "window_s": WINDOW_SECONDS,
        "next_check_ms": next_check,
        "token_hint": session.token_hint if status == "NORMAL" else "",
        "token_info": token_info_html(session),
        "valid_until_ms": _ms(session.valid_until()),
        "idle_warning_ms": IDLE_WARNING.total_seconds() * 1000,
        # Plain text: the browser puts the time left in place of IDLE_LEFT.
        "idle_warning": messages.plain(messages.idle_warning(IDLE_LEFT)),
        "guidance": guidance_html(session),
        "error": session.error,
        "where": where_text(session, simulator=simulator),
        "environment": session.environment,
        "region": session.region,
        "api": session.api,
        "app_key_hint": session.app_key_hint,
        "has_credentials": bool(session.has_credentials),
        "busy": bool(session.busy),
        "choices": {
            "region": list(REGIONS),
            "environment": list(ENVIRONMENTS),
            "api": list(API_PROFILES),
        },
    }


def _idle_warning_html(session: Session) -> str:
    until = session.valid_until()
    if until is None or until.timestamp() - session.now() >= IDLE_WARNING.total_seconds():
        return ""
    # A snapshot cannot know when it is read: it names the threshold, not the hours left.
    warning = messages.idle_warning(f"Under {IDLE_WARNING_DAYS} days")
    return f'<div class="wnb-warning">{messages.html(warning)}</div>'


def render_html(session: Session, *, simulator: bool = False) -> str:
    """Return a static HTML snapshot of the panel, for frontends without widgets."""
    where = where_text(session, simulator=simulator)
    parts = [
        f"<div><b>Webull OpenAPI token</b> <small>({escape(where)})</small></div>",
        '<div role="status" aria-live="polite">'
        f"<b>{escape(messages.BADGE[badge_state(session)])}</b></div>",
    ]
    left = session.seconds_left()
    if left is not None:
        parts.append(f"<div>{countdown(left)} left to approve the token</div>")
    guidance = guidance_html(session)
    parts += [
        f"<div>{guidance}</div>" if guidance else "",
        token_info_html(session),
        _idle_warning_html(session),
    ]
    if session.error:
        parts.append(f'<div role="alert">⚠ {escape(session.error)}</div>')
    body = "".join(f"<div style='margin:4px 0'>{part}</div>" for part in parts if part)
    return f'<div class="wnb-static-panel">{body}</div>'
