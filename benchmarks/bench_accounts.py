"""Several processes, one account: SMS sent, 429s, checks per 30 s, and detection latency.

1, 2, 4 and 8 processes share one token directory and each runs the setup cell
(``session.ensure_token()``, through tests/account_worker.py) at the same moment; the phone
approves the first SMS at a uniform moment over two check intervals, starting 1 s after the
first check. The moments are stratified: round k of n draws from the k-th n-th of that
span, so a few rounds already cover every phase of the checks evenly (a uniform moment's
mean, with little of its sampling noise; the printed interval is the plain iid one, wider).
Baseline, in the same run: the same number of processes running the official SDK's token flow
(``ClientInitializer.init_token``, webull-openapi-python-sdk 3.0.4) on one shared token dir,
with its check duration cut to 20 s so that a round ends (the SDK's default is 300 s).

Run: ``python benchmarks/bench_accounts.py [--rounds 20] [--sdk-rounds 5] [--counts 1,2,4,8]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from webull_nb.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "account_worker.py"
SDK_CHECK_DURATION = 20
# Check intervals: webull-nb's (10 per 30.5 s, evenly spaced) and the SDK's default.
INTERVALS = {"webull-nb": 3.05, "official SDK": 5.0}

SDK_WORKER = """
import json, logging, sys, time
from webull.core.client import ApiClient
from webull.core.http import protocol_type
from webull.core.http.initializer.client_initializer import ClientInitializer
from webull.core.request import set_default_protocol_type
logging.disable(logging.CRITICAL)
url, token_dir, key, secret, duration = sys.argv[1:6]
set_default_protocol_type(protocol_type.HTTP)
client = ApiClient(key, secret, "us", port=80, token_check_interval_seconds=5,
                   token_check_duration_seconds=int(duration))
client.add_endpoint("us", url.split("//", 1)[1])
client.set_token_dir(token_dir)
print(json.dumps({"event": "ready", "t": time.time()}), flush=True)
sys.stdin.readline()
try:
    ClientInitializer.init_token(client)
    print(json.dumps({"event": "status", "status": "NORMAL", "t": time.time()}), flush=True)
except Exception as exc:
    print(json.dumps({"event": "error", "message": type(exc).__name__, "t": time.time()}),
          flush=True)
