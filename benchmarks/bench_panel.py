"""Kernel cost of a live panel, and leaks over display/close cycles, in a real kernel.

Measures (1) the kernel process's CPU while one panel shows a PENDING countdown for
``--seconds`` (default 60) and the widget messages per second it sends; (2) live comms,
threads and asyncio tasks after 100 display/close cycles. Baseline for (1): the same kernel
idle for the same time, measured in the same run.
Run: ``python benchmarks/bench_panel.py [--seconds 60]``.
"""

from __future__ import annotations

import argparse
import os
import queue
import tempfile
import time
from pathlib import Path

import jupyter_client

SETUP = """
import asyncio, threading, webull_nb
from IPython.display import display
from webull_nb.simulator import Simulator
sim = Simulator().start()
session = webull_nb.Session(sim.app_key, sim.app_secret, endpoint=sim.url)
"""

SHOW = """
p = webull_nb.panel(session)
display(p)
session.create_token()
"""

CYCLES = """
p.close()
def census():
    kernel = get_ipython().kernel
    loop = asyncio.get_event_loop()
    return (len(kernel.comm_manager.comms), threading.active_count(),
            len([t for t in asyncio.all_tasks(loop) if not t.done()]))
before = census()
for _ in range(100):
    view = webull_nb.panel(session)
    display(view)
    view.close()
after = census()
print("census", before, after)
"""


def cpu_seconds(pid: int) -> float:
    """Return user+system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(client, code: str) -> list[dict]:
    """Execute code and return the iopub messages up to idle."""
    msg_id = client.execute(code)
    messages = []
    while True:
        msg = client.get_iopub_msg(timeout=120)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages


def watch(client, seconds: float) -> int:
    """Count widget update messages the kernel sends in ``seconds``."""
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


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    manager = jupyter_client.KernelManager(kernel_name="python3")
    env = {**os.environ, "XDG_STATE_HOME": tempfile.mkdtemp()}
    manager.start_kernel(env=env)
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    try:
        pid = manager.provisioner.process.pid
        run(client, SETUP)
        start = cpu_seconds(pid)
        watch(client, args.seconds)
        idle = cpu_seconds(pid) - start
        run(client, SHOW)
        start = cpu_seconds(pid)
        messages = watch(client, args.seconds)
        busy = cpu_seconds(pid) - start
        print(
            f"kernel CPU over {args.seconds:.0f} s: idle baseline {idle / args.seconds:.2%}"
            f" of a core, with a PENDING panel {busy / args.seconds:.2%} of a core "
            f"(+{(busy - idle) / args.seconds:.2%})"
        )
        print(f"widget messages: {messages / args.seconds:.2f} per second")
        for msg in run(client, CYCLES):
            if msg["msg_type"] == "stream":
                print(
                    "after 100 display/close cycles (comms, threads, tasks):",
                    msg["content"]["text"].strip().removeprefix("census "),
                )
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


if __name__ == "__main__":
    main()
