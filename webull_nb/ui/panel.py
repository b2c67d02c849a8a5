"""The notebook panel: one anywidget that draws a Session. No HTTP and no token state of its own.

``webull_nb.panel(...)`` is ``panel()`` below. What the panel draws is computed by
``webull_nb.ui.view`` (pure); this module syncs it to the browser and runs the actions.

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
    so a notebook run by nbclient saves the final state, not the NO TOKEN of its first display
    (``webull_nb.ui.saved``).

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
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import traitlets

from webull_nb.core.errors import WebullError
from webull_nb.core.secrets import Secret
from webull_nb.session.credentials import boxed
from webull_nb.session.session import Session
from webull_nb.ui.quiet import NEW_CODE_QUIET, guard_of
from webull_nb.ui.saved import SavedOutput
from webull_nb.ui.scratch import remove_with, scratch_token_dir
from webull_nb.ui.view import render_html, view_state

__all__ = ["NEW_CODE_QUIET", "STATIC", "TokenPanel", "panel"]

_log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"

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

#: Actions that carry fields of their own, checked before they run.
_FORMS = frozenset({"credentials", "sms"})


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
        # The static fallback saved in the notebook (see webull_nb.ui.saved).
        self._saved = SavedOutput(self._repr_mimebundle_)
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
            # The panel's own facts: the kernel's clock and the quiet time its actions keep.
            extra = {"clock_ms": self.session.now() * 1000, "new_code_quiet_s": NEW_CODE_QUIET}
            self.state = {**shown, **extra}
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
        guard = guard_of(self.session)
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
        self._saved.live = True  # a view is drawn: it shows the live state, not the saved one
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
        if self.simulated_phone is not None:
            # A class server answers a phone signed with the student's own key pair only.
            self.simulated_phone.use_credentials(key.strip(), secret)
            self.refresh(phone=True)

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
        saved = self.__dict__.get("_saved")  # None if __init__ failed before it
        if saved is not None:
            saved.stop()
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
        self._saved.show()

    def __repr__(self) -> str:
        """Show the state as the terminal does."""
        return f"<TokenPanel {self.session.status_line()}>"


class _PanelSession(Session):
    """A Session whose constructor shows a failure to open the account in its error box.

    ``panel()`` must be drawn even when the store cannot be reached (Redis down, a wrong
    password): a traceback would leave no panel at all. The session is then left without
    credentials, with the message shown; entering them in the panel's form, or running the
    cell again, tries the store again. Later calls of ``set_credentials`` raise as usual.
    """

    _constructed = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._constructed = True

    def set_credentials(
        self,
        app_key: str,
        app_secret: str | Secret,
        *,
        region: str | None = None,
        environment: str | None = None,
        api: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        """Set the credentials; in the constructor, show a failure instead of raising it."""
        secret = boxed(app_secret)
        del app_secret  # boxed at once, as Session does: no traceback shows it
        try:
            super().set_credentials(
                app_key,
                secret,
                region=region,
                environment=environment,
                api=api,
                endpoint=endpoint,
            )
        except WebullError as exc:
            if self._constructed:
                raise
            # The message names the store as describe() does: never its password.
            self.note_error(
                f"{str(exc).rstrip('.')}. Nothing was sent to Webull; once this is fixed, "
                "run the cell again."
            )


def panel(
    session: Session | None = None,
    *,
    simulator: Any = None,
    store: str | None = None,
    **session_kwargs: Any,
) -> TokenPanel:
    """Return a panel for ``session``, or for a new, activated one built from the kwargs.

    With ``simulator`` (a running ``Simulator`` or its URL) the session talks to it and a
    simulated phone is drawn inside the panel, so the flow runs with no Webull account; for a
    class server pass the student's ``app_key`` and ``app_secret`` too (its roster has them).
    ``store`` (a new session only): where the account's token is shared, as in
    ``Session(store=...)``; a store that cannot be reached is shown in the panel's error box.
    """
    if store is not None:
        if session is not None:
            raise ValueError("store= picks the store of a new session; this one has its own")
        session_kwargs["store"] = store
    phone = None
    if simulator is not None:
        from webull_nb.simulator.phone import SimulatedPhone, simulator_credentials

        key, secret, url = simulator_credentials(
            simulator, session_kwargs.pop("app_key", None), session_kwargs.pop("app_secret", None)
        )
        if session is None:
            session_kwargs.setdefault("endpoint", url)
            scratch = None
            if not isinstance(simulator, str) and "token_dir" not in session_kwargs:
                # An in-process simulator forgets its tokens when it stops: keep them out
                # of the user's real token store, in a folder that goes with the session.
                scratch = scratch_token_dir()
                session_kwargs["token_dir"] = scratch
            session = _PanelSession(key, secret, **session_kwargs)
            if scratch is not None:
                remove_with(session, scratch)
            session.activate()
        elif session.account is not None:
            client = session.account.client
            key, secret = client.app_key, client.app_secret
        phone = SimulatedPhone(simulator, session=session, credentials=(key, secret))
    if session is None:
        session = _PanelSession(credentials_later=True, **session_kwargs)
        session.activate()
    return TokenPanel(session, phone=phone)
