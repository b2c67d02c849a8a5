"""Verification-to-NORMAL latency and per-request signing overhead of a Session.

Baseline: the official SDK (``webull-openapi-python-sdk`` 3.0.4), measured in the same run:
its token loop (``TokenManager.fetch_token_from_server``, checking every 5 s by default)
against its own simulator lanes, and its header generation (``ApiRequest.get_signed_header``).
Run: ``python benchmarks/bench_session.py [--lanes 8 --trials 6]``.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import alternate

from webull_nb.session import Session
from webull_nb.simulator import Simulator

MAX_DELAY = 12.0  # verification happens uniformly within this many seconds of the SMS


def max_checks_in_30s(sim: Simulator) -> tuple[int, int]:
    """Return (most check requests in any 30 s window, number of 429 answers)."""
    times = sorted(t for t, _, path, _ in sim.requests_seen if path.endswith("check"))
    refused = sum(1 for *_, status in sim.requests_seen if status == 429)
    most = 0
    for i, start in enumerate(times):
        most = max(most, sum(1 for t in times[i:] if t - start < 30.0))
    return most, refused


def _verify_after_random_delay(sim: Simulator, known: set[str], rng: random.Random) -> float:
    """Wait for a new SMS, verify it after a random delay; return the monotonic verify time."""
    while True:
        fresh = [m for m in sim.sms_inbox() if m["token"] not in known]
        if fresh:
            break
        time.sleep(0.005)
    sms = fresh[-1]
    known.add(sms["token"])
    time.sleep(rng.uniform(0, MAX_DELAY))
    sim.verify(sms["token"], sms["code"])
    return time.monotonic()


def ours_lane(index: int, trials: int, out: list[float], stats: list[tuple[int, int]]) -> None:
    """Run ``trials`` create-and-verify rounds with a webull-nb Session."""
    rng = random.Random(index)
    with (
        Simulator(app_key=f"bench-ours-{index}", app_secret="s") as sim,
        tempfile.TemporaryDirectory() as tokens,
    ):
        session = Session(sim.app_key, "s", endpoint=sim.url, token_dir=tokens)
        known: set[str] = set()
        for _ in range(trials):
            session.forget_token()
            noticed = threading.Event()
            seen_at: list[float] = []

            def on_status(change, seen_at=seen_at, noticed=noticed) -> None:
                if change["new"] == "NORMAL":
                    seen_at.append(time.monotonic())
                    noticed.set()

            session.observe(on_status, "status")
            session.create_token()
            verified_at = _verify_after_random_delay(sim, known, rng)
            noticed.wait(30)
            session.unobserve(on_status, "status")
            out.append(seen_at[0] - verified_at)
        session.close()
        stats.append(max_checks_in_30s(sim))


failed: list[int] = []


def sdk_lane(index: int, trials: int, out: list[float], stats: list[tuple[int, int]]) -> None:
    """The same rounds with the official SDK's token loop (default 5 s interval)."""
    from webull.core.client import ApiClient
    from webull.core.http.initializer.token.token_manager import TokenManager

    rng = random.Random(1000 + index)
    with (
        Simulator(app_key=f"bench-sdk-{index}", app_secret="s") as sim,
        tempfile.TemporaryDirectory() as tokens,
    ):
        client = ApiClient(sim.app_key, "s", "us", port=80)
        client.add_endpoint("us", sim.url.split("//", 1)[1])
        manager = TokenManager(custom_token_dir=tokens)
        known: set[str] = set()
        for _ in range(trials):
            verified: list[float] = []
            phone = threading.Thread(
                target=lambda verified=verified: verified.append(
                    _verify_after_random_delay(sim, known, rng)
                )
            )
            phone.start()
            try:
                manager.fetch_token_from_server(client, None)
            except Exception:  # the SDK raises on a 429; count the trial as failed
                failed.append(1)
                phone.join()
                time.sleep(30)  # let the service's window drain before the next trial
                continue
            done_at = time.monotonic()
            phone.join()
            out.append(done_at - verified[0])
        stats.append(max_checks_in_30s(sim))


def latency(lanes: int, trials: int) -> None:
    """Print the verification-to-NORMAL latency of both, run side by side."""
    from webull.core.http import protocol_type
    from webull.core.request import set_default_protocol_type

    set_default_protocol_type(protocol_type.HTTP)
    logging.getLogger("webull").setLevel(logging.CRITICAL)
    for name in ("webull.core.http.response", "webull"):
        logging.getLogger(name).handlers.clear()
    results: dict[str, list[float]] = {"webull-nb Session": [], "official SDK loop": []}
    stats: dict[str, list[tuple[int, int]]] = {name: [] for name in results}
    threads = [
        threading.Thread(target=fn, args=(i, trials, results[name], stats[name]))
        for i in range(lanes)
        for name, fn in (("webull-nb Session", ours_lane), ("official SDK loop", sdk_lane))
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(
        f"verification -> NORMAL, {lanes} lanes x {trials} trials each, verification at "
        f"a uniform moment within {MAX_DELAY:.0f} s ({time.monotonic() - started:.0f} s wall)"
    )
    means = {}
    for name, values in results.items():
        means[name] = statistics.mean(values)
        most = max(s[0] for s in stats[name])
        refused = sum(s[1] for s in stats[name])
        sem = statistics.stdev(values) / len(values) ** 0.5
        print(
            f"  {name:18s} mean {means[name]:.2f} s (±{1.96 * sem:.2f} s 95% CI)  "
            f"max {max(values):.2f} s  most checks in 30 s {most}  429s {refused}"
        )
    print(f"  official SDK trials that failed on HTTP 429: {len(failed)}")
    ratio = means["official SDK loop"] / means["webull-nb Session"]
    print(f"  ratio (official mean / webull-nb mean): {ratio:.2f}x")


def overhead() -> None:
    """Print per-request signing cost of session.auth against the SDK's header generation."""
    from webull.core.request import ApiRequest

    with Simulator(environment="uat", app_key="bench-auth", app_secret="s") as sim:
        session = Session(sim.app_key, "s", endpoint=sim.url, environment="uat")
        session.ensure_token()
        prepared = requests.Request(
            "POST",
            sim.url + "/openapi/trade/order/place",
            params={"account_id": "A1", "category": "US_STOCK"},
            json={"symbol": "AAPL", "side": "BUY", "qty": "10", "limit_price": "187.25"},
        ).prepare()
        auth = session.auth
        host = sim.url.split("//", 1)[1]

        def sdk_headers() -> dict:
            request = ApiRequest(
                "/openapi/trade/order/place",
                version="v2",
                method="POST",
                query_params={"account_id": "A1", "category": "US_STOCK"},
                body_params={"symbol": "AAPL", "side": "BUY", "qty": "10", "limit_price": "187.25"},
            )
            return request.get_signed_header(host, "bench-auth", "s")

        results = alternate(
            {"session.auth": lambda: auth(prepared.copy()), "official headers": sdk_headers},
            calls=1000,
        )
        ours, theirs = results["session.auth"], results["official headers"]
        print(
            f"per-request signing: session.auth {ours * 1e6:.1f} us, official SDK "
            f"{theirs * 1e6:.1f} us, ratio {theirs / ours:.1f}x (baseline: official SDK)"
        )
        session.close()


def main() -> None:
    """Run both measurements."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lanes", type=int, default=8)
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    overhead()
    latency(args.lanes, args.trials)


if __name__ == "__main__":
    main()
