"""The notebook panel: one anywidget that draws a Session. No HTTP and no token state of its own.

``webull_nb.panel(...)`` calls ``panel()`` below: this module is callable.

What travels to the browser
    Two synced traits, each a dict so that every frontend applies one update atomically
    (marimo applies the traits of one update as separate events, in no fixed order):
    ``state`` holds what the panel draws, and ``phone`` what the simulated phone draws.
    Neither ever holds the app secret or a full token. The browser draws the countdown
    itself from ``deadline_ms`` and ``clock_ms`` (the server's clock, as the kernel
    estimates it, when the state was published), so it keeps moving while the kernel is
    busy, stopped or dead, and sends nothing while it moves. The view asks for a fresh
    ``clock_ms`` when it first renders (a ``hello`` message), as the one in the state may
    be old by then.

What travels back
    Custom messages (``model.send``), never state: ``create``, ``new_code`` (a new SMS while
    PENDING), ``check``, ``forget``, ``credentials`` (app key and secret together; the
    secret is handed to the session and never stored on the widget), ``sms`` (a code typed
    on the simulated phone), ``phone_refresh`` and ``hello``. The kernel answers by
    changing state.

Threads
    * Custom messages arrive on the kernel's main thread; every action runs in a short-lived
      worker thread (inline when ``background`` is off, as in tests), so an HTTP call never
      stalls the kernel's event loop, or a cell awaiting the token.
    * Session observers fire on whichever thread changed the session: the poller, a store
      watcher, a worker, or a cell. Each one only calls ``refresh()``.
    * ``refresh()`` marks the view dirty; one thread at a time (whichever finds no publisher
      running) becomes the publisher and, until nothing is dirty, rebuilds both dicts from the
      session and assigns those that differ. So the widget's traits are written by one
      thread at a time, the last publish always reflects the session's latest state, no
      thread waits for another (the flag lock is held only to flip two booleans), and no lock
      is held while calling into the session or sending a message. Sending from a thread
      other than the main one is safe: ipykernel queues iopub messages to its IO thread, and
      marimo binds a comm to its session's stream when the comm opens.
    * ``close()`` takes no lock: ipywidgets may run it from ``__del__`` on any thread.

The one ipykernel 7.4 limit that remains: the kernel reads a click only while its event
loop runs, so a cell blocked in plain Python (``time.sleep``, a loop) holds clicks back
until it ends; ``await session.wait_until_normal_async()`` does not. The countdown moves
regardless, as the browser draws it.
"""

from __future__ import annotations

import contextlib
import html
import logging
import math
import shutil
import sys
import tempfile
import threading
import types
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import traitlets

from .endpoints import API_PROFILES, ENVIRONMENTS, REGIONS
from .errors import WebullError
from .session import Session
from .status import IDLE_LIFETIME, IDLE_WARNING_DAYS, VERIFICATION_WINDOW

__all__ = ["TokenPanel", "panel", "render_html", "view_state"]

_log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"

#: Service facts the view shows: the 5-minute approval window and the 15-day idle lifetime.
WINDOW_SECONDS = int(VERIFICATION_WINDOW)
IDLE_DAYS = IDLE_LIFETIME.days
#: Warn when less than this is left on the idle clock of a NORMAL token.
IDLE_WARNING = timedelta(days=IDLE_WARNING_DAYS)

_SESSION_TRAITS = (
    "status",
    "deadline",
    "expires",
    "last_used",
    "token_hint",
    "error",
    "busy",
    "has_credentials",
    "app_key_hint",
    "region",
    "environment",
    "api",
    "token_check_enabled",
    "restored",
    "checks_made",
)
# A change in these may change what the simulated phone shows.
_PHONE_TRAITS = frozenset({"status", "token_hint"})

BADGE_TEXT = {
    "NONE": "NO TOKEN",
    "PENDING": "PENDING: approve it in the Webull App",
    "NORMAL": "NORMAL: ready",
    "EXPIRED": "EXPIRED: not approved in time",
    "INVALID": "INVALID: create a new token",
    "ERROR": "ERROR",
}

