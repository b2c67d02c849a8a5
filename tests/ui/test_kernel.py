"""A real kernel: Run All behind a wait() cell, a busy cell, a plain script, a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import textwrap
import time

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
pytestmark = pytest.mark.kernel

CELLS = [
    """
    import asyncio, time, webull_nb
    from webull_nb.simulator import Simulator
    ticks = 0
    async def ticker():  # a user's asyncio task on the kernel's loop
        global ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.05)
    task = asyncio.ensure_future(ticker())
    sim = Simulator(auto_verify_after=2).start()
    session = webull_nb.Session(sim.app_key, sim.app_secret, endpoint=sim.url).activate()
    print("cell1", session.status)
    """,
    """
    session.create_token()
    before = ticks
    print("cell2", session.wait(30))
    print("ticks during wait:", ticks - before)
    """,
    "print('cell3', webull_nb.current().status)",
    "print('cell4', webull_nb.current().get('/openapi/account/list').status_code)",
    """
    session.forget_token()
    session.create_token()
    before = session.checks_made
    end = time.monotonic() + 4.5
    n = 0
    while time.monotonic() < end:  # a cell busy in plain Python, holding the GIL in bursts
        n += sum(range(1000))
    print("cell5 checks during busy cell:", session.checks_made - before, session.status)
    """,
]


@pytest.fixture
def kernel(tmp_path):
    manager = jupyter_client.KernelManager(kernel_name="python3")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    manager.start_kernel(env=env, cwd=str(tmp_path))
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def test_run_all_queues_every_cell_behind_wait_in_order(kernel) -> None:
    ids = [kernel.execute(textwrap.dedent(code)) for code in CELLS]  # all at once: Run All
    replies = {}
    outputs: list[str] = []
    deadline = time.monotonic() + 120
    while len(replies) < len(ids):
        assert time.monotonic() < deadline, f"only {len(replies)} replies; output {outputs}"
        reply = kernel.get_shell_msg(timeout=60)
        replies[reply["parent_header"]["msg_id"]] = reply["content"]
    while True:
        try:
            msg = kernel.get_iopub_msg(timeout=1)
        except Exception:
            break
        if msg["msg_type"] == "stream":
            outputs.append(msg["content"]["text"])
        if msg["msg_type"] == "error":
            outputs.append("ERROR " + msg["content"]["ename"] + msg["content"]["evalue"])
    assert [replies[i]["status"] for i in ids] == ["ok"] * len(ids), outputs
    text = "".join(outputs)
    ticks = int(text.split("ticks during wait:")[1].split()[0])
    assert ticks >= 10, text  # the nested loop kept the user's asyncio task running
    lines = [line for line in text.splitlines() if line.startswith("cell")]
    assert lines[:4] == ["cell1 NONE", "cell2 NORMAL", "cell3 NORMAL", "cell4 200"], text
    busy_checks = int(lines[4].split(":")[1].split()[0])
    print(f"checks during a 4.5 s busy cell: {busy_checks}; asyncio ticks during wait(): {ticks}")
    assert busy_checks >= 1, lines[4]  # the poller kept checking while the cell was busy


SCRIPT = """
import webull_nb
from webull_nb.simulator import Simulator
with Simulator(auto_verify_after=1.5) as sim:
    session = webull_nb.Session(sim.app_key, sim.app_secret, endpoint=sim.url)
    print("final:", session.ensure_token(timeout=30))
    print("accounts:", len(session.get("/openapi/account/list").json()))
    session.close()
"""


def test_plain_python_script_with_a_terminal_status_line(tmp_path) -> None:
    primary, replica = pty.openpty()  # a real terminal, so the live line turns on by itself
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=replica, stderr=replica, env=env)
    os.close(replica)
    chunks = []
    while True:
        try:
            data = os.read(primary, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=60) == 0
    os.close(primary)
    out = b"".join(chunks).decode()
    assert "Webull token: PENDING | 5:00 left to approve it in the Webull App" in out
    assert "final: NORMAL" in out and "accounts: 2" in out
