"""A simulated phone for the simulator: shows the SMS code and takes it, as the Webull App would.

For teaching and the demo: a class walks through the real flow with no account. It talks to an
in-process ``Simulator`` directly, or to a simulator process through its local control plane.
This module holds no widget: the token panel draws the phone inside itself from
``SimulatedPhone.state``, and sends it what the user types.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import requests

from webull_nb.simulator import DEMO_APP_KEY, DEMO_APP_SECRET, Simulator, SimulatorError
from webull_nb.simulator.control import Phoneline, SimControl

__all__ = ["SimulatedPhone", "simulator_credentials"]


def simulator_credentials(
    source: Simulator | str, app_key: str | None = None, app_secret: str | None = None
) -> tuple[str, str, str]:
    """Return (app key, app secret, base URL) to reach a simulator object or URL.

    A URL is a demo simulator (its demo key pair) unless a key pair is given, as a student's
    from a class roster. ``WEBULL_APP_KEY`` is not read here on purpose: a real key in the
    environment must not replace the demo's.
    """
    if isinstance(source, Simulator):
        return source.app_key, source.app_secret, source.url
    if bool(app_key) != bool(app_secret):
        raise ValueError("give both app_key and app_secret for a simulator, or neither")
    if app_key and app_secret:
        return app_key, app_secret, str(source).rstrip("/")
    return DEMO_APP_KEY, DEMO_APP_SECRET, str(source).rstrip("/")


_APPROVED = "✓ Approved. The panel turns NORMAL at its next check."
_APPROVED_NORMAL = "✓ Approved: the token is NORMAL."
_RESULTS = {
    "INCORRECT_CODE": "That code is not right: type the six digits shown above.",
    "TOKEN_EXPIRED": "Too late: the 5-minute window has passed. Create a new token.",
    "TOKEN_NOT_FOUND": "No such token: create a new one.",
}


class SimulatedPhone:
    """The simulator's 'Webull App': the newest SMS code awaiting entry, and a way to enter it.

    ``state`` holds only what the phone shows (the code and the last result), never the token
    the code belongs to.
    """

    def __init__(
        self,
        source: Simulator | str,
        session: Any = None,
        credentials: tuple[str, Any] | None = None,
    ) -> None:
        """``credentials`` (app key, secret) sign the phone's requests, as a class server
        answers a student's phone only with that student's codes."""
        self._inbox: Phoneline = (
            source if isinstance(source, Simulator) else SimControl(source, credentials=credentials)
        )
        self.session = session
        self._token: str | None = None
        self._lock = threading.Lock()
        self.state: dict[str, str] = {"sms": "", "result": "", "problem": ""}

    @property
    def simulator(self) -> Simulator | None:
        """The in-process simulator, or None when it is reached over its control plane."""
        return self._inbox if isinstance(self._inbox, Simulator) else None

    def use_credentials(self, app_key: str, app_secret: Any) -> None:
        """Sign with this key pair from now on (an in-process simulator needs none)."""
        if isinstance(self._inbox, SimControl):
            with self._lock:
                self._inbox.use_credentials(app_key, app_secret)
                self._token = None  # the codes shown were another account's
                self.state = {"sms": "", "result": "", "problem": ""}

    def refresh(self) -> dict[str, str]:
        """Read the newest code awaiting entry and return the phone's state."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> dict[str, str]:
        try:
            messages = self._inbox.sms_inbox()
        except (requests.RequestException, ValueError) as exc:
            self.state = {**self.state, "problem": f"Cannot reach the simulator: {exc}"}
            return self.state
        except SimulatorError as exc:
            # A class server refusing this phone: a wrong key pair, say. Its words say why.
            self.state = {**self.state, "problem": f"The simulator refused the phone: {exc}"}
            return self.state
        latest = messages[-1] if messages else None
        token = latest["token"] if latest else None
        result = self.state["result"] if token == self._token else ""
        if result == _APPROVED and getattr(self.session, "status", None) == "NORMAL":
            result = _APPROVED_NORMAL  # the promise above has come true: say so
        self._token = token
        self.state = {"sms": latest["code"] if latest else "", "result": result, "problem": ""}
        return self.state

    def submit(self, code: str) -> dict[str, str]:
        """Enter ``code`` for the newest SMS, as the user would in the app; return the state."""
        code = code.strip()
        with self._lock:
            if self._token is None:
                self._refresh()
            if self._token is None:
                return self._result("No token is waiting for a code: click Create token first.")
            if not re.fullmatch(r"\d{6}", code):
                return self._result("Type the six digits of the code shown above.")
            try:
                self._inbox.verify(self._token, code)
            except SimulatorError as exc:
                return self._result(_RESULTS.get(exc.error_code, str(exc)))
            except (requests.RequestException, ValueError) as exc:
                return self._result(f"Cannot reach the simulator: {exc}")
            self._refresh()
            self._result(_APPROVED)
        if self.session is not None:
            self.session.check_soon()
        return self.state

    def _result(self, text: str) -> dict[str, str]:
        self.state = {**self.state, "result": text}
        return self.state