_PENDING_STEPS = (
    "Open the <b>Webull App</b> on the phone of this account and approve the prompt.",
    "No prompt? In the app: <b>Menu → Messages → OpenAPI Notifications</b>, open the latest "
    "message, tap <b>Check Now</b>, enter the <b>SMS code</b> and tap <b>Confirm</b>.",
    "Keep the Webull App up to date; an old version may not show the prompt.",
)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _ms(value: datetime | None) -> float | None:
    return value.timestamp() * 1000 if value is not None else None


def _when(value: datetime | None) -> str:
    return value.strftime("%d %b %Y %H:%M UTC") if value else "unknown"


def _countdown(seconds: float) -> str:
    whole = max(0, int(seconds + 0.999))
    return f"{whole // 60}:{whole % 60:02d}"


def badge_state(session: Session) -> str:
    """Return the badge style: the status, or ERROR when a failure left no token at all."""
    if session.status == "NONE" and session.error:
        return "ERROR"
    return session.status


def guidance_html(session: Session) -> str:
    """Return what the user should do now, in words (HTML built from escaped parts)."""
    status = session.status
    guide = (
        f'<a href="{_esc(session.guide_url)}" target="_blank" rel="noopener">'
        "Webull's 2FA guide</a>"
    )
    if not session.has_credentials:
        return (
            "Enter your app key and secret (from the Webull developer portal), or set "
            "<code>WEBULL_APP_KEY</code> and <code>WEBULL_APP_SECRET</code> before starting "
            "Jupyter."
        )
    if session.token_check_enabled is False or (
        session.environment == "uat" and status in ("NONE", "NORMAL")
    ):
        note = "Test (UAT) tokens need no verification: they are NORMAL at once."
        return note if status == "NORMAL" else note + " Click <b>Create token</b>."
    if status == "PENDING":
        steps = "".join(f"<li>{step}</li>" for step in _PENDING_STEPS)
        return (
            "<b>Webull has sent an SMS code to your phone.</b> Within 5 minutes:"
            f'<ol class="wnb-steps">{steps}</ol>This panel turns green by itself. '
            f"No SMS? <b>Send a new code</b>. See {guide}."
        )
    if status == "NONE":
        return (
            "Click <b>Create token</b>: Webull texts a code to the phone of your account, "
            f"and you then have 5 minutes to approve the token in the Webull App. See {guide}."
        )
    if status == "EXPIRED":
        return "The 5-minute window passed. Click <b>Create token</b> for a new SMS."
    if status == "INVALID":
        return (
            "This token is no longer valid (unused for 15 days, or replaced). "
            "Click <b>Create token</b> for a new one."
        )
    return ""


