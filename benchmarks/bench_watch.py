"""CPU of a process that waits on another process's PENDING token (Linux: /proc).

Process A (this one) creates a token and holds the poll lease, checking every 3.05 s; process
B opens a Session on the same token directory and only watches the store, as a second kernel
does. Baselines in the same run: an idle Python process that imported webull_nb, and one that
wakes 20 times a second on ``Event.wait(0.05)`` and does nothing else. B must stay cheap and
still see NORMAL quickly: the time from A's NORMAL to B's is printed too.
Targets (issue 18): B at most 0.15 % of a core; B sees NORMAL within 100 ms of A.
Run: ``python benchmarks/bench_watch.py [--seconds 30]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import verdict

from webull_nb.session import Session
from webull_nb.simulator import Simulator

REPO = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")
TARGET_PERCENT = 0.15
TARGET_NORMAL_MS = 100
WATCHER_NAME = "B: a Session watching a PENDING token"

WATCHER = """
import sys, threading, time
from webull_nb.session import Session
session = Session(sys.argv[2], sys.argv[3], endpoint=sys.argv[1], token_dir=sys.argv[4])
normal = threading.Event()
session.observe(lambda change: change["new"] == "NORMAL" and normal.set(), names=["status"])
print(session.status, flush=True)
normal.wait()
print(time.time(), flush=True)
sys.stdin.readline()
"""
IDLE = """
import sys, webull_nb.session
print("ready", flush=True)
sys.stdin.readline()
"""
TICKER = """
import sys, threading
event = threading.Event()
def tick():
    while not event.wait(0.05):
        pass
threading.Thread(target=tick, daemon=True).start()
print("ready", flush=True)
sys.stdin.readline()
"""


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def main() -> None:
    """Print each process's share of a core while a token is PENDING, and B's NORMAL delay."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    seconds = parser.parse_args().seconds
    with Simulator() as sim, tempfile.TemporaryDirectory() as tokens:
        holder = Session(sim.app_key, sim.app_secret, endpoint=sim.url, token_dir=tokens)
        holder.create_token()
        watcher = start(WATCHER, sim.url, sim.app_key, sim.app_secret, tokens)
        assert watcher.stdout.readline().strip() == "PENDING"
        idle, ticker = start(IDLE), start(TICKER)
        for proc in (idle, ticker):
            assert proc.stdout.readline().strip() == "ready"
        procs = {
            WATCHER_NAME: watcher,
            "idle Python (webull_nb imported)": idle,
            "Event.wait(0.05) loop alone": ticker,
        }
        before = {name: cpu_seconds(proc.pid) for name, proc in procs.items()}
        time.sleep(seconds)
        used = {name: cpu_seconds(proc.pid) - before[name] for name, proc in procs.items()}
        sms = sim.sms_inbox()[-1]
        sim.verify(sms["token"], sms["code"])
        while holder.status != "NORMAL":
            time.sleep(0.001)
        seen_here = time.time()
        seen_there = float(watcher.stdout.readline())
        for proc in procs.values():
            proc.stdin.write("\n")
            proc.stdin.flush()
            proc.wait()
        holder.close()
    step = 100 / (TICKS * seconds)  # the kernel counts CPU time in ticks
    print(f"CPU over {seconds:.0f} s while a token is PENDING (share of one core, +- {step:.3f}):")
    for name, value in used.items():
        print(f"  {name:<40} {100 * value / seconds:6.3f} %")
    ours = 100 * used[WATCHER_NAME] / seconds
    baseline = 100 * used["Event.wait(0.05) loop alone"] / seconds
    print(
        f"B {ours:.3f} % of a core, baseline Event.wait(0.05) loop {baseline:.3f} %, "
        f"target <= {TARGET_PERCENT} %: {verdict(ours <= TARGET_PERCENT)}"
    )
    delay = 1000 * (seen_there - seen_here)
    print(
        f"B saw NORMAL {delay:.0f} ms after A (the poll holder), "
        f"target <= {TARGET_NORMAL_MS} ms: {verdict(delay <= TARGET_NORMAL_MS)}"
    )


if __name__ == "__main__":
    main()
