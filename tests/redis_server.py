"""A real ``redis-server`` for one test: a free port, a temp dir, no persistence, stopped after.

No fake Redis anywhere: the Lua scripts, TTLs and pub/sub under test are the real server's.
Without ``redis-server`` on PATH the tests that need it skip, except under
``WEBULL_NB_REQUIRE_REDIS=1`` (set by ``.ci/run``), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REQUIRE = "WEBULL_NB_REQUIRE_REDIS"


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason}, and {REQUIRE}=1 requires it")
    pytest.skip(reason)


def redis_server_binary() -> str:
    """The path of ``redis-server``; skips the test (or fails it, under CI) when it is missing."""
    found = shutil.which("redis-server")
    if found:
        return found
    _missing("redis-server is not installed (Debian: apt-get install redis-server)")
    raise AssertionError("unreachable")


def require_redis_client() -> None:
    """Skip (or fail, under CI) when the ``redis`` extra is not installed."""
    try:
        import cryptography  # noqa: F401
        import redis  # noqa: F401
    except ImportError:
        _missing("the redis extra is not installed: pip install 'webull-nb[redis]'")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """One ``redis-server`` process; ``pause``/``resume``/``restart`` for the fault tests."""

    def __init__(
        self,
        *,
        password: str | None = None,
        acl_user: tuple[str, str, str] | None = None,
        unix_socket: bool = False,
    ) -> None:
        require_redis_client()
        self.binary = redis_server_binary()
        self.password = password
        self.acl_user = acl_user  # (name, password, rules), e.g. "+@all -eval -evalsha"
        self.directory = Path(tempfile.mkdtemp(prefix="webull-nb-redis-"))
        self.socket_path = str(self.directory / "redis.sock") if unix_socket else None
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._log = None
        self._start(fresh_port=True)

    # --- addresses -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL a client uses: the ACL user's, else the password's, else a plain one."""
        if self.acl_user:
            name, secret, _ = self.acl_user
            return f"redis://{name}:{secret}@127.0.0.1:{self.port}/0"
        if self.password:
            return f"redis://:{self.password}@127.0.0.1:{self.port}/0"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        """The ``unix://`` URL of the server's socket (``unix_socket=True`` only)."""
        assert self.socket_path, "started without unix_socket=True"
        auth = f":{self.password}@" if self.password else ""
        return f"unix://{auth}{self.socket_path}?db=0"

    # --- life cycle ------------------------------------------------------------------------

    def _arguments(self) -> list[str]:
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--loglevel", "warning",
        ]  # fmt: skip
        if self.password:
            args += ["--requirepass", self.password]
        if self.acl_user:
            name, secret, rules = self.acl_user
            # The default user keeps full rights (the harness talks through it); the named user
            # is the one the code under test gets.
            args += ["--user", name, "on", f">{secret}", "~*", "&*", *rules.split()]
        if self.socket_path:
            args += ["--unixsocket", self.socket_path, "--unixsocketperm", "700"]
        return args

    def _start(self, *, fresh_port: bool) -> None:
        for attempt in range(5):
            if fresh_port:
                self.port = free_port()
            self._log = open(self.directory / "server.log", "ab")  # noqa: SIM115
            self.process = subprocess.Popen(
                self._arguments(), stdout=self._log, stderr=subprocess.STDOUT
            )
            if self._wait_ready():
                return
            self._stop_process()
            if not fresh_port and attempt >= 2:
                break  # the old port stays taken: give a clear failure, not a retry loop
        log = (self.directory / "server.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"redis-server did not start on port {self.port}:\n{log}")

    def _wait_ready(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if self._ping():
                    return True
            except OSError:
                pass
            time.sleep(0.02)  # a process start-up: nothing to wait on but the port
        return False

    def _ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            auth = self._auth_command()
            conn.sendall(auth + b"*1\r\n$4\r\nPING\r\n")
            reply = b""
            while b"PONG" not in reply and b"-" not in reply[:1]:
                chunk = conn.recv(256)
                if not chunk:
                    break
                reply += chunk
            return b"PONG" in reply

    def _auth_command(self) -> bytes:
        if not self.password:
            return b""
        word = self.password.encode()
        return b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(word), word)

    def _stop_process(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot die of SIGTERM
            self.process.kill()
            self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def pause(self) -> None:
        """SIGSTOP: the server keeps its sockets but answers nothing (a stalled host)."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after ``pause``."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """kill -9 and start again on the same port, empty (no persistence)."""
        self._stop_process()
        self._start(fresh_port=False)

    def command(self, *args: str):
        """Run one command through redis-py as the all-powerful default user."""
        import redis

        client = redis.Redis(
            host="127.0.0.1", port=self.port, password=self.password, decode_responses=True
        )
        try:
            return client.execute_command(*args)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        self._stop_process()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
