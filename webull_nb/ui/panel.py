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
    changing state. Each message is checked first: one of another shape (an unknown action,
    a field that is not text) is ignored with a message in the panel, never a traceback.
    "Send a new code" is ignored while a code is being asked for and ``NEW_CODE_QUIET``
    seconds after, so a burst of clicks sends one SMS.

What is saved in the notebook
    The panel is displayed with a display id; at the end of each cell, while no view has
    been drawn (a headless run), its text/html and text/plain fallback are brought up to date,
    so a notebook run by nbclient saves the final state, not the NO TOKEN of its first display.

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
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import anywidget
import traitlets

from webull_nb.core.endpoints import API_PROFILES, ENVIRONMENTS, REGIONS
from webull_nb.core.errors import WebullError
from webull_nb.core.status import IDLE_LIFETIME, IDLE_WARNING_DAYS, VERIFICATION_WINDOW
from webull_nb.session.session import Session

__all__ = ["TokenPanel", "panel", "render_html", "view_state", "where_text"]

_log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"

#: Service facts the view shows: the 5-minute approval window and the 15-day idle lifetime.
WINDOW_SECONDS = int(VERIFICATION_WINDOW)
IDLE_DAYS = IDLE_LIFETIME.days
#: Warn when less than this is left on the idle clock of a NORMAL token.
IDLE_WARNING = timedelta(days=IDLE_WARNING_DAYS)
#: Seconds after a code was asked for (Create token, Send a new code) during which "Send a
#: new code" is ignored: a double click or an impatient burst must not send several SMS.
NEW_CODE_QUIET = 5.0
_LOCAL_HOSTS = frozenset({"localhost", "::1"})

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
        "new_code_quiet_s": NEW_CODE_QUIET,
        "next_check_ms": next_check,
        "token_hint": session.token_hint if status == "NORMAL" else "",
        "restored": bool(session.restored),
        "valid_until_ms": _ms(valid_until),
        "idle_days": IDLE_DAYS,
        "idle_warning_ms": IDLE_WARNING.total_seconds() * 1000,
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


def render_html(session: Session, *, simulator: bool = False) -> str:
    """Return a static HTML snapshot of the panel, for frontends without widgets."""
    where = where_text(session, simulator=simulator)
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


def _ipython() -> Any:
    """Return the running IPython shell, or None (plain Python, marimo)."""
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None


def _stop_observing(obj: Any, handler: Callable[..., Any], names: list[str]) -> None:
    with contextlib.suppress(ValueError):  # already removed
        obj.unobserve(handler, names=names)


#: Actions that carry fields of their own, checked before they run.
_FORMS = frozenset({"credentials", "sms"})


