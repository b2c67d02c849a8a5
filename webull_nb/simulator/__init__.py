"""An embedded Webull OpenAPI simulator: the token flow, its checks and a simulated phone.

It verifies signatures, timestamps, nonces and rate limits like the real service, so code
that works against it works against Webull. Time is injectable (``clock``) so tests can
move past the 5-minute verification window or the 15-day idle limit without sleeping.

This module is the facade: ``Simulator`` wires the service (``service``, ``tokens``,
``auth``) to its HTTP server (``server``). ``Classroom`` (``classroom``) serves a class: one
account per student, the teacher's view and scenarios.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from webull_nb.core.secrets import Secret
from webull_nb.core.status import IDLE_LIFETIME, VERIFICATION_WINDOW
from webull_nb.simulator.auth import RateLimiter, SignatureCheck
from webull_nb.simulator.classroom import Classroom
from webull_nb.simulator.clock import ManualClock
from webull_nb.simulator.replies import Reply, SimulatorError
from webull_nb.simulator.server import CONNECTION_TIMEOUT, Served, SimulatorServer
from webull_nb.simulator.service import CONTROL_PREFIX, Service
from webull_nb.simulator.tokens import SimulatedToken, TokenBook

__all__ = [
    "DEMO_APP_KEY",
    "DEMO_APP_SECRET",
    "Classroom",
    "ManualClock",
    "SimulatedToken",
    "Simulator",
    "SimulatorError",
]

# A built-in key pair for demos and teaching; it works only against the simulator.
DEMO_APP_KEY = "demo0000webullnb0000simulator000"
DEMO_APP_SECRET = "demo-secret-for-the-webull-nb-simulator"  # a public demo value


class Simulator(Served):
    """A local Webull OpenAPI: serve it with ``with Simulator() as sim: ... sim.url``."""

    def __init__(
        self,
        app_key: str = DEMO_APP_KEY,
        app_secret: str = DEMO_APP_SECRET,
        *,
        environment: str = "prod",
        verification_window: float = VERIFICATION_WINDOW,
        idle_timeout: float = IDLE_LIFETIME.total_seconds(),
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        auto_verify_after: float | None = None,
        connection_timeout: float = CONNECTION_TIMEOUT,
        no_device: bool = False,
    ) -> None:
        if environment not in ("prod", "uat"):
            raise ValueError("environment must be 'prod' or 'uat'")
        self.clock = clock
        self._tokens = TokenBook(
            clock,
            environment=environment,
            verification_window=verification_window,
            idle_timeout=idle_timeout,
            auto_verify_after=auto_verify_after,
        )
        self._check = SignatureCheck(app_key, Secret(app_secret), clock)
        self._service = Service(self._tokens, self._check, RateLimiter(clock), no_device=no_device)
        self._bind = (host, port)
        self.connection_timeout = float(connection_timeout)
        self._server: SimulatorServer | None = None
        # (simulator time, method, path, HTTP status) of recent requests, for tests and benchmarks.
        self.requests_seen: deque[tuple[float, str, str, int]] = deque(maxlen=10_000)

    # --- its settings ---------------------------------------------------------------------------

    @property
    def app_key(self) -> str:
        """The app key clients must sign with."""
        return self._check.app_key

    @property
    def app_secret(self) -> str:
        """The simulator's secret (a demo value, meant to be shown to the client code)."""
        return self._check.app_secret.reveal()

    @property
    def environment(self) -> str:
        """``"prod"`` (tokens need approval) or ``"uat"`` (tokens are NORMAL at once)."""
        return self._tokens.environment

    @property
    def verification_window(self) -> float:
        """Seconds a PENDING token waits for its SMS code."""
        return self._tokens.verification_window

    @property
    def idle_timeout(self) -> float:
        """Seconds a NORMAL token lives unused."""
        return self._tokens.idle_timeout

    @property
    def auto_verify_after(self) -> float | None:
        """Seconds after which a new token approves itself, or None."""
        return self._tokens.auto_verify_after

    @property
    def no_device(self) -> bool:
        """Whether it plays an account with no logged-in Webull App (switchable while serving)."""
        return self._service.no_device

    @no_device.setter
    def no_device(self, value: bool) -> None:
        self._service.no_device = value

    def __repr__(self) -> str:
        """Show where it serves, never the secret."""
        return (
            f"Simulator(url={self.url if self._server else None!r}, "
            f"app_key={self.app_key!r}, environment={self.environment!r})"
        )

    # --- serving --------------------------------------------------------------------------------

    def _new_server(self) -> SimulatorServer:
        return SimulatorServer(
            self._bind,
            self._service.handle,
            clock=self.clock,
            seen=self.requests_seen,
            local_prefix=CONTROL_PREFIX,
            connection_timeout=self.connection_timeout,
        )

    # --- the simulated phone and the service ----------------------------------------------------

    def sms_inbox(self) -> list[dict[str, Any]]:
        """Return the codes "sent" for tokens still awaiting verification, newest last."""
        return self._tokens.sms_inbox()

    def verify(self, token: str, code: str) -> dict[str, str]:
        """Enter an SMS code as the user would in the Webull App."""
        return self._tokens.verify(token, code)

    def token_status(self, token: str) -> str:
        """Return a token's status as the service sees it (INVALID if unknown)."""
        return self._tokens.status(token)

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Answer one HTTP request without the network: (status, JSON body, extra headers)."""
        return self._service.handle(method, target, headers, body)

    def _create(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        # For tests: a token issued as by a create call, skipping signature and rate limit.
        return self._tokens.create(str(payload.get("token") or ""))
