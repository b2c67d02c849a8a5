"""The one client of a simulator's control plane (``/_sim/...``): the phone's side, over HTTP.

``SimControl(url)`` offers what an in-process ``Simulator`` offers (``sms_inbox``, ``verify``),
so the simulated phone, the demo and tests reach a simulator process the same way.
"""

from __future__ import annotations

from typing import Any, Protocol

import requests

from webull_nb.simulator.replies import SimulatorError
from webull_nb.simulator.service import SMS_PATH, VERIFY_PATH

__all__ = ["Phoneline", "SimControl"]


class Phoneline(Protocol):
    """What the phone needs of a simulator: the codes sent, and a way to enter one."""

    def sms_inbox(self) -> list[dict[str, Any]]:
        """Return the codes awaiting entry, newest last."""
        ...

    def verify(self, token: str, code: str) -> dict[str, str]:
        """Enter ``code`` for ``token``; raise SimulatorError if refused."""
        ...


class SimControl:
    """Reaches a simulator's control plane at ``url``, e.g. one run by ``python -m``."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = str(url).rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        """Show where it reaches."""
        return f"SimControl({self.url!r})"

    def sms_inbox(self) -> list[dict[str, Any]]:
        """Return the codes "sent" for tokens still awaiting verification, newest last."""
        response = requests.get(self.url + SMS_PATH, timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def verify(self, token: str, code: str) -> dict[str, str]:
        """Enter an SMS code as the user would in the app; raise SimulatorError if refused."""
        response = requests.post(
            self.url + VERIFY_PATH, json={"token": token, "code": code}, timeout=self.timeout
        )
        body = response.json() if response.content else {}
        if response.status_code != 200:
            raise SimulatorError(
                response.status_code, str(body.get("error_code", "")), str(body.get("message", ""))
            )
        return body

    def approve_latest(self) -> dict[str, str] | None:
        """Enter the newest code awaiting entry, if any: the user approving in the app."""
        inbox = self.sms_inbox()
        if not inbox:
            return None
        return self.verify(inbox[-1]["token"], inbox[-1]["code"])
