"""The one client of a simulator's control plane (``/_sim/...``): the phone's side, over HTTP.

``SimControl(url)`` offers what an in-process ``Simulator`` offers (``sms_inbox``, ``verify``),
so the simulated phone, the demo and tests reach a simulator process the same way. With
``credentials`` it signs each control request as an API call is signed: a class server
answers a student's phone only so, and only with that student's codes.
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests

from webull_nb.core import signing
from webull_nb.core.secrets import Secret
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

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        credentials: tuple[str, str | Secret[str]] | None = None,
    ) -> None:
        """``credentials`` (app key, secret): sign each request, as a class server wants."""
        self.url = str(url).rstrip("/")
        self.timeout = timeout
        self._key: str | None = None
        self._secret: Secret[str] | None = None
        if credentials is not None:
            self.use_credentials(*credentials)
        # The server's clock minus ours, learned from a refusal for skew (a class may run
        # with its clock off on purpose): the phone keeps working.
        self._offset = 0.0

    def __repr__(self) -> str:
        """Show where it reaches, and with which app key (never the secret)."""
        signed = f", app_key={self._key!r}" if self._key else ""
        return f"SimControl({self.url!r}{signed})"

    def use_credentials(self, app_key: str, app_secret: str | Secret[str]) -> None:
        """Sign the next requests with this key pair (a student's, typed into the panel)."""
        self._key = app_key
        self._secret = app_secret if isinstance(app_secret, Secret) else Secret(app_secret)

    def sms_inbox(self) -> list[dict[str, Any]]:
        """Return the codes "sent" for tokens still awaiting verification, newest last."""
        return self._call("GET", SMS_PATH)

    def verify(self, token: str, code: str) -> dict[str, str]:
        """Enter an SMS code as the user would in the app; raise SimulatorError if refused."""
        return self._call("POST", VERIFY_PATH, {"token": token, "code": code})

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else None
        for attempt in (1, 2):
            response = requests.request(
                method,
                self.url + path,
                data=body,
                headers=self._headers(path, body),
                timeout=self.timeout,
            )
            answer = response.json() if response.content else {}
            if response.status_code == 200:
                return answer
            code = str(answer.get("error_code", "")) if isinstance(answer, dict) else ""
            if attempt == 1 and code == "CLOCK_SKEW_EXCEEDED" and self._learn_clock(response):
                continue
            message = str(answer.get("message", "")) if isinstance(answer, dict) else ""
            raise SimulatorError(response.status_code, code, message or response.reason)
        raise AssertionError("unreachable")

    def _headers(self, path: str, body: bytes | None) -> dict[str, str]:
        if self._key is None or self._secret is None:
            return {"Content-Type": "application/json"} if body else {}
        headers = signing.sign(
            self._key,
            self._secret,
            host=urlsplit(self.url).netloc,
            path=path,
            body=body,
            timestamp=signing.format_timestamp(time.time() + self._offset),
        )
        if body:
            headers["Content-Type"] = "application/json"
        return headers

    def _learn_clock(self, response: requests.Response) -> bool:
        try:
            server = parsedate_to_datetime(response.headers.get("Date", "")).timestamp()
        except (TypeError, ValueError, IndexError):
            return False
        self._offset = server + 0.5 - time.time()
        return True

    def approve_latest(self) -> dict[str, str] | None:
        """Enter the newest code awaiting entry, if any: the user approving in the app."""
        inbox = self.sms_inbox()
        if not inbox:
            return None
        return self.verify(inbox[-1]["token"], inbox[-1]["code"])
