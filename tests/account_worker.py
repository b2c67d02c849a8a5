"""A separate process using one account, for tests and benchmarks: prints JSON lines.

    python tests/account_worker.py URL TOKEN_DIR ACTION [N]

ACTION: ``ensure`` (the setup cell: ensure_token, then report when NORMAL), ``checks N``
(N manual checks, reporting each outcome), ``waitchecks N`` (N checks that wait for their
turn), ``watch`` (report every status change until NORMAL), ``create`` (one create_token).
Every status change is printed as ``{"event": "status", "status": ..., "t": <wall clock>}``;
the process waits for a line on stdin (or EOF) before it starts, so a test can start several
at the same moment. ``WORKER_CLOCK_STEP=S`` steps this process's wall clock by S seconds
(``time.time`` is patched before webull_nb loads), as a laptop waking or NTP would.
``WORKER_STORE=URL`` passes ``store=URL`` (a Redis store); ``WORKER_GET=PATH`` makes one
signed GET after ``ensure`` and reports its HTTP status. ``WORKER_TIMEOUT=S`` gives ``ensure``
S seconds (default 60); ``WORKER_HOLD=1`` keeps the session open after ``ensure``, printing
``{"event": "hold"}``, until a second line on stdin (or EOF), so a benchmark can measure a
NORMAL host's idle cost.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

_STEP = float(os.environ.get("WORKER_CLOCK_STEP") or 0)
if _STEP:
    _real_time = time.time
    time.time = lambda: _real_time() + _STEP  # patched before webull_nb reads the clock

from webull_nb.errors import RateLimitError, WebullError  # noqa: E402
from webull_nb.session import Session  # noqa: E402
from webull_nb.simulator import DEMO_APP_KEY, DEMO_APP_SECRET  # noqa: E402


def emit(**fields: object) -> None:
    """Print one JSON event line (its time is the true wall clock, whatever the step)."""
    print(json.dumps({"t": time.time() - _STEP, **fields}), flush=True)


def main() -> int:
    """Run one action against the account and report."""
    url, token_dir, action = sys.argv[1:4]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    session = Session(
        DEMO_APP_KEY,
        DEMO_APP_SECRET,
        endpoint=url,
        token_dir=token_dir,
        store=os.environ.get("WORKER_STORE") or None,
    )
    normal = threading.Event()

    def on_status(change: dict) -> None:
        emit(event="status", status=change["new"], token=session.token_hint)
        if change["new"] == "NORMAL":
            normal.set()

    session.observe(on_status, names=["status"])
    emit(event="ready", status=session.status)
    sys.stdin.readline()  # start together
    try:
        if action == "ensure":
            timeout = float(os.environ.get("WORKER_TIMEOUT") or 60)
            emit(
                event="done", status=session.ensure_token(timeout=timeout), token=session.token_hint
            )
            if os.environ.get("WORKER_GET"):
                emit(event="get", http=session.get(os.environ["WORKER_GET"]).status_code)
            if os.environ.get("WORKER_HOLD") == "1":
                emit(event="hold", status=session.status)
                sys.stdin.readline()
        elif action == "create":
            emit(event="done", status=session.create_token())
        elif action == "checks":
            for _ in range(count):
                try:
                    emit(event="check", status=session.check_token())
                except RateLimitError as exc:
                    emit(event="limited", sent=exc.http_status is not None)
        elif action == "waitchecks":
            for _ in range(count):
                try:
                    emit(event="check", status=session.check_token(wait=True))
                except RateLimitError as exc:
                    emit(event="limited", sent=exc.http_status is not None)
        elif action == "watch":
            normal.wait(60)
            emit(event="done", status=session.status)
    except WebullError as exc:
        emit(event="error", message=str(exc), type=type(exc).__name__)
        return 1
    finally:
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
