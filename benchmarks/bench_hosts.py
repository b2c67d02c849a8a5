"""Many hosts, one account: N hosts sharing a Redis store against N hosts with their own files.

N = 1, 4 and 16 "hosts" (tests/account_worker.py processes, each with its own HOME and token
directory, sharing only the Redis URL) run the setup cell (``session.ensure_token()``) at the
same moment against one simulator on the real clock. The token stays PENDING for ``--pending``
seconds from the first SMS; then the phone approves every SMS it got 0.5 s after a check the
server answered, so each round waits the same for the next check and what differs between
counts is what the hosts add after it. Per round: SMS sent (tokens issued; create calls too if
they differ), 429 answers, the most checks the server saw in any 30 s, each host's latency
from the approval to NORMAL (median, max, and the max from the first check answered after
the approval), and Redis commands per host per minute while PENDING (from ``--settle`` s
after the first SMS to the approval) and while NORMAL (``--normal`` s, once every host is
NORMAL), from the server's ``total_commands_processed`` (the commands Lua scripts run count
too; the busiest commands from ``INFO commandstats`` are printed below the table).

Baselines, in the same run and with the same N: webull-nb on the file store, each host with its
own token directory (what several machines do today: a token, an SMS and a poller each), and
the official SDK's token flow (``ClientInitializer.init_token``, webull-openapi-python-sdk
3.0.4, checking every 5 s; bench_accounts.py's worker), each host with its own token
directory. The server's own limit (10 creates in 30 s) caps their SMS at 10; the SDK gives up
at its first 429.
Targets (issue 19), for the Redis store: 1 SMS, 0 x 429, at most 10 checks in any 30 s, and the
max latency within 0.2 s of the one-host figure.

Run: ``python benchmarks/bench_hosts.py [--quick] [--counts 1,4,16] [--pending 35]
[--normal 60]``. Needs ``redis-server`` on PATH and the ``redis`` extra. The default run, one
round per count and kind, one round at a time, takes about 11 minutes; ``--quick`` (N = 1 and
4, 6 s PENDING, 8 s NORMAL, a count's three rounds side by side) about 50 s.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _util import verdict
from bench_accounts import SDK_WORKER, WORKER, most_in_30s
from redis_server import RedisServer

from webull_nb.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent
REDIS, FILES, SDK = "webull-nb, Redis", "webull-nb, files", "official SDK"
APPROVE_AFTER_CHECK = 0.5  # the phone approves this long after a check the server answered
AFTER_APPROVAL = 60.0  # how long every host gets to show NORMAL after the approval
TARGET_CHECKS_30S = 10
TARGET_LATENCY_SLACK = 0.2


class Host:
    """One host process and what it reported: when it was ready, NORMAL, or failed."""

    def __init__(self, argv: list[str], home: Path, env: dict[str, str]) -> None:
        """Start ``argv`` with HOME at ``home``; it waits for a line on stdin to begin."""
        home.mkdir(parents=True)
        with open(home / "stderr.log", "w") as log:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env={**env, "HOME": str(home)},
            )
        self.ready = threading.Event()
        self.settled = threading.Event()  # NORMAL, an error, or the process ended
        self.normal_at: float | None = None
        self.error: str | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)
            kind = event["event"]
            if kind == "ready":
                self.ready.set()
            elif kind in ("status", "done") and event.get("status") == "NORMAL":
                if self.normal_at is None:
                    self.normal_at = event["t"]
                    self.settled.set()
            elif kind == "error":
                self.error = event.get("type") or event.get("message")
                self.settled.set()
        self.ready.set()
        self.settled.set()

    def send(self, line: str = "go") -> None:
        """Write one line to the host's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self) -> None:
        """Let the host end (EOF on stdin releases a held session), killing it after a while."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)


def calls(seen: list[tuple[float, str, str, int]], suffix: str) -> list[tuple[float, int]]:
    """(wall time, HTTP status) of the simulator's requests whose path ends in ``suffix``."""
    return [(t, status) for t, _, path, status in seen if path.endswith(suffix)]


