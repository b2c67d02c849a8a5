"""A simulated phone for the simulator: shows the SMS code and takes it, as the Webull App would.

For teaching and the demo: a class walks through the real flow with no account. It talks to an
in-process ``Simulator`` directly, or to a simulator process through its local control plane.
"""

from __future__ import annotations

import html
import re
import threading
from typing import Any

import ipywidgets as widgets
import requests

from .._widgets import close_descendants, dispatch, stop_observing
from . import DEMO_APP_KEY, DEMO_APP_SECRET, Simulator, SimulatorError

__all__ = ["SimulatedPhone", "simulator_credentials"]


def simulator_credentials(source: Simulator | str) -> tuple[str, str, str]:
    """Return (app key, app secret, base URL) to reach a simulator object or URL."""
    if isinstance(source, Simulator):
        return source.app_key, source.app_secret, source.url
    return DEMO_APP_KEY, DEMO_APP_SECRET, str(source).rstrip("/")


class _Inbox:
    """The simulator's phone, in-process or over its control plane."""

    def __init__(self, source: Simulator | str) -> None:
        self.simulator = source if isinstance(source, Simulator) else None
        self.url = None if self.simulator else str(source).rstrip("/")

    def messages(self) -> list[dict[str, Any]]:
        if self.simulator is not None:
            return self.simulator.sms_inbox()
        response = requests.get(f"{self.url}/_sim/sms", timeout=5)
        response.raise_for_status()
        return response.json()

    def verify(self, token: str, code: str) -> None:
        if self.simulator is not None:
            self.simulator.verify(token, code)
            return
        response = requests.post(
            f"{self.url}/_sim/verify", json={"token": token, "code": code}, timeout=5
        )
        if response.status_code != 200:
            body = response.json() if response.content else {}
            raise SimulatorError(
                response.status_code, str(body.get("error_code", "")), str(body.get("message", ""))
            )


_RESULTS = {
    "INCORRECT_CODE": "That code is not right: type the six digits shown above.",
    "TOKEN_EXPIRED": "Too late: the 5-minute window has passed. Create a new token.",
    "TOKEN_NOT_FOUND": "No such token: create a new one.",
}


class SimulatedPhone(widgets.VBox):
    """Shows the latest SMS code and a field to enter it (the simulator's 'Webull App')."""

    #: Run actions in a worker thread (tests switch this off to run them inline).
    background = True

    def __init__(self, source: Simulator | str, session: Any = None) -> None:
        self._inbox = _Inbox(source)
        self.session = session
        self._token: str | None = None
        self.screen = widgets.HTML()
        self.screen.add_class("wnb-phone-screen")
        self.code = self._new_code_input()
        self.confirm = widgets.Button(description="Confirm", icon="check")
        self.confirm.add_class("wnb-sms-confirm")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.refresh_button.add_class("wnb-phone-refresh")
        self.result = widgets.HTML()
        self.result.add_class("wnb-phone-result")
        self._lock = threading.Lock()
        self._submitted: str | None = None
        self.confirm.on_click(lambda _: self._submit_later(self.code.value))
        self.refresh_button.on_click(lambda _: self._dispatch(self.refresh))
        title = widgets.HTML(
            "<b>Simulated phone</b> <small>(webull-nb simulator: in real life this is the "
            "Webull App on your phone)</small>"
        )
        self.entry = widgets.HBox([self.code, self.confirm, self.refresh_button])
        super().__init__([title, self.screen, self.entry, self.result])
        self.add_class("wnb-phone")
        if session is not None:
            session.observe(self._on_status, names=["status"])
        self.refresh()

    def _dispatch(self, action: Any) -> None:
        dispatch(action, self.background, "webull-nb-phone")

    def _on_status(self, change: dict[str, Any]) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Show the newest code awaiting entry, if any."""
        try:
            messages = self._inbox.messages()
        except (requests.RequestException, ValueError) as exc:
            self.screen.value = f"<i>Cannot reach the simulator: {html.escape(str(exc))}</i>"
            return
        if not messages:
            self._token = None
            self.screen.value = "<i>No messages waiting.</i>"
            self.confirm.disabled = True
            return
        latest = messages[-1]
        if latest["token"] != self._token:
            self._submitted = None
        self._token = latest["token"]
        self.confirm.disabled = False
        self.screen.value = (
            '<div class="wnb-sms" style="background:#f6f8fa;border-radius:12px;padding:8px 12px;'
            'display:inline-block">SMS from Webull: your OpenAPI verification code is '
            f'<b class="wnb-sms-text">{html.escape(latest["code"])}</b>. Enter it within 5 minutes.'
            "</div>"
        )

    def _new_code_input(self) -> widgets.Text:
        # While a cell awaits, ipykernel 7.4 handles widget messages without reporting them
        # idle, and the ipywidgets frontend then holds back every later value update of that
        # model. So each input sends its value once (on Enter, or when Confirm takes the
        # focus) and is replaced by a fresh one after each attempt. Submitting as soon as six
        # digits arrive also makes the order of that update and the Confirm click irrelevant.
        code = widgets.Text(
            placeholder="6-digit code", description="SMS code", continuous_update=False
        )
        code.add_class("wnb-sms-code")
        code.observe(self._on_code, names=["value"])
        return code

    def _replace_code_input(self) -> None:
        old, self.code = self.code, self._new_code_input()
        self.entry.children = [self.code, self.confirm, self.refresh_button]
        old.unobserve(self._on_code, names=["value"])
        old.close()

    def _on_code(self, change: dict[str, Any]) -> None:
        if re.fullmatch(r"\d{6}", change["new"].strip()):
            self._submit_later(change["new"])

    def _submit_later(self, code: str) -> None:
        code = code.strip()
        if code:
            self._dispatch(lambda: self._submit(code))

    def _submit(self, code: str) -> None:
        with self._lock:
            if code == self._submitted:
                return  # the same code, from typing it and from clicking Confirm
            self._submitted = code
            if self._token is None:
                self.refresh()
            if self._token is None:
                self.result.value = "No token is waiting for a code: click Create token first."
                return
            try:
                self._inbox.verify(self._token, code)
            except SimulatorError as exc:
                self.result.value = html.escape(_RESULTS.get(exc.error_code, str(exc)))
                return
            except (requests.RequestException, ValueError) as exc:
                self.result.value = html.escape(f"Cannot reach the simulator: {exc}")
                return
            finally:
                self._replace_code_input()
            self.result.value = "✓ Approved. The panel turns NORMAL at its next check."
        if self.session is not None:
            self.session.check_soon()
        self.refresh()

    def close(self) -> None:
        """Close the phone view only."""
        if self.session is not None:
            stop_observing(self.session, self._on_status, ["status"])
        close_descendants(self)
        super().close()
