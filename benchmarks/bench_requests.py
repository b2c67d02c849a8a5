"""Per-request latency of ``session.get`` against the embedded simulator.

Baseline, measured in the same run against the same simulator: a plain unsigned
``requests.get`` on a fresh connection (what a first call costs anyone), and the same on a
kept-alive ``requests.Session``. The signed call reuses its connection too, so it should cost
about what the kept-alive call costs plus signing; a delayed-ACK stall in the server (headers
and body written separately without ``TCP_NODELAY``) shows up as tens of milliseconds.
Target (issue 18): the signed call's median within 2x of the fresh-connection baseline.
Run: ``python benchmarks/bench_requests.py [--calls 500]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import verdict

from webull_nb.session import Session
from webull_nb.simulator import Simulator

PATH = "/trading/accounts/list"
TARGET = 2.0
BASELINE = "requests.get (unsigned, fresh connection)"


def timed(fn, calls: int) -> list[float]:
    """Seconds of each of ``calls`` sequential calls of ``fn``."""
    fn()  # warm: imports, the first connection
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    """Print the median latency of each way of calling, and the ratios to the baselines."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    calls = parser.parse_args().calls
    with Simulator() as sim, tempfile.TemporaryDirectory() as tokens:
        session = Session(sim.app_key, sim.app_secret, endpoint=sim.url, api="v3", token_dir=tokens)
        session.create_token()
        sms = sim.sms_inbox()[-1]
        sim.verify(sms["token"], sms["code"])
        session.check_token()
        assert session.get(PATH).status_code == 200
        kept = requests.Session()
        medians = {
            "session.get (signed, kept alive)": statistics.median(
                timed(lambda: session.get(PATH), calls)
            ),
            BASELINE: statistics.median(
                timed(lambda: requests.get(sim.url + PATH, timeout=5), calls)
            ),
            "requests.Session.get (unsigned, kept alive)": statistics.median(
                timed(lambda: kept.get(sim.url + PATH, timeout=5), calls)
            ),
        }
        session.close()
    ours = medians["session.get (signed, kept alive)"]
    print(f"median of {calls} sequential calls of GET {PATH} against the simulator:")
    for name, value in medians.items():
        print(f"  {name:<45} {value * 1000:8.2f} ms   ours/this {ours / value:6.2f}x")
    ratio = ours / medians[BASELINE]
    print(
        f"session.get {ours * 1000:.2f} ms, baseline {BASELINE} {medians[BASELINE] * 1000:.2f} ms:"
        f" {ratio:.2f}x, target <= {TARGET:.0f}x: {verdict(ratio <= TARGET)}"
    )


if __name__ == "__main__":
    main()