def wait_for(condition: Any, timeout: float) -> Any:
    """Return ``condition()`` once truthy (or its last value after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.01)  # the simulator has no event for a request or an SMS
    return value


def sleep_until(moment: float) -> None:
    """Sleep until the wall clock reads ``moment``."""
    time.sleep(max(0.0, moment - time.time()))


class RedisMeter:
    """Commands a Redis server ran between two snapshots (its own INFO calls left out)."""

    def __init__(self, server: RedisServer) -> None:
        """Connect once, so that this client's connection set-up falls before any window."""
        import redis

        self.client = redis.Redis(host="127.0.0.1", port=server.port, decode_responses=True)
        self.client.ping()

    def snapshot(self) -> dict[str, int]:
        """Total commands so far and calls per command, from one ``INFO all``."""
        info = self.client.info("all")
        counts = {
            name.removeprefix("cmdstat_"): stats["calls"]
            for name, stats in info.items()
            if name.startswith("cmdstat_") and name != "cmdstat_info"
        }
        counts[" total"] = info["total_commands_processed"]
        return counts

    @staticmethod
    def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
        """Per-command calls between two snapshots; ``" total"`` less the one INFO counted."""
        spent = {name: after[name] - before.get(name, 0) for name in after}
        spent[" total"] -= 1  # the first snapshot's INFO is counted in the second's total
        return {name: count for name, count in spent.items() if count > 0}

    def close(self) -> None:
        """Close the connection."""
        self.client.close()


def host_argv(kind: str, sim: Simulator, token_dir: Path, duration: float) -> list[str]:
    """The command line of one host of ``kind``."""
    if kind == SDK:
        return [
            sys.executable,
            "-c",
            SDK_WORKER,
            sim.url,
            str(token_dir),
            sim.app_key,
            sim.app_secret,
            str(int(duration)),
        ]
    return [sys.executable, str(WORKER), sim.url, str(token_dir), "ensure"]


def run_round(kind: str, count: int, args: argparse.Namespace) -> dict[str, Any]:
    """One round: ``count`` hosts of ``kind`` run the token flow at once; the phone approves."""
    env = {k: v for k, v in os.environ.items() if k != "WEBULL_NB_STORE"}
    env["PYTHONPATH"] = str(ROOT)
    if kind != SDK:
        env["WORKER_HOLD"] = "1"
        env["WORKER_TIMEOUT"] = str(args.pending + AFTER_APPROVAL + 30)
    result: dict[str, Any] = {"pending_cmds": None, "normal_cmds": None}
    hosts: list[Host] = []
    # Unwound last first: the hosts end before Redis, the simulator and their directories go.
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        sim = stack.enter_context(Simulator())
        meter = None
        if kind == REDIS:
            server = stack.enter_context(RedisServer())
            env["WORKER_STORE"] = server.url
            meter = RedisMeter(server)
            stack.callback(meter.close)
        stack.callback(lambda: [host.finish() for host in hosts])
        duration = args.pending + AFTER_APPROVAL
        for n in range(count):
            home = tmp / f"host{n}"
            hosts.append(Host(host_argv(kind, sim, home / "tokens", duration), home, env))
        for host in hosts:
            host.ready.wait(60)
        for host in hosts:
            host.send()
        inbox = wait_for(sim.sms_inbox, 30)
        if not inbox:
            raise RuntimeError(f"{kind}: no SMS within 30 s of the start")
        first_sms = min(sms["sent_at"] for sms in inbox)
        if meter:
            sleep_until(first_sms + args.settle)
            pending_from, pending_snap = time.time(), meter.snapshot()
        sleep_until(first_sms + args.pending)
        # Approve at a fixed phase: just after a check the server answered (PENDING).
        now = time.time()
        seen = wait_for(
            lambda: [
                t
                for t, status in calls(list(sim.requests_seen), "check")
                if t > now and status == 200
            ],
            30,
        )
        sleep_until((seen[0] if seen else now) + APPROVE_AFTER_CHECK)
        if meter:
            spent = meter.delta(pending_snap, meter.snapshot())
            result["pending_cmds"] = per_host_minute(spent, count, time.time() - pending_from)
            result["pending_top"] = spent
        inbox = sim.sms_inbox()
        for sms in inbox:  # the user approves every prompt their phone shows
            sim.verify(sms["token"], sms["code"])
        approved = time.time()
        for host in hosts:
            host.settled.wait(max(0.0, approved + AFTER_APPROVAL - time.time()))
        normal = [h.normal_at for h in hosts if h.normal_at is not None]
        if meter and len(normal) == count:
            sleep_until(max(normal) + args.settle)
            before, start = meter.snapshot(), time.time()
            time.sleep(args.normal)
            spent = meter.delta(before, meter.snapshot())
            result["normal_cmds"] = per_host_minute(spent, count, time.time() - start)
            result["normal_top"] = spent
        seen_calls = list(sim.requests_seen)
    checks = [t for t, _ in calls(seen_calls, "check")]
    seeing = next(
        (t for t, status in calls(seen_calls, "check") if t >= approved and status == 200),
        None,
    )
    creates = [t for t, status in calls(seen_calls, "create") if status == 200]
    result.update(
        sms=len(inbox),
        creates=len(creates),
        refused=sum(1 for *_, status in seen_calls if status == 429),
        checks30=most_in_30s(checks),
        latencies=[t - approved for t in normal],
        after_check=[t - seeing for t in normal] if seeing else [],
        never=count - len(normal),
        errors=Counter(h.error for h in hosts if h.error),
    )
    return result