class _CodeGuard:
    """When a new code may be asked for: not while one is asked for, nor just after."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._quiet_until = -math.inf

    def begin(self, now: float, *, repeat_ok: bool) -> bool:
        """Return whether to go ahead; if so, ``end`` must follow."""
        with self._lock:
            if not repeat_ok and (self._running or now < self._quiet_until):
                return False
            self._running += 1
            return True

    def end(self, now: float) -> None:
        """Note that an ask for a code ended: the quiet time starts now."""
        with self._lock:
            self._running -= 1
            self._quiet_until = now + NEW_CODE_QUIET


# One guard per session: every view of a session counts as one place to click.
_GUARDS: weakref.WeakKeyDictionary[Session, _CodeGuard] = weakref.WeakKeyDictionary()
_GUARDS_LOCK = threading.Lock()


def _guard_of(session: Session) -> _CodeGuard:
    with _GUARDS_LOCK:
        guard = _GUARDS.get(session)
        if guard is None:
            guard = _GUARDS[session] = _CodeGuard()
        return guard


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
        # The static fallback saved in the notebook (see _update_saved_fallback).
        self._display_id = f"webull-nb-panel-{uuid.uuid4().hex}"
        self._displayed: tuple[str, str] | None = None
        self._live = False
        self._after_cell: Callable[..., None] | None = None
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
        shown = view_state(self.session, simulator=self.simulated_phone is not None)
        if shown != self._shown or clock:
            self._shown = shown
            self.state = {**shown, "clock_ms": self.session.now() * 1000}
        if phone and self.simulated_phone is not None:
            self.phone = dict(self.simulated_phone.refresh())

    # --- actions -------------------------------------------------------------------------------

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if self._closed:
            return
        try:
            self._dispatch(content)
        except Exception as exc:  # a message must never end in a traceback in the notebook
            _log.warning("webull-nb panel: could not handle a message", exc_info=True)
            self.session.note_error(f"The panel could not handle a message: {exc}")

    def _dispatch(self, content: Any) -> None:
        """Run the action a view asked for, after checking the message's shape and types."""
        action = content.get("action") if isinstance(content, dict) else None
        if not isinstance(action, str) or (action not in self._ACTIONS and action not in _FORMS):
            self._ignore(content, action)
            return
        if action == "credentials":
            self._credentials_message(content)
        elif action == "sms":
            code = content.get("code")
            if not isinstance(code, str):
                self._ignore(content, action)
                return
            self._run("Entering the code", lambda: self._sms(code))
        elif action == "new_code":
            self._ask_for_a_code("Send a new code", self._new_code, repeat_ok=False)
        elif action == "create":
            self._ask_for_a_code("Create token", self._create, repeat_ok=True)
        else:
            label, method = self._ACTIONS[action]
            self._run(label, getattr(self, method))

    def _ignore(self, content: Any, action: Any) -> None:
        # Names only what kind of message it was: its content could be anything, even a secret.
        if not isinstance(content, dict):
            what = f"a {type(content).__name__}, not an object"
        elif isinstance(action, str) and (action in self._ACTIONS or action in _FORMS):
            what = f"{action!r} with fields of the wrong type"
        elif isinstance(action, str):
            what = f"the unknown action {action[:40]!r}"
        else:
            what = f"an action that is a {type(action).__name__}, not a name"
        self.session.note_error(
            f"The panel ignored a message it does not understand ({what}). If this goes on, "
            "reload the page (the panel's code in the page may be older than the kernel's)."
        )

    def _credentials_message(self, content: dict[str, Any]) -> None:
        key, secret = content.get("app_key"), content.get("app_secret")
        if not isinstance(key, str) or not isinstance(secret, str):
            # Never str(None) == "None" as a key or secret; never the values in the message.
            self.session.note_error(
                "The app key and the app secret must both be text: nothing was changed. "
                "Type them in the form again."
            )
            return
        choice = {name: content.get(name) or "" for name in ("region", "environment", "api")}
        if not all(isinstance(value, str) for value in choice.values()):
            self._ignore(content, "credentials")
            return
        self._run("Using the credentials", lambda: self._use_credentials(key, secret, choice))

    def _ask_for_a_code(self, label: str, action: Callable[[], Any], *, repeat_ok: bool) -> None:
        """Run Create or Send a new code: one new SMS per click burst, whatever the clicks.

        Decided here, on the thread that receives the messages and before any worker starts,
        so that two clicks 100 ms apart cannot both pass. "Send a new code" is ignored while
        a code is being asked for and for ``NEW_CODE_QUIET`` seconds after; Create needs no
        such guard (while a token is PENDING or NORMAL it joins it: no SMS), but it starts
        the quiet time, as a double click on Create lands on "Send a new code".
        """
        guard = _guard_of(self.session)
        if not guard.begin(self._monotonic(), repeat_ok=repeat_ok):
            self.session.note_error(
                f"A new code was just sent; wait for the SMS (it can take a minute) before "
                f"asking for another. Repeated clicks within {NEW_CODE_QUIET:.0f} s are ignored."
            )
            return

        def run() -> None:
            try:
                action()
            finally:
                guard.end(self._monotonic())

        self._run(label, run)

    _ACTIONS: ClassVar[dict[str, tuple[str, str]]] = {
        "create": ("Create token", "_create"),
        "new_code": ("Send a new code", "_new_code"),
        "check": ("Check now", "_check"),
        "forget": ("Forget token", "_forget"),
        "phone_refresh": ("Refreshing the phone", "_phone_refresh"),
        "hello": ("Drawing the panel", "_hello"),
    }

    #: The panel's own clock for its quiet time (tests replace it).
    _monotonic: Callable[[], float] = staticmethod(time.monotonic)

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
        self._live = True  # a view is drawn: it shows the state (see _update_saved_fallback)
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
        self._stop_watching_cells()
        layout = self.__dict__.get("_trait_values", {}).get("layout")
        super().close()
        if layout is not None:
            layout.close()  # its own comm: the second of this panel's two models

    def _fallback(self) -> tuple[str, str]:
        """Return the (text/plain, text/html) that frontends without widgets show."""
        simulator = self.simulated_phone is not None
        return self.session.status_line(), render_html(self.session, simulator=simulator)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
        plain, rich = self._fallback()
        return {**data, "text/plain": plain, "text/html": rich}, metadata

    def _ipython_display_(self) -> None:
        """Show the panel in IPython with a display id, so that its saved fallback can follow."""
        from IPython.display import display

        data, metadata = self._repr_mimebundle_()
        display(data, metadata=metadata, raw=True, display_id=self._display_id)
        self._displayed = (data["text/plain"], data["text/html"])
        self._watch_cells()

    def _watch_cells(self) -> None:
        """After each cell, bring the saved fallback up to date (see _update_saved_fallback)."""
        shell = _ipython()
        if shell is None or self._after_cell is not None:
            return
        ref = weakref.ref(self)

        def after_cell(*_args: Any) -> None:
            panel = ref()
            if panel is not None:
                panel._update_saved_fallback()
            else:  # collected without close(): stop being called
                with contextlib.suppress(ValueError):
                    shell.events.unregister("post_run_cell", after_cell)

        self._after_cell = after_cell
        shell.events.register("post_run_cell", after_cell)

    def _stop_watching_cells(self) -> None:
        after_cell, self._after_cell = self._after_cell, None
        shell = _ipython()
        if after_cell is not None and shell is not None:
            with contextlib.suppress(ValueError):  # already unregistered
                shell.events.unregister("post_run_cell", after_cell)

    def _update_saved_fallback(self) -> None:
        """Replace the panel's saved text/html and text/plain with its current state.

        A notebook run with no view drawn (nbclient, papermill, ``webull-nb demo --headless``,
        a notebook server's "run and save") would otherwise keep the NO TOKEN it showed when
        the cell ran, whatever came later. It runs at the end of each cell, on the kernel's
        main thread, where the update goes out with that cell's messages (a headless runner
        drops messages that belong to no running cell). Once a view has said hello, a
        browser shows the live state, and an update would make it redraw the whole panel
        (losing what the user is typing): then the fallback is left alone.
        """
        if self._closed or self._live or self._displayed is None:
            return
        shown = self._fallback()
        if shown == self._displayed:
            return
        from IPython.display import update_display

        data, metadata = self._repr_mimebundle_()
        update_display(data, metadata=metadata, raw=True, display_id=self._display_id)
        self._displayed = shown

    def __repr__(self) -> str:
        """Show the state as the terminal does."""
        return f"<TokenPanel {self.session.status_line()}>"


