"""The notebook panel: an ipywidgets view of a Session. No HTTP and no state of its own.

Every widget value is derived from the session's traits and redrawn when they change; a
single background ticker redraws the countdown. Nothing secret is ever put in a widget
value that the frontend (or a saved notebook's widget state) could keep.

``webull_nb.panel(...)`` calls ``panel()`` below: this module is callable.
"""

from __future__ import annotations

import html
import sys
import tempfile
import threading
import types
import weakref
from collections.abc import Callable
from datetime import datetime
from typing import Any

import ipywidgets as widgets

from ._widgets import close_descendants, dispatch, stop_observing
from .endpoints import API_PROFILES, ENVIRONMENTS, REGIONS
from .errors import WebullError
from .session import VERIFICATION_WINDOW, Session, format_countdown

__all__ = ["TokenPanel", "panel", "render_html"]

TICK = 0.25  # seconds between countdown redraws; a message goes out only when text changes

_CSS = """
<style>
.wnb-panel { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 14px;
  max-width: 760px; font-family: var(--jp-ui-font-family, system-ui, sans-serif); }
.wnb-title { font-weight: 600; font-size: 1.05em; }
.wnb-pill { display: inline-block; padding: 3px 12px; border-radius: 999px;
  font-weight: 700; letter-spacing: .02em; color: #fff; font-size: 0.95em; }
.wnb-NONE { background: #6e7781; } .wnb-PENDING { background: #bf8700; color: #1f2328; }
.wnb-NORMAL { background: #1a7f37; } .wnb-EXPIRED { background: #cf222e; }
.wnb-INVALID { background: #424a53; }
.wnb-ERROR { background: #fff; color: #cf222e; border: 2px solid #cf222e; }
.wnb-bar { height: 8px; background: #eaeef2; border-radius: 4px; overflow: hidden;
  margin-top: 4px; max-width: 420px; }
.wnb-bar > div { height: 100%; background: #bf8700; }
.wnb-big { font-size: 1.6em; font-variant-numeric: tabular-nums; font-weight: 700; }
.wnb-alert { background: #ffebe9; border: 1px solid #cf222e; border-radius: 6px;
  padding: 6px 10px; color: #82071e; }
.wnb-steps li { margin: 2px 0; }
.wnb-code { font-family: var(--jp-code-font-family, monospace); background: #f6f8fa;
  padding: 1px 4px; border-radius: 4px; }
</style>
"""

