"""An embedded Webull OpenAPI simulator: the token flow, its checks and a simulated phone.

It verifies signatures, timestamps, nonces and rate limits like the real service, so code
that works against it works against Webull. Time is injectable (``clock``) so tests can
move past the 5-minute verification window or the 15-day idle limit without sleeping.
"""

from __future__ import annotations

import calendar
import contextlib
import ipaddress
import json
import logging
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from webull_nb.core import signing
from webull_nb.core.endpoints import API_PROFILES, CONFIG_PATH
from webull_nb.simulator import data

__all__ = [
    "DEMO_APP_KEY",
    "DEMO_APP_SECRET",
    "ManualClock",
    "SimulatedToken",
    "Simulator",
    "SimulatorError",
]

# A built-in key pair for demos and teaching; it works only against the simulator.
DEMO_APP_KEY = "demo0000webullnb0000simulator000"
DEMO_APP_SECRET = "demo-secret-for-the-webull-nb-simulator"  # a public demo value

ACCOUNTS_PATH = "/openapi/account/list"
SKEW_LIMIT = 300.0
NONCE_TTL = 600.0
RATE_LIMIT = 10
RATE_PERIOD = 30.0
# Token API bodies are well under 1 KB; the cap keeps a huge Content-Length out of memory.
MAX_BODY = 1 << 20
# Seconds a connection may sit idle or stall mid-request before its thread lets it go.
CONNECTION_TIMEOUT = 10.0
_log = logging.getLogger(__name__)
# ASCII digits only: int() would also take " +1_0 ", which no HTTP peer agrees on.
_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")
_LOCAL_NAMES = frozenset({"localhost", "localhost.", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 (recognised, not bound)
_TOKEN_PATHS = {
    **{p.create_path: "create" for p in API_PROFILES.values()},
    **{p.check_path: "check" for p in API_PROFILES.values()},
}
_SIGNING_HEADERS = {
    "x-app-key": "MISSING_APP_KEY",
    "x-signature": "MISSING_SIGNATURE",
    "x-signature-algorithm": "MISSING_ALGORITHM",
    "x-signature-nonce": "MISSING_NONCE",
    "x-timestamp": "MISSING_TIMESTAMP",
    "x-signature-version": "MISSING_VERSION",
}


class ManualClock:
    """A clock that moves only when told to: pass it to Simulator and Session to skip time."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        """Return the current (manual) epoch seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward and return the new time."""
        with self._lock:
            self._now += seconds
            return self._now

    def __repr__(self) -> str:
        """Show the time it reads."""
        return f"ManualClock({time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(self()))})"


class SimulatorError(Exception):
    """A control-plane request the simulator refuses (wrong code, unknown token, expired)."""

    def __init__(self, http_status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.error_code = error_code


@dataclass
class SimulatedToken:
    """One token's server-side record."""

    token: str
    code: str
    created: float
    verified_at: float | None = None
    last_used: float | None = None

    def status(self, now: float, window: float, idle: float, auto_verify: float | None) -> str:
        """Return the status this token has at ``now`` (computed, so a fake clock just works)."""
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
        if self.verified_at is None:
            return self.created + window
        reference = self.last_used if self.last_used is not None else self.verified_at
        return reference + idle


class _Reply(Exception):
    """Internal: an HTTP answer raised from deep inside request handling."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(status: int, code: str, message: str, **headers: str) -> _Reply:
    return _Reply(status, {"error_code": code, "message": message}, headers)


class Simulator:
    """A local Webull OpenAPI: serve it with ``with Simulator() as sim: ... sim.url``."""

    def __init__(
        self,
        app_key: str = DEMO_APP_KEY,
        app_secret: str = DEMO_APP_SECRET,
        *,
        environment: str = "prod",
        verification_window: float = 300.0,
        idle_timeout: float = 15 * 86400.0,
        clock: Callable[[], float] = time.time,
        host: str = "127.0.0.1",
        port: int = 0,
        auto_verify_after: float | None = None,
        connection_timeout: float = CONNECTION_TIMEOUT,
        no_device: bool = False,
    ) -> None:
        if environment not in ("prod", "uat"):
            raise ValueError("environment must be 'prod' or 'uat'")
        self.app_key = app_key
        self.__secret = app_secret
        self.environment = environment
        self.verification_window = float(verification_window)
        self.idle_timeout = float(idle_timeout)
        self.auto_verify_after = auto_verify_after
        # Plays an account with no logged-in Webull App: creates answer NO_AVAILABLE_DEVICE.
        self.no_device = no_device
        self.clock = clock
        self._bind = (host, port)
        self.connection_timeout = float(connection_timeout)
        self._lock = threading.RLock()
        self._tokens: dict[str, SimulatedToken] = {}
        self._nonces: dict[str, float] = {}
        self._calls: dict[str, deque[float]] = {"create": deque(), "check": deque()}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # (simulator time, method, path, HTTP status) of recent requests, for tests and benchmarks.
        self.requests_seen: deque[tuple[float, str, str, int]] = deque(maxlen=10_000)

    @property
    def app_secret(self) -> str:
        """The simulator's secret (a demo value, meant to be shown to the client code)."""
        return self.__secret

    def __repr__(self) -> str:
        """Show where it serves, never the secret."""
        return (
            f"Simulator(url={self.url if self._server else None!r}, "
            f"app_key={self.app_key!r}, environment={self.environment!r})"
        )

    # --- serving ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:8123``."""
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() or use 'with'")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Simulator:
        """Start serving in a background thread."""
        if self._server is not None:
            return self
        handler = type(
            "Handler", (_Handler,), {"simulator": self, "timeout": self.connection_timeout}
        )
        self._server = _Server(self._bind, handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webull-nb-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection (kept-alive ones too), release the port."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop()`` is called from another."""
        self.start()
        assert self._thread is not None
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def __enter__(self) -> Simulator:
        """Start serving."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop serving."""
        self.stop()

    # --- the simulated phone and state ----------------------------------------------------------

    def _status(self, record: SimulatedToken, now: float) -> str:
        return record.status(
            now, self.verification_window, self.idle_timeout, self.auto_verify_after
        )

    def _token_json(self, record: SimulatedToken, now: float) -> dict[str, Any]:
        expires = record.expires(self.verification_window, self.idle_timeout)
        return {
            "token": record.token,
            "expires": int(expires * 1000),
            "status": self._status(record, now),
        }

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

    def token_status(self, token: str) -> str:
        """Return a token's status as the service sees it (INVALID if unknown)."""
        with self._lock:
            record = self._tokens.get(token)
            return "INVALID" if record is None else self._status(record, self.clock())

    # --- request handling -----------------------------------------------------------------------

    def _authenticate(
        self, headers: dict[str, str], path: str, query: str, body: bytes, host: str
    ) -> None:
        for name, code in _SIGNING_HEADERS.items():
            if not headers.get(name):
                raise _error(401, code, f"the {name} header is missing")
        if headers["x-app-key"] != self.app_key:
            raise _error(401, "UNAUTHORIZED", "unknown app key")
        algorithm = headers["x-signature-algorithm"]
        if algorithm not in signing.ALGORITHMS:
            raise _error(
                401, "SIGNATURE_ALGORITHM_NOT_SUPPORTED", f"unsupported algorithm {algorithm}"
            )
        try:
            stamp = calendar.timegm(time.strptime(headers["x-timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
        except ValueError:
            raise _error(
                401, "ILLEAGAL_TIMESTAMP", "x-timestamp is not YYYY-MM-DDThh:mm:ssZ"
            ) from None
        now = self.clock()
        if abs(now - stamp) > SKEW_LIMIT:
            raise _error(401, "CLOCK_SKEW_EXCEEDED", "x-timestamp is more than 5 minutes off")
        expected = signing.sign(
            self.app_key,
            self.__secret,
            host=host,
            path=path,
            query=parse_qsl(query, keep_blank_values=True),
            body=body,
            algorithm=algorithm,
            timestamp=headers["x-timestamp"],
            nonce=headers["x-signature-nonce"],
        )["x-signature"]
        if not secrets.compare_digest(expected, headers["x-signature"]):
            raise _error(401, "INCORRECT_SIGN", "the signature does not match")
        nonce = headers["x-signature-nonce"]
        with self._lock:
            for old, seen in list(self._nonces.items()):
                if now - seen > NONCE_TTL:
                    del self._nonces[old]
            if nonce in self._nonces:
                raise _error(401, "DUPLICATE_NONCE", "this nonce was used in the last 10 minutes")
            self._nonces[nonce] = now

    def _rate_limit(self, kind: str) -> None:
        now = self.clock()
        with self._lock:
            calls = self._calls[kind]
            while calls and now - calls[0] >= RATE_PERIOD:
                calls.popleft()
            if len(calls) >= RATE_LIMIT:
                retry = max(1, int(calls[0] + RATE_PERIOD - now + 0.999))
                raise _error(
                    429,
                    "TOO_MANY_REQUESTS",
                    f"at most {RATE_LIMIT} {kind} requests per {RATE_PERIOD:.0f} s",
                    **{"Retry-After": str(retry)},
                )
            calls.append(now)

    def _create(self, payload: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        with self._lock:
            old = self._tokens.get(str(payload.get("token") or ""))
            if old is not None and self._status(old, now) in ("PENDING", "NORMAL"):
                return self._token_json(old, now)
            record = SimulatedToken(
                token=secrets.token_urlsafe(24),
                code=f"{secrets.randbelow(10**6):06d}",
                created=now,
            )
            if self.environment == "uat":
                record.verified_at = now
            self._tokens[record.token] = record
            return self._token_json(record, now)

    def _check(self, payload: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        token = str(payload.get("token") or "")
        with self._lock:
            record = self._tokens.get(token)
            if record is None:
                return {"token": token, "expires": int(now * 1000), "status": "INVALID"}
            return self._token_json(record, now)

    def _require_token(self, headers: dict[str, str]) -> None:
        if self.environment == "uat":
            return
        token = headers.get("x-access-token", "")
        now = self.clock()
        with self._lock:
            record = self._tokens.get(token)
            if record is None or self._status(record, now) != "NORMAL":
                raise _error(401, "INVALID_TOKEN", "a verified access token is required")
            record.last_used = now

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one HTTP request: (status, JSON body, extra headers)."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        try:
            if path.startswith("/_sim/"):
                return 200, self._control(method, path, body), {}
            self._authenticate(headers, path, parts.query, body, headers.get("host", ""))
            payload = _parse_json(body)
            if path == CONFIG_PATH and method == "GET":
                return 200, {"token_check_enabled": self.environment == "prod"}, {}
            kind = _TOKEN_PATHS.get(path)
            if kind is not None and method == "POST":
                self._rate_limit(kind)
                # Joining a token that already exists needs no device; a new one does.
                joined = str(payload.get("token") or "")
                if kind == "create" and self.no_device and not data.is_live(self, joined):
                    return (*data.NO_DEVICE_REPLY, {})
                return 200, (self._create if kind == "create" else self._check)(payload), {}
            if path == ACCOUNTS_PATH and method == "GET":
                self._require_token(headers)
                return 200, data.ACCOUNTS, {}
            if data.serves(method, path):
                self._require_token(headers)
                return (*data.answer(method, path, parts.query, headers), {})
            raise _error(404, "NOT_FOUND", f"no API at {method} {path}")
        except _Reply as reply:
            return reply.status, reply.body, reply.headers

    def _control(self, method: str, path: str, body: bytes) -> Any:
        if path == "/_sim/sms" and method == "GET":
            return self.sms_inbox()
        if path == "/_sim/verify" and method == "POST":
            payload = _parse_json(body)
            try:
                return self.verify(str(payload.get("token", "")), str(payload.get("code", "")))
            except SimulatorError as exc:
                raise _error(exc.http_status, exc.error_code, str(exc)) from None
        raise _error(404, "NOT_FOUND", f"no control endpoint {method} {path}")


def _parse_json(body: bytes) -> dict[str, Any]:
    # Accepted whatever the Content-Type: the official SDK sends none.
    if not body:
        return {}
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: "[[[[..." nested deeper than the parser's stack.
        raise _error(400, "INVALID_PARAMETER", "the body is not JSON") from None
    if not isinstance(value, dict):
        raise _error(400, "INVALID_PARAMETER", "the body must be a JSON object")
    return value


class _Server(ThreadingHTTPServer):
    """A threading server that knows its open connections, so ``stop()`` can close them."""

    daemon_threads = True
    # socketserver's default backlog of 5 makes a burst of clients wait for SYN retries.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[_Handler]) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.closing = False

    def add_connection(self, conn: socket.socket) -> None:
        """Track a new connection (or close it at once if the server is stopping)."""
        with self.connections_lock:
            if not self.closing:
                self.connections.add(conn)
                return
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)

    def discard_connection(self, conn: socket.socket) -> None:
        """Forget a finished connection."""
        with self.connections_lock:
            self.connections.discard(conn)

    def close_connections(self) -> None:
        """Shut down every open connection; their threads then see EOF and end."""
        with self.connections_lock:
            self.closing = True
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: Any) -> None:
        """Log one line instead of socketserver's traceback on stderr."""
        exc = sys.exc_info()[1]
        _log.warning(
            "webull-nb simulator: dropped a connection from %s: %s: %s",
            client_address[0] if client_address else "?",
            type(exc).__name__,
            exc,
        )


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class _Handler(BaseHTTPRequestHandler):
    simulator: Simulator
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "webull-nb-simulator"
    sys_version = ""
    timeout = CONNECTION_TIMEOUT  # StreamRequestHandler applies it to the socket
    # Headers and body leave in two writes; with Nagle's algorithm the body then waits for
    # the client's delayed ACK, about 40 ms per request on a kept-alive connection.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        """Apply the socket timeout and register the connection with the server."""
        super().setup()
        self.server.add_connection(self.connection)

    def finish(self) -> None:
        """Flush and forget the connection."""
        try:
            super().finish()
        finally:
            self.server.discard_connection(self.connection)

    def _content_length(self) -> int:
        if self.headers.get("Transfer-Encoding"):
            raise _error(400, "INVALID_REQUEST", "chunked bodies are not supported")
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return 0
        if len(set(values)) != 1 or not _CONTENT_LENGTH.fullmatch(values[0]):
            raise _error(400, "INVALID_REQUEST", "the Content-Length header is not a number")
        length = int(values[0])
        if length > MAX_BODY:
            raise _error(413, "BODY_TOO_LARGE", f"bodies are limited to {MAX_BODY} bytes")
        return length

    def _check_control_host(self) -> None:
        # A DNS-rebinding page (evil.example resolving to 127.0.0.1) sends its own name as
        # Host. An IP literal cannot be rebound, so with a wildcard bind any IP is fine.
        host = self.headers.get("Host")
        if host is None:
            return
        name = _host_name(host)
        bound = str(self.server.server_address[0]).lower()
        if name in _LOCAL_NAMES or name == bound or (bound in _WILDCARDS and _is_ip(name)):
            return
        raise _error(403, "FORBIDDEN_HOST", "the control plane answers only local Host names")

    def _serve(self) -> None:
        sim = self.simulator
        path = unquote(urlsplit(self.path).path)
        try:
            length = self._content_length()
        except _Reply as reply:
            # The body was not read, so the rest of the stream cannot be trusted: close.
            self.close_connection = True
            _log.warning(
                "webull-nb simulator: refused %s %s from %s: HTTP %d, %s",
                self.command,
                path,
                self.client_address[0],
                reply.status,
                reply.body["message"],
            )
            self._reply(path, reply.status, reply.body, reply.headers)
            return
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True  # the client went away mid-body
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            if path.startswith("/_sim/"):
                self._check_control_host()
            status, payload, extra = sim.handle(self.command, self.path, headers, body)
        except _Reply as reply:
            _log.warning(
                "webull-nb simulator: refused %s %s (Host %r): HTTP %d",
                self.command,
                path,
                headers.get("host"),
                reply.status,
            )
            status, payload, extra = reply.status, reply.body, reply.headers
        except Exception as exc:  # a simulator bug must not kill the connection silently
            _log.warning(
                "webull-nb simulator: %s %s failed: %s: %s",
                self.command,
                path,
                type(exc).__name__,
                exc,
            )
            status, payload, extra = 500, {"error_code": "INTERNAL_ERROR", "message": "bug"}, {}
        self._reply(path, status, payload, extra)

    def _reply(self, path: str, status: int, payload: Any, extra: dict[str, str]) -> None:
        sim = self.simulator
        with sim._lock:
            sim.requests_seen.append((sim.clock(), self.command, path, status))
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", uuid.uuid4().hex)
        if self.close_connection:
            self.send_header("Connection", "close")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header follows the simulator's clock, so clients can learn its offset.
        return formatdate(self.simulator.clock() if timestamp is None else timestamp, usegmt=True)

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: a notebook is no place for access logs

    def log_error(self, format: str, *args: object) -> None:
        """Log a malformed request as one line; an idle connection timing out is routine."""
        timed_out = isinstance(sys.exc_info()[1], TimeoutError)
        _log.log(
            logging.DEBUG if timed_out else logging.WARNING, "webull-nb simulator: " + format, *args
        )