"""


def most_in_30s(times: list[float]) -> int:
    """The most request times in any 30 s window."""
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < s + 30) for i, s in enumerate(times)), default=0)


def _checks(sim: Simulator) -> list[float]:
    """Wall times of the check requests the simulator has seen."""
    return [t for t, _, path, _ in list(sim.requests_seen) if path.endswith("check")]


def run_round(kind: str, count: int, stratum: float) -> dict[str, object]:
    """One round: ``count`` processes of ``kind`` ('webull-nb' or 'official SDK')."""
    # A fresh simulator per round: fresh server-side rate windows and tokens.
    with Simulator() as sim, tempfile.TemporaryDirectory() as tokens:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        if kind == "webull-nb":
            argv = [sys.executable, str(WORKER), sim.url, tokens, "ensure"]
        else:
            argv = [
                sys.executable,
                "-c",
                SDK_WORKER,
                sim.url,
                tokens,
                sim.app_key,
                sim.app_secret,
                str(SDK_CHECK_DURATION),
            ]
        procs = [
            subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
            )
            for _ in range(count)
        ]
        normal_at: dict[int, float] = {}

        def read(index: int, proc: subprocess.Popen[str]) -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                event = json.loads(line)
                if event.get("status") == "NORMAL" and index not in normal_at:
                    normal_at[index] = event["t"]

        for proc in procs:
            assert proc.stdout is not None
            json.loads(proc.stdout.readline())  # ready
        readers = [threading.Thread(target=read, args=(i, p)) for i, p in enumerate(procs)]
        for reader in readers:
            reader.start()
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        end = time.monotonic() + 20
        while not _checks(sim) and time.monotonic() < end:
            time.sleep(0.01)  # the simulator has no event for a request
        # Uniform over two check intervals from the first check: the same as a uniform
        # moment for a user, who cannot know when the checks fall.
        approve_at = _checks(sim)[0] + 1.0 + 2 * INTERVALS[kind] * stratum
        time.sleep(max(0.0, approve_at - time.time()))
        sms = sim.sms_inbox()[0]
        sim.verify(sms["token"], sms["code"])
        approved = time.time()
        for proc in procs:
            try:
                proc.wait(timeout=SDK_CHECK_DURATION + 40)
            except subprocess.TimeoutExpired:
                proc.kill()
        for reader in readers:
            reader.join(5)
        seen = list(sim.requests_seen)
    creates = [t for t, _, path, status in seen if path.endswith("create") and status == 200]
    checks = [t for t, _, path, _ in seen if path.endswith("check")]
    latencies = [normal_at[i] - approved for i in sorted(normal_at)]
    # The latency splits into the wait for the next check (set by the rate limit: half the
    # spacing on average) and what the processes add after the check that saw NORMAL.
    seeing = next((t for t in checks if t >= approved), None)
    after_check = [normal_at[i] - seeing for i in sorted(normal_at)] if seeing else []
    spacing = [b - a for a, b in itertools.pairwise(checks) if b <= (seeing or b)]
    return {
        "after_check": after_check,
        "spacing": spacing,
        "sms": len(creates),
        "429": sum(1 for *_, status in seen if status == 429),
        "checks30": most_in_30s(checks),
        "latencies": latencies,
        "never": count - len(latencies),
    }


def _mean_ci(rounds: list[dict[str, object]]) -> str:
    """Mean latency with a 95% interval over per-round means (one round's processes all
    notice the same check, so they are one sample, not N)."""
    per_round = [statistics.mean(r["latencies"]) for r in rounds if r["latencies"]]  # type: ignore[arg-type]
    if not per_round:
        return "-"
    mean = statistics.mean(per_round)
    if len(per_round) < 2:
        return f"{mean:.2f} s"
    half = 1.96 * statistics.stdev(per_round) / len(per_round) ** 0.5
    return f"{mean:.2f} s (±{half:.2f})"


def main() -> None:
    """Run every process count for both, side by side, and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of webull-nb per count")
    parser.add_argument(
        "--sdk-rounds", type=int, default=None, help="rounds of the baseline (default: --rounds)"
    )
    parser.add_argument("--counts", default="1,2,4,8")
    args = parser.parse_args()
    rng = random.Random(20261129)
    print(
        f"{'processes':>9}  {'who':12}  {'SMS/round':>9}  {'429s':>4}  {'checks/30s':>10}  "
        f"{'latency mean (95% CI)':>21}  {'max':>6}  never NORMAL"
    )
    for count in (int(c) for c in args.counts.split(",")):
        for kind in ("webull-nb", "official SDK"):
            n = args.rounds if kind == "webull-nb" else (args.sdk_rounds or args.rounds)
            strata = [(k + rng.random()) / n for k in range(n)]
            rng.shuffle(strata)
            rounds = [run_round(kind, count, stratum) for stratum in strata]
            latencies = [x for r in rounds for x in r["latencies"]]  # type: ignore[attr-defined]
            after = [x for r in rounds for x in r["after_check"]]  # type: ignore[attr-defined]
            gaps = [x for r in rounds for x in r["spacing"]]  # type: ignore[attr-defined]
            mean = _mean_ci(rounds)
            worst = f"{max(latencies):.2f} s" if latencies else "-"
            print(
                f"{count:>9}  {kind:12}  "
                f"{statistics.mean(r['sms'] for r in rounds):>9.1f}  "  # type: ignore[misc]
                f"{sum(r['429'] for r in rounds):>4}  "  # type: ignore[misc]
                f"{max(r['checks30'] for r in rounds):>10}  "  # type: ignore[type-var]
                f"{mean:>21}  {worst:>6}  "
                f"{sum(r['never'] for r in rounds)} of {count * n}",  # type: ignore[misc]
                flush=True,
            )
            if after and gaps:
                print(
                    f"{'':>9}  {'':12}  checks {statistics.mean(gaps):.2f} s apart while "
                    f"PENDING; NORMAL seen {1000 * statistics.mean(after):.0f} ms (max "
                    f"{1000 * max(after):.0f} ms) after the check that saw it",
                    flush=True,
                )


if __name__ == "__main__":
    main()