_BADGE_TEXT = {
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


def _when(value: datetime | None) -> str:
    return value.strftime("%d %b %Y %H:%M UTC") if value else "unknown"


def badge_state(session: Session) -> str:
    """Return the badge style: the status, or ERROR when a failure left no token at all."""
    if session.status == "NONE" and session.error:
        return "ERROR"
    return session.status


def badge_html(session: Session) -> str:
    """Return the status pill: text and colour, announced to screen readers."""
    state = badge_state(session)
    text = _BADGE_TEXT[state]
    return (
        f'<span class="wnb-pill wnb-{state}" role="status" aria-live="polite" '
        f'aria-label="Token status: {_esc(text)}">{_esc(text)}</span>'
    )


def countdown_html(session: Session) -> str:
    """Return the m:ss countdown and its bar, or empty when not PENDING."""
    left = session.seconds_left()
    if left is None:
        return ""
    # Everything shown derives from the whole seconds displayed, so the markup (and thus a
    # widget message) changes exactly once a second.
    whole = max(0, int(left + 0.999))
    text = format_countdown(whole)
    share = min(1.0, whole / VERIFICATION_WINDOW)
    return (
        f'<div><span class="wnb-big" aria-hidden="true">{text}</span> '
        f"left to approve the token</div>"
        f'<div class="wnb-bar" role="progressbar" aria-label="Time left: {text}" '
        f'aria-valuemin="0" aria-valuemax="{int(VERIFICATION_WINDOW)}" '
        f'aria-valuenow="{whole}"><div style="width: {share * 100:.1f}%"></div></div>'
    )


def guidance_html(session: Session) -> str:
    """Return what the user should do now, in words."""
    status = session.status
    guide = (
        f'<a href="{_esc(session.guide_url)}" target="_blank" rel="noopener">'
        "Webull's 2FA guide</a>"
    )
    if not session.has_credentials:
        return (
            "Enter your app key and secret (from the Webull developer portal), or set "
            "<span class='wnb-code'>WEBULL_APP_KEY</span> and "
            "<span class='wnb-code'>WEBULL_APP_SECRET</span> before starting Jupyter."
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
            f'<ol class="wnb-steps">{steps}</ol>This panel turns green by itself. See {guide}.'
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


def token_info_html(session: Session) -> str:
    """Return the masked token, how long it stays valid, and how later cells use it."""
    if session.status != "NORMAL":
        return ""
    restored = " (restored from the token store)" if session.restored else ""
    return (
        f"Token <span class='wnb-code'>{_esc(session.token_hint)}</span>{restored}, valid "
        f"until about <b>{_when(session.valid_until())}</b> if unused (15 days after last "
        "use).<br>In a later cell: <span class='wnb-code'>"
        "webull_nb.current().headers(&quot;GET&quot;, &quot;/openapi/account/list&quot;)"
        "</span> or <span class='wnb-code'>requests.get(url, auth=webull_nb.current().auth)"
        "</span>"
    )


def error_html(session: Session) -> str:
    """Return the latest user-facing error in an alert box, or empty."""
    if not session.error:
        return ""
    return f'<div class="wnb-alert" role="alert">⚠ {_esc(session.error)}</div>'


def title_html(session: Session) -> str:
    """Return the panel's heading: where the session points."""
    where = f"{session.environment} · {session.region} · API {session.api}"
    key = f" · app key {_esc(session.app_key_hint)}" if session.app_key_hint else ""
    return f'<div class="wnb-title">Webull OpenAPI token <small>({where}{key})</small></div>'


def render_html(session: Session) -> str:
    """Return a static HTML snapshot of the panel, for frontends without widgets."""
    parts = [
        title_html(session),
        badge_html(session),
        countdown_html(session),
        guidance_html(session),
        token_info_html(session),
        error_html(session),
    ]
    body = "".join(f"<div style='margin:6px 0'>{part}</div>" for part in parts if part)
    return f'{_CSS}<div class="wnb-panel">{body}</div>'


class _Ticker:
    """One thread for all panels: redraws countdowns while any panel needs it."""

    def __init__(self) -> None:
        self._panels: weakref.WeakSet[TokenPanel] = weakref.WeakSet()
        # Reentrant, and never held while waiting on another thread: garbage collection can
        # run a collected panel's close() (ipywidgets' __del__) in any thread, at any time.
        self._lock = threading.RLock()
        self._running = False
        self._wake = threading.Event()

    def add(self, panel: TokenPanel) -> None:
        with self._lock:
            self._panels.add(panel)
            if self._running:
                self._wake.set()
                return
            self._running = True
        # Started outside the lock: a starting thread may collect garbage, and a collected
        # panel's close() must not wait for a lock held by the thread waiting on this start.
        # A thread, not an asyncio task: it must keep ticking while a cell is busy.
        threading.Thread(target=self._run, name="webull-nb-panel-ticker", daemon=True).start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while True:
            with self._lock:
                active = [p for p in list(self._panels) if p.needs_ticks()]
                if not active:
                    self._running = False
                    return
            for panel in active:
                panel.tick()
            self._wake.wait(TICK)
            self._wake.clear()


_ticker = _Ticker()


def _css_class(widget: widgets.Widget, name: str) -> widgets.Widget:
    widget.add_class(name)
    return widget


class TokenPanel(widgets.VBox):
    """A live view of one Session; any number of them stay in sync."""

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
    )

    #: Run button actions in a worker thread (tests switch this off to run them inline).
    background = True
    _closed = False

    def __init__(self, session: Session, *, extra: list[widgets.Widget] | None = None) -> None:
        self.session = session
        self.style_html = widgets.HTML(_CSS)
        self.title = _css_class(widgets.HTML(), "wnb-title-box")
        self.badge = _css_class(widgets.HTML(), "wnb-badge")
        self.countdown = _css_class(widgets.HTML(), "wnb-countdown")
        self.guidance = _css_class(widgets.HTML(), "wnb-guidance")
        self.token_info = _css_class(widgets.HTML(), "wnb-token-info")
        self.error_box = _css_class(widgets.HTML(), "wnb-error")
        self.create_button = self._button("Create token", "wnb-create", "plus", self._create)
        self.check_button = self._button("Check now", "wnb-check", "refresh", self._check)
        self.forget_button = self._button("Forget token", "wnb-forget", "trash", self._forget)
        self.change_button = self._button(
            "Change credentials", "wnb-change-credentials", "key", self._show_credentials
        )
        self.app_key, self.app_secret = self._credential_inputs()
        self.region = _css_class(
            widgets.Dropdown(options=list(REGIONS), value=session.region, description="Region"),
            "wnb-region",
        )
        self.environment = _css_class(
            widgets.Dropdown(
                options=list(ENVIRONMENTS), value=session.environment, description="Environment"
            ),
            "wnb-environment",
        )
        self.api = _css_class(
            widgets.Dropdown(options=list(API_PROFILES), value=session.api, description="API"),
            "wnb-api",
        )
        self.use_button = self._button(
            "Use these credentials", "wnb-use-credentials", "check", self._use_credentials
        )
        self.credentials = _css_class(
            widgets.VBox(
                [
                    self.app_key,
                    self.app_secret,
                    self.region,
                    self.environment,
                    self.api,
                    self.use_button,
                ]
            ),
            "wnb-credentials",
        )
        self._editing_credentials = False
        buttons = widgets.HBox(
            [self.create_button, self.check_button, self.forget_button, self.change_button]
        )
        children = [
            self.style_html,
            self.title,
            self.credentials,
            self.badge,
            self.countdown,
            buttons,
            self.guidance,
            self.token_info,
            self.error_box,
            *(extra or []),
        ]
        super().__init__(children)
        self.add_class("wnb-panel")
        session.observe(self._on_session, names=list(self._SESSION_TRAITS))
        self.render()

    # --- widgets -------------------------------------------------------------------------------

    @staticmethod
    def _credential_inputs() -> tuple[widgets.Text, widgets.Password]:
        # Each sends its value once, when it loses focus: while a cell awaits, ipykernel 7.4
        # leaves widget messages without an idle status and the ipywidgets frontend then
        # holds back later updates of the same model. Fresh inputs replace them after use.
        key = widgets.Text(
            description="App key",
            placeholder="from the Webull developer portal",
            continuous_update=False,
        )
        secret = widgets.Password(
            description="App secret",
            placeholder="never saved in the notebook",
            continuous_update=False,
        )
        return _css_class(key, "wnb-app-key"), _css_class(secret, "wnb-app-secret")

    def _button(self, label: str, css: str, icon: str, action: Callable[[], Any]) -> widgets.Button:
        button = widgets.Button(
            description=label, icon=icon, tooltip=label, layout=widgets.Layout(width="auto")
        )
        button.add_class(css)
        button.on_click(lambda _: self._run(label, action))
        return button

    def _run(self, label: str, action: Callable[[], Any]) -> None:
        def work() -> None:
            try:
                action()
            except WebullError as exc:
                if str(exc) not in self.session.error:  # the session may have shown it already
                    self.session.note_error(f"{label} failed: {exc}")
            except Exception as exc:  # never a traceback in the panel
                self.session.note_error(f"{label} failed: {exc}")

        dispatch(work, self.background, "webull-nb-panel-action")

    # --- actions -------------------------------------------------------------------------------

    def _create(self) -> None:
        self.session.create_token()

    def _check(self) -> None:
        if self.session.status == "PENDING":
            # The poller already uses the whole rate budget while PENDING; a click asks it
            # to check at the earliest moment the limit allows, and never exceeds it.
            self.session.check_soon()
        else:
            self.session.check_token()

    def _forget(self) -> None:
        self.session.forget_token()

    def _show_credentials(self) -> None:
        # The dropdowns start from the session's values each time the form opens, and are
        # left alone while it is open: redraws must not undo what the user picked.
        s = self.session
        self.region.value, self.environment.value, self.api.value = s.region, s.environment, s.api
        self._editing_credentials = True
        self.render()

    def _use_credentials(self) -> None:
        secret = self.app_secret.value
        # Take the secret out of the widget model before anything else: the frontend and a
        # saved notebook's widget state must never keep it.
        self.app_secret.value = ""
        self.app_secret.disabled = True
        key = self.app_key.value.strip()
        self.app_key.value = ""
        old = (self.app_key, self.app_secret)
        self.app_key, self.app_secret = self._credential_inputs()
        self.credentials.children = [self.app_key, self.app_secret, *self.credentials.children[2:]]
        for part in old:
            part.close()
        self.session.set_credentials(
            key,
            secret,
            region=self.region.value,
            environment=self.environment.value,
            api=self.api.value,
        )
        self._editing_credentials = False
        self.render()

    # --- drawing -------------------------------------------------------------------------------

    def _on_session(self, change: dict[str, Any]) -> None:
        self.render()

    def needs_ticks(self) -> bool:
        """Whether the countdown or the check button's wait text is moving."""
        if self._closed:
            return False
        return self.session.status == "PENDING" or (
            self.session.status != "NONE" and self.session.next_check_in() > 0
        )

    def tick(self) -> None:
        """Redraw what moves with time (called by the shared ticker)."""
        self.countdown.value = countdown_html(self.session)
        self._draw_buttons()

    def _draw_buttons(self) -> None:
        s = self.session
        ready = s.has_credentials and not s.busy
        has_token = s.status != "NONE"
        self.create_button.disabled = not ready or s.status in ("PENDING", "NORMAL")
        self.forget_button.disabled = not ready or not has_token
        wait = s.next_check_in() if has_token and s.status != "PENDING" else 0.0
        self.check_button.disabled = not ready or not has_token or wait > 0
        self.check_button.description = f"Next check in {wait:.0f} s" if wait > 0 else "Check now"
        self.change_button.disabled = s.busy

    def render(self) -> None:
        """Redraw every part from the session's current state."""
        s = self.session
        show_credentials = not s.has_credentials or self._editing_credentials
        self.credentials.layout.display = None if show_credentials else "none"
        self.app_secret.disabled = not show_credentials
        self.change_button.layout.display = "none" if show_credentials else None
        self.title.value = title_html(s)
        self.badge.value = badge_html(s)
        self.countdown.value = countdown_html(s)
        self.guidance.value = guidance_html(s)
        self.token_info.value = token_info_html(s)
        self.error_box.value = error_html(s)
        self.error_box.layout.display = None if s.error else "none"
        self._draw_buttons()
        if self.needs_ticks():
            _ticker.add(self)

    def close(self) -> None:
        """Close this view only: the session and its poller carry on."""
        self._closed = True  # the ticker drops it; no lock taken, as this may run in __del__
        _ticker.wake()
        stop_observing(self.session, self._on_session, list(self._SESSION_TRAITS))
        close_descendants(self)
        super().close()

    # --- where widgets cannot render -----------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = self.session.status_line()
        bundle["text/html"] = render_html(self.session)
        return bundle

    def __repr__(self) -> str:
        """Show the state as the terminal does."""
        return f"<TokenPanel {self.session.status_line()}>"


def panel(
    session: Session | None = None, *, simulator: Any = None, **session_kwargs: Any
) -> TokenPanel:
    """Return a panel for ``session``, or for a new, activated one built from the kwargs.

    With ``simulator`` (a running ``Simulator`` or its URL) the session talks to it and a
    simulated phone is shown under the panel, so the flow runs with no Webull account.
    """
    extra: list[widgets.Widget] = []
    if simulator is not None:
        from .simulator.phone import SimulatedPhone, simulator_credentials

        if session is None:
            key, secret, url = simulator_credentials(simulator)
            session_kwargs.setdefault("endpoint", url)
            if not isinstance(simulator, str):
                # An in-process simulator forgets its tokens when it stops: keep them out
                # of the user's real token store.
                session_kwargs.setdefault(
                    "token_dir", tempfile.mkdtemp(prefix="webull-nb-simulator-tokens-")
                )
            session = Session(key, secret, **session_kwargs)
            session.activate()
        extra.append(SimulatedPhone(simulator, session=session))
    if session is None:
        session = Session(credentials_later=True, **session_kwargs)
        session.activate()
    return TokenPanel(session, extra=extra)


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> TokenPanel:
        return panel(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