_SCRATCH_PREFIX = "webull-nb-simulator-tokens-"


def _scratch_token_dir() -> str:
    """A new scratch token folder, after removing those of processes that are gone.

    A folder goes with its session; but a kernel killed by its front end runs no
    finalizer, so each name carries its process (``PROCESS_TAG`` and pid) and the next
    start removes the folders of processes that no longer exist.
    """
    from webull_nb.shared.host import PROCESS_TAG, process_gone

    base = Path(tempfile.gettempdir())
    mine = f"{_SCRATCH_PREFIX}{PROCESS_TAG}-"
    with contextlib.suppress(OSError):
        for entry in base.iterdir():
            pid_text = entry.name[len(mine) :].split("-", 1)[0]
            if not entry.name.startswith(mine) or not pid_text.isdigit():
                continue
            info = entry.lstat()
            own = stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            if own and process_gone(int(pid_text)):
                shutil.rmtree(entry, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{mine}{os.getpid()}-")


def panel(
    session: Session | None = None, *, simulator: Any = None, **session_kwargs: Any
) -> TokenPanel:
    """Return a panel for ``session``, or for a new, activated one built from the kwargs.

    With ``simulator`` (a running ``Simulator`` or its URL) the session talks to it and a
    simulated phone is drawn inside the panel, so the flow runs with no Webull account.
    """
    phone = None
    if simulator is not None:
        from webull_nb.simulator.phone import SimulatedPhone, simulator_credentials

        if session is None:
            key, secret, url = simulator_credentials(simulator)
            session_kwargs.setdefault("endpoint", url)
            scratch = None
            if not isinstance(simulator, str) and "token_dir" not in session_kwargs:
                # An in-process simulator forgets its tokens when it stops: keep them out
                # of the user's real token store, in a folder that goes with the session.
                scratch = _scratch_token_dir()
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