def per_host_minute(spent: dict[str, int], count: int, seconds: float) -> float:
    """Commands per host per minute over a window of ``seconds``."""
    return spent.get(" total", 0) / count / seconds * 60


def top(spent: dict[str, int], limit: int = 6) -> str:
    """The busiest commands of a window, as ``name calls`` pairs."""
    named = sorted(((n, c) for n, c in spent.items() if n != " total"), key=lambda x: -x[1])
    return ", ".join(f"{name} {calls}" for name, calls in named[:limit]) or "none"


def seconds(values: list[float], pick: Any) -> str:
    """``pick(values)`` in seconds, or a dash when no host got there."""
    return f"{pick(values):.2f} s" if values else "-"


def rate(value: float | None) -> str:
    """A per-host-per-minute figure, or a dash when not measured."""
    return "-" if value is None else f"{value:.1f}"


def row(count: int, kind: str, r: dict[str, Any]) -> str:
    """One line of the table."""
    return (
        f"{count:>5}  {kind:16}  {r['sms']:>3}  {r['refused']:>4}  {r['checks30']:>10}  "
        f"{seconds(r['latencies'], statistics.median):>8}  {seconds(r['latencies'], max):>8}  "
        f"{seconds(r['after_check'], max):>11}  {r['never']:>6}  "
        f"{rate(r['pending_cmds']):>13}  {rate(r['normal_cmds']):>12}"
    )


def ratio(ours: float, theirs: float) -> str:
    """``ours / theirs`` as " (0.25x)", or nothing when either is zero."""
    return f" ({ours / theirs:.2f}x)" if ours and theirs else ""


def against(r: dict[str, Any], base: dict[str, Any], name: str) -> str:
    """The Redis store's round against a baseline's round of the same N, with ratios."""
    ours, theirs = max(r["latencies"], default=0.0), max(base["latencies"], default=0.0)
    latency = f"{ours:.2f} s vs {theirs:.2f} s{ratio(ours, theirs)}" if theirs else "- (none)"
    return (
        f"against {name}: SMS {r['sms']} vs {base['sms']}{ratio(r['sms'], base['sms'])}, "
        f"429s {r['refused']} vs {base['refused']}, checks in 30 s {r['checks30']} vs "
        f"{base['checks30']}{ratio(r['checks30'], base['checks30'])}, max latency {latency}, "
        f"NORMAL on {len(r['latencies'])} vs {len(base['latencies'])} hosts"
    )


def targets(r: dict[str, Any], one_host: dict[str, Any] | None) -> str:
    """The targets beside the Redis store's figures, each with its verdict."""
    parts = [
        f"{r['sms']} SMS (target 1): {verdict(r['sms'] == 1)}",
        f"{r['refused']} x 429 (target 0): {verdict(r['refused'] == 0)}",
        f"{r['checks30']} checks in 30 s (target <= {TARGET_CHECKS_30S}): "
        f"{verdict(r['checks30'] <= TARGET_CHECKS_30S)}",
    ]
    if one_host and one_host["latencies"] and r["latencies"] and not r["never"]:
        mine, base = max(r["latencies"]), max(one_host["latencies"])
        parts.append(
            f"max latency {mine:.2f} s vs {base:.2f} s on one host (target <= +"
            f"{TARGET_LATENCY_SLACK} s): {verdict(mine <= base + TARGET_LATENCY_SLACK)}"
        )
    else:
        parts.append("max latency: no one-host figure or a host never NORMAL")
    return "; ".join(parts)


