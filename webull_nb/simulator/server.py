"""The simulator's HTTP side: a hardened threading server around a ``handle`` callable.

It knows HTTP (framing, keep-alive, timeouts, the Host check of the local control plane) and
nothing of Webull: each request goes to ``handle(method, target, headers, body)``. A reply's
body is sent as JSON, unless it is a ``RawBody`` (a page: bytes with their Content-Type); a
reply's own ``Date`` header replaces the server's (a class student's clock may be off).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import re
import socket
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, TypeVar
from urllib.parse import unquote, urlsplit

from webull_nb.simulator.replies import Reply, SimulatorError

__all__ = ["CONNECTION_TIMEOUT", "MAX_BODY", "Handle", "RawBody", "SimulatorServer"]

#: Answers one request: (method, target, lower-case headers, body) -> reply.
Handle = Callable[[str, str, Mapping[str, str], bytes], Reply]

# Token API bodies are well under 1 KB; the cap keeps a huge Content-Length out of memory.
MAX_BODY = 1 << 20
# Seconds a connection may sit idle or stall mid-request before its thread lets it go.
CONNECTION_TIMEOUT = 10.0
# The package's logger: one name for every line the simulator logs.
_log = logging.getLogger("webull_nb.simulator")
# ASCII digits only: int() would also take " +1_0 ", which no HTTP peer agrees on.
_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")
_LOCAL_NAMES = frozenset({"localhost", "localhost.", "127.0.0.1", "::1"})
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 (recognised, not bound)


class RawBody(NamedTuple):
    """A reply body sent as these bytes with this Content-Type, not encoded as JSON."""

    data: bytes
    content_type: str


class SimulatorServer(ThreadingHTTPServer):
    """A threading server that knows its open connections, so ``stop()`` can close them."""

    daemon_threads = True
    # socketserver's default backlog of 5 makes a burst of clients wait for SYN retries.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handle: Handle,
        *,
        clock: Callable[[], float],
        seen: deque[tuple[float, str, str, int]],
        local_prefix: str | None,
        connection_timeout: float = CONNECTION_TIMEOUT,
    ) -> None:
        super().__init__(address, _Handler)
        self.handle = handle
        self.clock = clock
        # (clock time, method, path, HTTP status) of each answer, for tests and benchmarks.
        self.seen = seen
        # Paths under this prefix are answered only to local Host names (DNS rebinding); None
        # when the handler authenticates them itself (a class).
        self.local_prefix = local_prefix
        self.connection_timeout = connection_timeout
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        self.closing = False
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:8123``."""
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="webull-nb-simulator",
            daemon=True,
        )
        self._thread.start()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for serving to end; return True while it goes on."""
        thread = self._thread
        if thread is None:
            return False
        thread.join(timeout)
        return thread.is_alive()

    def stop(self) -> None:
        """Stop serving, close every open connection (kept-alive ones too), release the port."""
        self.shutdown()
        self.close_connections()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

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
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    server_version = "webull-nb-simulator"
    sys_version = ""
    # Headers and body leave in two writes; with Nagle's algorithm the body then waits for
    # the client's delayed ACK, about 40 ms per request on a kept-alive connection.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        """Apply the socket timeout and register the connection with the server."""
        self.timeout = (
            self.server.connection_timeout
        )  # StreamRequestHandler applies it to the socket
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
            raise SimulatorError(400, "INVALID_REQUEST", "chunked bodies are not supported")
        values = self.headers.get_all("Content-Length") or []
        if not values:
            return 0
        if len(set(values)) != 1 or not _CONTENT_LENGTH.fullmatch(values[0]):
            raise SimulatorError(
                400, "INVALID_REQUEST", "the Content-Length header is not a number"
            )
        length = int(values[0])
        if length > MAX_BODY:
            raise SimulatorError(413, "BODY_TOO_LARGE", f"bodies are limited to {MAX_BODY} bytes")
        return length

    def _check_local_host(self) -> None:
        # A DNS-rebinding page (evil.example resolving to 127.0.0.1) sends its own name as
        # Host. An IP literal cannot be rebound, so with a wildcard bind any IP is fine.
        host = self.headers.get("Host")
        if host is None:
            return
        name = _host_name(host)
        bound = str(self.server.server_address[0]).lower()
        if name in _LOCAL_NAMES or name == bound or (bound in _WILDCARDS and _is_ip(name)):
            return
        raise SimulatorError(
            403, "FORBIDDEN_HOST", "the control plane answers only local Host names"
        )

    def _serve(self) -> None:
        path = unquote(urlsplit(self.path).path)
        try:
            length = self._content_length()
        except SimulatorError as refused:
            # The body was not read, so the rest of the stream cannot be trusted: close.
            self.close_connection = True
            _log.warning(
                "webull-nb simulator: refused %s %s from %s: HTTP %d, %s",
                self.command,
                path,
                self.client_address[0],
                refused.http_status,
                refused,
            )
            self._reply(path, refused.reply)
            return
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            self.close_connection = True  # the client went away mid-body
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            prefix = self.server.local_prefix
            if prefix is not None and path.startswith(prefix):
                self._check_local_host()
            reply = self.server.handle(self.command, self.path, headers, body)
        except SimulatorError as refused:
            _log.warning(
                "webull-nb simulator: refused %s %s (Host %r): HTTP %d",
                self.command,
                path,
                headers.get("host"),
                refused.http_status,
            )
            reply = refused.reply
        except Exception as exc:  # a simulator bug must not kill the connection silently
            _log.warning(
                "webull-nb simulator: %s %s failed: %s: %s",
                self.command,
                path,
                type(exc).__name__,
                exc,
            )
            reply = Reply(500, {"error_code": "INTERNAL_ERROR", "message": "bug"})
        self._reply(path, reply)

    def _reply(self, path: str, reply: Reply) -> None:
        self.server.seen.append((self.server.clock(), self.command, path, reply.status))
        if isinstance(reply.body, RawBody):
            data, content_type = reply.body.data, reply.body.content_type
        else:
            data, content_type = json.dumps(reply.body).encode("utf-8"), "application/json"
        self.log_request(reply.status)
        self.send_response_only(reply.status)
        self.send_header("Server", self.version_string())
        self.send_header("Date", reply.headers.get("Date") or self.date_time_string())
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-Id", uuid.uuid4().hex)
        if self.close_connection:
            self.send_header("Connection", "close")
        for name, value in reply.headers.items():
            if name.lower() != "date":
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header follows the simulator's clock, so clients can learn its offset.
        return formatdate(self.server.clock() if timestamp is None else timestamp, usegmt=True)

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: a notebook is no place for access logs

    def log_error(self, format: str, *args: object) -> None:
        """Log a malformed request as one line; an idle connection timing out is routine."""
        timed_out = isinstance(sys.exc_info()[1], TimeoutError)
        _log.log(
            logging.DEBUG if timed_out else logging.WARNING, "webull-nb simulator: " + format, *args
        )


_S = TypeVar("_S", bound="Served")


class Served:
    """Serving for a facade (the Simulator, a Classroom): start, stop, ``with``, the URL.

    A subclass sets ``_server = None`` and builds its server in ``_new_server()``.
    """

    _server: SimulatorServer | None
    _name = "the simulator"

    def _new_server(self) -> SimulatorServer:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """Return the base URL it listens on, e.g. ``http://127.0.0.1:8123``."""
        if self._server is None:
            raise RuntimeError(f"{self._name} is not running: call start() or use 'with'")
        return self._server.url

    def start(self: _S) -> _S:
        """Start serving in a background thread."""
        if self._server is None:
            self._server = self._new_server()
            self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every open connection (kept-alive ones too), release the port."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def serve_forever(self) -> None:
        """Serve in the calling thread until ``stop()`` is called from another."""
        server = self.start()._server
        assert server is not None
        while server.join(timeout=0.5):
            pass

    def __enter__(self: _S) -> _S:
        """Start serving."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop serving."""
        self.stop()
