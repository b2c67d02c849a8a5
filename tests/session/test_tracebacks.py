"""Secrets stay out of tracebacks that show every frame's locals.

IPython's ``%xmode Verbose`` and error reporters (``TracebackException(capture_locals=True)``,
as Sentry does) print each frame's variables; a notebook saved afterwards keeps them.
"""

from __future__ import annotations

import socket
import traceback
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from webull_nb.errors import WebullError
from webull_nb.session import Session
from webull_nb.simulator import Simulator

SECRET = "nb-secret-that-must-never-be-shown-0123"


@pytest.fixture
def normal(tmp_path, approve_latest):
    """(session, token) with a NORMAL token on a simulator using SECRET."""
    with Simulator(app_secret=SECRET) as sim:
        session = Session(sim.app_key, SECRET, endpoint=sim.url, token_dir=tmp_path)
        session.create_token()
        sms = approve_latest(sim)
        assert session.check_token() == "NORMAL"
        yield session, sms["token"]
        session.close()


def _silent_port() -> socket.socket:
    """A socket that accepts connections and never answers (a timeout)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server


def _locals_text(exc: BaseException) -> str:
    return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())


@pytest.mark.slow
def test_captured_locals_never_hold_the_secret_or_the_token(normal, tmp_path) -> None:
    session, token = normal
    silent = _silent_port()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_port = closed.getsockname()[1]
    closed.close()
    failures: list[BaseException] = []

    def attempt(fn) -> None:
        try:
            fn()
        except Exception as exc:  # each call fails on purpose
            failures.append(exc)

    attempt(lambda: session.headers("GET", "/openapi/account/list", params={"a": {"b": 1}}))
    attempt(lambda: session.post("/openapi/x", json={"a": object()}))  # cannot be encoded
    attempt(lambda: Session(session.app_key_hint, SECRET, environment="test"))
    for port in (silent.getsockname()[1], dead_port):  # a timeout, then connection refused
        other = Session(
            "demo0000webullnb0000simulator000",
            SECRET,
            endpoint=f"http://127.0.0.1:{port}",
            token_dir=session.store.directory,
            timeout=0.3,
        )
        other.account.token_check_enabled = True  # skip the config call: send the token
        attempt(lambda other=other: other.get("/openapi/account/list"))
        attempt(lambda other=other: other.account.check())
        other.close()
    silent.close()
    assert len(failures) == 7
    assert any(isinstance(f, WebullError) for f in failures)
    for failure in failures:
        text = _locals_text(failure)
        assert SECRET not in text, text
        assert token not in text, text


NOTEBOOK_CELLS = [
    "%xmode Verbose",
    """
import socket
from webull_nb.session import Session
from webull_nb.simulator import Simulator
sim = Simulator(app_secret=SECRET).start()
session = Session(sim.app_key, SECRET, endpoint=sim.url, token_dir=TOKENS)
session.create_token()
sms = sim.sms_inbox()[-1]
sim.verify(sms["token"], sms["code"])
del sms
print(session.check_token())
""",
    'session.headers("GET", "/openapi/account/list", params={"page": {"size": 1}})',
    'session.post("/openapi/x", json={"a": object()})',
    """
silent = socket.socket(); silent.bind(("127.0.0.1", 0)); silent.listen()
slow = Session(sim.app_key, SECRET, endpoint=f"http://127.0.0.1:{silent.getsockname()[1]}",
               token_dir=TOKENS, timeout=0.3)
slow.account.token_check_enabled = True
slow.get("/openapi/account/list")
""",
    """
closed = socket.socket(); closed.bind(("127.0.0.1", 0)); port = closed.getsockname()[1]
closed.close()
refused = Session(sim.app_key, SECRET, endpoint=f"http://127.0.0.1:{port}", token_dir=TOKENS)
refused.account.token_check_enabled = True
refused.get("/openapi/account/list")
""",
    'Session(sim.app_key, SECRET, environment="test")',
]


@pytest.mark.kernel
def test_a_saved_notebook_with_verbose_tracebacks_holds_no_secret(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    # The secret reaches the kernel through the environment, never as notebook source.
    setup = f"import os\nSECRET = os.environ['NB_SECRET']\nTOKENS = {str(tokens)!r}"
    cells = [nbformat.v4.new_code_cell(setup)]
    cells += [nbformat.v4.new_code_cell(src.strip()) for src in NOTEBOOK_CELLS]
    nb = nbformat.v4.new_notebook(cells=cells)
    import os

    os.environ["NB_SECRET"] = SECRET
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True).execute()
    finally:
        del os.environ["NB_SECRET"]
    saved = tmp_path / "saved.ipynb"
    nbformat.write(nb, saved)
    text = saved.read_text()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert len(errors) == 5, [c.get("outputs") for c in nb.cells]
    assert "NORMAL" in text and "webull_nb" in text  # the tracebacks are there, verbose
    token = (tokens / "token.txt").read_text().splitlines()[0]
    assert SECRET not in text
    assert token not in text