def view_state(session: Session) -> dict[str, Any]:
    """Return what the panel draws, without ``clock_ms``: never the secret or a full token."""
    status = session.status
    has_token = status != "NONE"
    wait = session.next_check_in() if has_token and status != "PENDING" else 0.0
    # Whole seconds of the server's clock, so that the observers of one change agree on it.
    next_check = math.ceil(session.now() + wait) * 1000 if wait > 0 else None
    valid_until = session.valid_until()
    return {
        "status": status,
        "badge": badge_state(session),
        "badge_text": BADGE_TEXT[badge_state(session)],
        "deadline_ms": _ms(session.deadline) if status == "PENDING" else None,
        "window_s": WINDOW_SECONDS,
        "next_check_ms": next_check,
        "token_hint": session.token_hint if status == "NORMAL" else "",
        "restored": bool(session.restored),
        "valid_until_ms": _ms(valid_until),
        "idle_days": IDLE_DAYS,
        "idle_warning_ms": IDLE_WARNING.total_seconds() * 1000,
        "guidance": guidance_html(session),
        "error": session.error,
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


def _token_info_html(session: Session) -> str:
    if session.status != "NORMAL":
        return ""
    restored = " (restored from the token store)" if session.restored else ""
    valid_until = session.valid_until()
    warning = ""
    if valid_until is not None:
        left = valid_until.timestamp() - session.now()
        if left < IDLE_WARNING.total_seconds():
            warning = (
                '<div class="wnb-warning">Under 2 days left on the 15-day idle clock: '
                "use the token (any signed request) to keep it valid.</div>"
            )
    return (
        f"Token <code>{_esc(session.token_hint)}</code>{restored}, valid until about "
        f"<b>{_when(valid_until)}</b> if unused (15 days after last use).{warning}"
    )


def render_html(session: Session) -> str:
    """Return a static HTML snapshot of the panel, for frontends without widgets."""
    where = f"{session.environment} · {session.region} · API {session.api}"
    state = badge_state(session)
    parts = [
        f"<div><b>Webull OpenAPI token</b> <small>({_esc(where)})</small></div>",
        f'<div role="status" aria-live="polite"><b>{_esc(BADGE_TEXT[state])}</b></div>',
    ]
    left = session.seconds_left()
    if left is not None:
        parts.append(f"<div>{_countdown(left)} left to approve the token</div>")
    parts += [f"<div>{guidance_html(session)}</div>", _token_info_html(session)]
    if session.error:
        parts.append(f'<div role="alert">⚠ {_esc(session.error)}</div>')
    body = "".join(f"<div style='margin:4px 0'>{part}</div>" for part in parts if part)
    return f'<div class="wnb-static-panel">{body}</div>'


def _stop_observing(obj: Any, handler: Callable[..., Any], names: list[str]) -> None:
    with contextlib.suppress(ValueError):  # already removed
        obj.unobserve(handler, names=names)


class TokenPanel(anywidget.AnyWidget):
    """A live view of one Session (and, with a simulator, its phone); views stay in sync."""

    _esm = STATIC / "panel.js"
    _css = STATIC / "panel.css"
    state = traitlets.Dict().tag(sync=True)
    phone = traitlets.Dict().tag(sync=True)

    #: Run actions in a worker thread (tests switch this off to run them inline).
    background = True

    def __init__(self, session: Session, *, phone: Any = None) -> None:
        super().__init__()
        self.session = session
        self.simulated_phone = phone
        self._flag = threading.Lock()
        self._dirty = self._publishing = self._closed = False
        self._want_clock = self._want_phone = False
        self._shown: dict[str, Any] = {}
        session.observe(self._on_session, names=list(_SESSION_TRAITS))
        self.on_msg(self._on_message)
        self.refresh(phone=True)

    # --- publishing (see the module docstring for the threading rule) --------------------------

    def _on_session(self, change: dict[str, Any]) -> None:
        self.refresh(phone=change["name"] in _PHONE_TRAITS)

    def refresh(self, *, clock: bool = False, phone: bool = False) -> None:
        """Publish the session's state if it changed (``clock``: also a fresh clock)."""
        with self._flag:
            self._dirty = True
            self._want_clock |= clock
            self._want_phone |= phone
            if self._publishing:
                return  # the running publisher sees the dirty flag and publishes again
            self._publishing = True
        while True:
            with self._flag:
                if not self._dirty or self._closed:
                    self._publishing = False
                    return
                self._dirty = False
                clock, self._want_clock = self._want_clock, False
                phone, self._want_phone = self._want_phone, False
            try:
                self._publish(clock, phone)
            except Exception:
                # An observer must never break the session's own work; the view shows the
                # previous state until the next change.
                _log.warning("webull-nb panel: could not publish its state", exc_info=True)

    def _publish(self, clock: bool, phone: bool) -> None:
        shown = view_state(self.session)
        if shown != self._shown or clock:
            self._shown = shown
            self.state = {**shown, "clock_ms": self.session.now() * 1000}
        if phone and self.simulated_phone is not None:
            self.phone = dict(self.simulated_phone.refresh())

    # --- actions -------------------------------------------------------------------------------

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if not isinstance(content, dict) or self._closed:
            return
        action = content.get("action")
        if action == "credentials":
            key, secret = str(content.get("app_key", "")), str(content.get("app_secret", ""))
            choice = {name: str(content.get(name, "")) for name in ("region", "environment", "api")}
            self._run("Using the credentials", lambda: self._use_credentials(key, secret, choice))
        elif action == "sms":
            code = str(content.get("code", ""))
            self._run("Entering the code", lambda: self._sms(code))
        elif action in self._ACTIONS:
            label, method = self._ACTIONS[action]
            self._run(label, getattr(self, method))

    _ACTIONS: ClassVar[dict[str, tuple[str, str]]] = {
        "create": ("Create token", "_create"),
        "new_code": ("Send a new code", "_new_code"),
        "check": ("Check now", "_check"),
        "forget": ("Forget token", "_forget"),
        "phone_refresh": ("Refreshing the phone", "_phone_refresh"),
        "hello": ("Drawing the panel", "_hello"),
    }

    def _run(self, label: str, action: Callable[[], Any]) -> None:
        def work() -> None:
            try:
                action()
            except WebullError as exc:
                if str(exc) not in self.session.error:  # the session may have shown it already
                    self.session.note_error(f"{label} failed: {exc}")
            except Exception as exc:  # never a traceback in the panel
                self.session.note_error(f"{label} failed: {exc}")

        if self.background:
            threading.Thread(target=work, name="webull-nb-panel-action", daemon=True).start()
        else:
            work()

    def _create(self) -> None:
        self.session.create_token()

    def _new_code(self) -> None:
        self.session.create_token(force=True)

    def _check(self) -> None:
        if self.session.status == "PENDING":
            # The poller already uses the whole rate budget while PENDING; a click asks it to
            # check at the earliest moment the limit allows, and never exceeds it.
            self.session.check_soon()
        else:
            self.session.check_token()

    def _forget(self) -> None:
        self.session.forget_token()

    def _hello(self) -> None:
        self.refresh(clock=True, phone=True)

    def _phone_refresh(self) -> None:
        self.refresh(phone=True)

    def _use_credentials(self, key: str, secret: str, choice: dict[str, str]) -> None:
        s = self.session
        s.set_credentials(
            key.strip(),
            secret,
            region=choice["region"] or s.region,
            environment=choice["environment"] or s.environment,
            api=choice["api"] or s.api,
        )

    def _sms(self, code: str) -> None:
        if self.simulated_phone is None:
            return
        self.simulated_phone.submit(code)
        self.refresh(phone=True)  # the publisher alone writes the traits

    # --- lifetime and other frontends ----------------------------------------------------------

    def close(self) -> None:
        """Close this view only: the session and its poller carry on."""
        self._closed = True  # no lock: ipywidgets may call this from __del__ on any thread
        _stop_observing(self.session, self._on_session, list(_SESSION_TRAITS))
        layout = self.__dict__.get("_trait_values", {}).get("layout")
        super().close()
        if layout is not None:
            layout.close()  # its own comm: the second of this panel's two models

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
        data = {
            **data,
            "text/plain": self.session.status_line(),
            "text/html": render_html(self.session),
        }
        return data, metadata

    def __repr__(self) -> str:
        """Show the state as the terminal does."""
        return f"<TokenPanel {self.session.status_line()}>"


def panel(
    session: Session | None = None, *, simulator: Any = None, **session_kwargs: Any
) -> TokenPanel:
    """Return a panel for ``session``, or for a new, activated one built from the kwargs.

    With ``simulator`` (a running ``Simulator`` or its URL) the session talks to it and a
    simulated phone is drawn inside the panel, so the flow runs with no Webull account.
    """
    phone = None
    if simulator is not None:
        from .simulator.phone import SimulatedPhone, simulator_credentials

        if session is None:
            key, secret, url = simulator_credentials(simulator)
            session_kwargs.setdefault("endpoint", url)
            scratch = None
            if not isinstance(simulator, str) and "token_dir" not in session_kwargs:
                # An in-process simulator forgets its tokens when it stops: keep them out
                # of the user's real token store, in a folder that goes with the session.
                scratch = tempfile.mkdtemp(prefix="webull-nb-simulator-tokens-")
                session_kwargs["token_dir"] = scratch
            session = Session(key, secret, **session_kwargs)
            if scratch is not None:
                weakref.finalize(session, shutil.rmtree, scratch, True)
            session.activate()
        phone = SimulatedPhone(simulator, session=session)
    if session is None:
        session = Session(credentials_later=True, **session_kwargs)
        session.activate()
    return TokenPanel(session, phone=phone)


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> TokenPanel:
        return panel(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
