"""The fake service's tokens: issuing, checking, the SMS inbox and the phone's approval."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webull_nb.simulator.replies import SimulatorError

__all__ = ["SimulatedToken", "TokenBook"]


@dataclass
class SimulatedToken:
    """One token's server-side record."""

    token: str
    code: str
    created: float
    verified_at: float | None = None
    last_used: float | None = None
    # Set when the service ended the token early (class mode's expire_tokens): (status, when).
    ended: tuple[str, float] | None = None

    def status(self, now: float, window: float, idle: float, auto_verify: float | None) -> str:
        """Return the status this token has at ``now`` (computed, so a fake clock just works)."""
        if self.ended is not None:
            return self.ended[0]
        if self.verified_at is None and auto_verify is not None:
            moment = self.created + auto_verify
            if moment <= min(now, self.created + window):
                self.verified_at = moment
        if self.verified_at is None:
            return "PENDING" if now < self.created + window else "EXPIRED"
        reference = self.last_used if self.last_used is not None else self.verified_at
        return "NORMAL" if now < reference + idle else "INVALID"

    def expires(self, window: float, idle: float) -> float:
        """Return the epoch seconds at which the current status runs out."""
        if self.ended is not None:
            return self.ended[1]
        if self.verified_at is None:
            return self.created + window
        reference = self.last_used if self.last_used is not None else self.verified_at
        return reference + idle


class TokenBook:
    """Every token the service has issued, with what the API and the phone do to them."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        environment: str,
        verification_window: float,
        idle_timeout: float,
        auto_verify_after: float | None,
    ) -> None:
        self.clock = clock
        # UAT tokens are NORMAL from birth and the data API asks for none.
        self.environment = environment
        self.verification_window = float(verification_window)
        self.idle_timeout = float(idle_timeout)
        self.auto_verify_after = auto_verify_after
        self._lock = threading.Lock()
        self._tokens: dict[str, SimulatedToken] = {}

    def _status(self, record: SimulatedToken, now: float) -> str:
        return record.status(
            now, self.verification_window, self.idle_timeout, self.auto_verify_after
        )

    def _json(self, record: SimulatedToken, now: float) -> dict[str, Any]:
        expires = record.expires(self.verification_window, self.idle_timeout)
        return {
            "token": record.token,
            "expires": int(expires * 1000),
            "status": self._status(record, now),
        }

    def create(self, joined: str = "") -> dict[str, Any]:
        """Answer a create: join ``joined`` while it is PENDING or NORMAL, else issue a new one."""
        now = self.clock()
        with self._lock:
            old = self._tokens.get(joined)
            if old is not None and self._status(old, now) in ("PENDING", "NORMAL"):
                return self._json(old, now)
            record = SimulatedToken(
                token=secrets.token_urlsafe(24),
                code=f"{secrets.randbelow(10**6):06d}",
                created=now,
            )
            if self.environment == "uat":
                record.verified_at = now
            self._tokens[record.token] = record
            return self._json(record, now)

    def check(self, token: str) -> dict[str, Any]:
        """Answer a check: the token's status and expiry (INVALID if unknown)."""
        now = self.clock()
        with self._lock:
            record = self._tokens.get(token)
            if record is None:
                return {"token": token, "expires": int(now * 1000), "status": "INVALID"}
            return self._json(record, now)

    def use(self, token: str) -> None:
        """Admit a data request carrying ``token`` (resetting its idle clock), or refuse it."""
        if self.environment == "uat":
            return
        now = self.clock()
        with self._lock:
            record = self._tokens.get(token)
            if record is None or self._status(record, now) != "NORMAL":
                raise SimulatorError(401, "INVALID_TOKEN", "a verified access token is required")
            record.last_used = now

    def status(self, token: str) -> str:
        """Return a token's status as the service sees it (INVALID if unknown)."""
        with self._lock:
            record = self._tokens.get(token)
            return "INVALID" if record is None else self._status(record, self.clock())

    def newest_status(self) -> str:
        """Return the status of the token issued last, or ``NONE`` before the first one."""
        with self._lock:
            if not self._tokens:
                return "NONE"
            record = next(reversed(self._tokens.values()))
            return self._status(record, self.clock())

    def expire_all(self) -> int:
        """End every live token now (PENDING ones EXPIRED, NORMAL ones INVALID); return how many."""
        now = self.clock()
        ended = {"PENDING": "EXPIRED", "NORMAL": "INVALID"}
        count = 0
        with self._lock:
            for record in self._tokens.values():
                status = self._status(record, now)
                if status in ended:
                    record.ended = (ended[status], now)
                    count += 1
        return count

    def is_live(self, token: str) -> bool:
        """Tell whether ``token`` is PENDING or NORMAL (a create would join it)."""
        return bool(token) and self.status(token) in ("PENDING", "NORMAL")

    def sms_inbox(self) -> list[dict[str, Any]]:
        """Return the codes "sent" for tokens still awaiting verification, newest last."""
        now = self.clock()
        with self._lock:
            return [
                {"token": r.token, "code": r.code, "sent_at": r.created}
                for r in self._tokens.values()
                if self._status(r, now) == "PENDING"
            ]

    def verify(self, token: str, code: str) -> dict[str, str]:
        """Enter an SMS code as the user would in the Webull App."""
        now = self.clock()
        with self._lock:
            record = self._tokens.get(token)
            if record is None:
                raise SimulatorError(404, "TOKEN_NOT_FOUND", "no such token")
            status = self._status(record, now)
            if status == "EXPIRED":
                raise SimulatorError(409, "TOKEN_EXPIRED", "the verification window has passed")
            if status == "PENDING":
                if not secrets.compare_digest(str(code).strip(), record.code):
                    raise SimulatorError(400, "INCORRECT_CODE", "the code does not match")
                record.verified_at = now
            return {"token": token, "status": self._status(record, now)}
