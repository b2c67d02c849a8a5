"""Per-request latency of ``session.get`` against the embedded simulator.

Baseline, measured in the same run against the same simulator: a plain unsigned
``requests.get`` on a fresh connection (what a first call costs anyone), and the same on a
kept-alive ``requests.Session``. The signed call reuses its connection too, so it should cost
about what the kept-alive call costs plus signing; a delayed-ACK stall in the server (headers
and body written separately without ``TCP_NODELAY``) shows up as tens of milliseconds.
Run: ``python benchmarks/bench_requests.py [--calls 500]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import requests

from webull_nb.session import Session
from webull_nb.simulator import Simulator

PATH = "/trading/accounts/list"


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
            "requests.get (unsigned, fresh connection)": statistics.median(
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


if __name__ == "__main__":
    main()