def main() -> None:
    """Run every count for the Redis store and both baselines; print the table and targets."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 1, 4; short PENDING/NORMAL")
    parser.add_argument("--counts", default=None, help="host counts (default 1,4,16)")
    parser.add_argument("--pending", type=float, default=None, help="s PENDING (default 35)")
    parser.add_argument("--normal", type=float, default=None, help="s NORMAL measured (60)")
    parser.add_argument("--settle", type=float, default=None, help="s before a window (3)")
    parser.add_argument(
        "--side-by-side",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run a count's three rounds at once (default with --quick only)",
    )
    args = parser.parse_args()
    quick = {"counts": "1,4", "pending": 6.0, "normal": 8.0, "settle": 2.0, "side_by_side": True}
    full = {
        "counts": "1,4,16",
        "pending": 35.0,
        "normal": 60.0,
        "settle": 3.0,
        "side_by_side": False,
    }
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    kinds = [REDIS, FILES]
    if importlib.util.find_spec("webull") is not None:
        kinds.append(SDK)
        sdk = importlib.metadata.version("webull-openapi-python-sdk")
    else:
        print("(the official SDK is not installed: its baseline is left out)")
    started = time.monotonic()
    print(
        f"{args.pending:.0f} s PENDING from the first SMS, approval {APPROVE_AFTER_CHECK} s after "
        f"a check; Redis commands/host/min over {args.pending - args.settle:.0f}+ s PENDING and "
        f"{args.normal:.0f} s NORMAL"
    )
    print(
        f"{'hosts':>5}  {'who':16}  {'SMS':>3}  {'429s':>4}  {'checks/30s':>10}  "
        f"{'latency':>8}  {'max':>8}  {'after check':>11}  {'never':>6}  "
        f"{'cmds PENDING':>13}  {'cmds NORMAL':>12}"
    )
    results: dict[tuple[int, str], dict[str, Any]] = {}
    notes: list[str] = []
    for count in (int(c) for c in args.counts.split(",")):
        if args.side_by_side:
            # Each kind has its own simulator and Redis: rounds side by side share only CPU.
            with ThreadPoolExecutor(len(kinds)) as pool:
                rounds = list(pool.map(run_round, kinds, [count] * len(kinds), [args] * len(kinds)))
        else:
            rounds = [run_round(kind, count, args) for kind in kinds]
        for kind, r in zip(kinds, rounds, strict=True):
            results[count, kind] = r
            print(row(count, kind, r), flush=True)
            if r["creates"] != r["sms"]:
                notes.append(f"N={count} {kind}: {r['creates']} create calls answered 200")
            if r["errors"]:
                failed = ", ".join(f"{n} with {e}" for e, n in sorted(r["errors"].items()))
                notes.append(f"N={count} {kind}: hosts failed: {failed}")
            for phase in ("pending", "normal"):
                if f"{phase}_top" in r:
                    notes.append(
                        f"N={count} {kind}: busiest Redis commands while {phase.upper()}: "
                        f"{top(r[f'{phase}_top'])}"
                    )
    print()
    print("latency: approval to NORMAL on each host (median, max); after check: the max from")
    print("the first check answered after the approval to a host's NORMAL (what the hosts add to")
    print(f"the wait for that check); never: hosts not NORMAL {AFTER_APPROVAL:.0f} s after the")
    print("approval (failed, or still waiting); cmds: Redis commands per host per minute")
    for note in notes:
        print(note)
    print()
    one_host = results.get((1, REDIS))
    for count in (int(c) for c in args.counts.split(",")):
        r = results[count, REDIS]
        print(f"N={count} {REDIS}: {targets(r, one_host)}")
        print(f"  {against(r, results[count, FILES], 'webull-nb on files, own dirs')}")
        if SDK in kinds:
            print(f"  {against(r, results[count, SDK], f'the official SDK {sdk}, own dirs')}")
    print(f"\n(run took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
