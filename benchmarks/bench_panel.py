"""What a live panel costs the kernel, in a real kernel, each against a baseline of the same run.

1. Widget models per panel, with and without the simulated phone (target: at most 3).
   Baseline: one stock ``ipywidgets.HTML``. (Before the anywidget panel: 79 with the phone.)
2. Widget messages per second while a token is PENDING and nothing changes (target: 0).
3. Kernel CPU while PENDING with a panel shown (target: within 0.1 % of a core of the
   baseline). Baselines: the kernel idle with no token, and PENDING with no panel (the
   session's poller alone, which checks every 3.05 s). The simulator runs in a process of
   its own, as Webull's servers would, so the kernel's figures hold only its own work.
4. Create click to PENDING: from the "create" custom message (what the browser sends) to the
   widget message carrying status PENDING. Baseline: ``session.create_token()`` run as a cell.
5. Comms, threads and asyncio tasks left after 100 display/close cycles (target: none).

Run: ``python benchmarks/bench_panel.py [--seconds 30]``. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import tempfile
import time
from pathlib import Path

import jupyter_client

SETUP = """
import asyncio, threading, ipywidgets, webull_nb
from IPython.display import display
import subprocess, sys
from webull_nb.simulator import DEMO_APP_KEY, DEMO_APP_SECRET
# The simulator runs in a process of its own, as Webull's servers would: the kernel's CPU
# figures then hold only what the kernel itself does.
server = subprocess.Popen([sys.executable, "-m", "webull_nb.simulator"],
                          stdout=subprocess.PIPE, text=True)
sim = server.stdout.readline().split()[-1]
session = webull_nb.Session(DEMO_APP_KEY, DEMO_APP_SECRET, endpoint=sim)
kernel = get_ipython().kernel
def comms():
    return len(kernel.comm_manager.comms)
"""

MODELS = """
n = comms(); html = ipywidgets.HTML("baseline"); counts = [comms() - n]
n = comms(); bare = webull_nb.panel(session); counts.append(comms() - n)
n = comms(); phoned = webull_nb.panel(session, simulator=sim); counts.append(comms() - n)
for w in (html, html.layout, html.style, bare, phoned):
    w.close()
print("models", *counts)
"""

SHOW = """
p = webull_nb.panel(session)
display(p)
print("model", p.model_id)
"""

CYCLES = """
p.close()
session.forget_token()
def census():
    loop = asyncio.get_event_loop()
    return (comms(), threading.active_count(),
            len([t for t in asyncio.all_tasks(loop) if not t.done()]))
before = census()
for _ in range(100):
    view = webull_nb.panel(session, simulator=sim)
    display(view)
    view.close()
after = census()
print("census", before, "|", after)
"""


def cpu_seconds(pid: int) -> float:
    """Return user+system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(client, code: str) -> list[dict]:
    """Execute code and return its iopub messages up to idle."""
    msg_id = client.execute(code)
    messages = []
    while True:
        msg = client.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages


def printed(messages: list[dict], prefix: str) -> str:
    """Return the rest of the line a cell printed after ``prefix``."""
    for msg in messages:
        if msg["msg_type"] == "stream":
            for line in msg["content"]["text"].splitlines():
                if line.startswith(prefix + " "):
                    return line[len(prefix) + 1 :]
    raise RuntimeError(f"the cell printed no {prefix!r} line: {messages}")


def watch(client, seconds: float) -> int:
    """Count the widget messages the kernel sends in ``seconds``."""
    count = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            msg = client.get_iopub_msg(timeout=max(0.01, end - time.monotonic()))
        except queue.Empty:
            continue
        if msg["msg_type"] == "comm_msg":
            count += 1
    return count


def cpu_share(client, pid: int, seconds: float) -> tuple[float, int]:
    """Return (share of a core the kernel used, widget messages) over ``seconds``."""
    start = cpu_seconds(pid)
    messages = watch(client, seconds)
    return (cpu_seconds(pid) - start) / seconds, messages


def click_create(client, model_id: str) -> float:
    """Send what the browser sends on Create; return seconds until a PENDING state arrives."""
    content = {"comm_id": model_id, "data": {"method": "custom", "content": {"action": "create"}}}
    msg = client.session.msg("comm_msg", content)
    start = time.perf_counter()
    client.shell_channel.send(msg)
    while True:
        reply = client.get_iopub_msg(timeout=30)
        data = reply["content"].get("data", {}) if reply["msg_type"] == "comm_msg" else {}
        state = data.get("state", {}).get("state", {})
        if state.get("status") == "PENDING":
            return time.perf_counter() - start


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(env={**os.environ, "XDG_STATE_HOME": tempfile.mkdtemp()})
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    s = args.seconds
    try:
        pid = manager.provisioner.process.pid
        run(client, SETUP)
        html, bare, phoned = (int(n) for n in printed(run(client, MODELS), "models").split())
        print(
            f"1. widget models per panel: {bare} without the phone, {phoned} with it "
            f"(baseline, one ipywidgets.HTML: {html}; ratio {phoned / html:.2f}; target <= 3)"
        )

        idle, _ = cpu_share(client, pid, s)
        run(client, "session.create_token()")
        poller, _ = cpu_share(client, pid, s)
        run(client, "session.forget_token()")
        model_id = printed(run(client, SHOW), "model")
        run(client, "session.create_token()")
        shown, messages = cpu_share(client, pid, s)
        print(f"2. widget messages while PENDING, over {s:.0f} s: {messages / s:.2f} per second")
        print(
            f"3. kernel CPU over {s:.0f} s, share of a core: idle {idle:.2%}; PENDING, no panel "
            f"{poller:.2%}; PENDING with a panel {shown:.2%} (panel's own cost "
            f"{shown - poller:+.2%}; vs idle {shown - idle:+.2%})"
        )

        clicks, cells = [], []
        for _ in range(args.rounds):  # alternating; create is limited to 10 per 30 s
            run(client, "session.forget_token()")
            clicks.append(click_create(client, model_id))
            run(client, "session.forget_token()")
            start = time.perf_counter()
            run(client, "session.create_token()")
            cells.append(time.perf_counter() - start)
        click, cell = statistics.median(clicks), statistics.median(cells)
        print(
            f"4. Create click to PENDING state: median {click * 1000:.0f} ms over "
            f"{args.rounds} (baseline, session.create_token() as a cell: {cell * 1000:.0f} ms; "
            f"ratio {click / cell:.2f})"
        )

        before, after = printed(run(client, CYCLES), "census").split(" | ")
        print(
            f"5. (comms, threads, tasks) before / after 100 display/close cycles: "
            f"{before} / {after}"
        )
    finally:
        run(client, "server.terminate(); server.wait()")
        client.stop_channels()
        manager.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
