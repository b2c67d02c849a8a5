"""Test helpers: a fault-injecting HTTP server, hand-signed raw requests, the simulator's phone."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from webull_nb.session import Session
from webull_nb.signing import sign


@dataclass
class Canned:
    """One scripted answer of the fault server."""

    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (until the server stops): a timeout

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


class FaultServer:
    """Answers each request with the next canned reply (the last one repeats)."""

    def __init__(self, replies: Iterable[Canned]) -> None:
        self.replies = list(replies)
        self.received: list[dict[str, Any]] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.received.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                index = min(len(outer.received), len(outer.replies)) - 1
                reply = outer.replies[index]
                if reply.hang:
                    outer.release.wait(10)
                    return
                data = reply.payload()
                self.send_response_only(reply.status)
                headers = {
                    "Content-Type": "application/json",
                    "Date": self.date_time_string(),
                    **reply.headers,
                }
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def signed_request(
    url: str,
    app_key: str,
    app_secret: str,
    method: str,
    path: str,
    *,
    params: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
    clock: Callable[[], float] | None = None,
    algorithm: str = "HMAC-SHA1",
    drop: str | None = None,
    override: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> requests.Response:
    """Send one hand-signed request, optionally with a header dropped or overridden."""
    from webull_nb.signing import format_timestamp

    host = urlsplit(url).netloc
    timestamp = format_timestamp(clock()) if clock else None
    headers = sign(
        app_key,
        app_secret,
        host=host,
        path=path,
        query=params,
        body=body,
        algorithm=algorithm,
        timestamp=timestamp,
    )
    if drop:
        headers.pop(drop)
    headers.update(override or {})
    headers.update(extra or {})
    return requests.request(
        method, url + path, params=params, data=body, headers=headers, timeout=5
    )


def start_simulator(*flags: str) -> tuple[subprocess.Popen[str], str, str, str]:
    """``python -m webull_nb.simulator FLAGS`` in a process of its own: (proc, url, key, secret)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "webull_nb.simulator", *flags], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().split()[-1]
    key = proc.stdout.readline().split()[-1]
    secret = proc.stdout.readline().split()[-1]
    return proc, url, key, secret


def open_session(sim: Any, token_dir: Path, **options: Any) -> Session:
    """A Session on ``sim`` keeping its token in ``token_dir`` (the caller closes it)."""
    return Session(sim.app_key, sim.app_secret, endpoint=sim.url, token_dir=token_dir, **options)


def approve_latest(sim: Any) -> dict[str, Any]:
    """Enter the newest SMS code as the user would in the Webull App; return that SMS.

    ``sim`` is a Simulator in this process, or the URL of one in another process (whose control
    plane then takes the code).
    """
    if isinstance(sim, str):
        sms = requests.get(sim + "/_sim/sms", timeout=5).json()[-1]
        answer = requests.post(sim + "/_sim/verify", json=sms, timeout=5).json()
    else:
        sms = sim.sms_inbox()[-1]
        answer = sim.verify(sms["token"], sms["code"])
    assert answer["status"] == "NORMAL", answer
    return sms


@contextlib.contextmanager
def normal_on_another_host(sim: Any, store: str, token_dir: Path) -> Iterator[Session]:
    """A Session of another host (its own token directory) whose token is NORMAL in ``store``:
    what a panel or magic on this host should join through the store alone."""
    with Session(
        sim.app_key, sim.app_secret, endpoint=sim.url, token_dir=token_dir, store=store
    ) as first:
        first.create_token()
        approve_latest(sim)
        assert first.check_token() == "NORMAL"
        yield first
