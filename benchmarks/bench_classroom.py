"""A class on one server: 60 students' sessions at once against one class server.

The server is ``python -m webull_nb.simulator --students N+1`` in a process of its own (so its
CPU time and threads can be read from /proc). Each student, as in class: a ``Session`` on
their own key pair and token directory creates a token, their simulated phone (signed control
requests) enters the SMS code, the session's poller sees NORMAL, then it sends signed GETs.
The students run in ``--workers`` client processes (threads inside), so the clients' own GIL
does not stand in for the server's latency.

Baseline, in the same run against the same server: one student alone (the extra one), the same
signed GET sent ``--alone`` times in a row before the class starts. Reported: errors (any
exception or non-200; want 0), p50 and p99 latency of a signed GET under the class against the
student alone, the server's CPU seconds during the class (and as a share of one core), and its
most threads at once.

Students wait ``--pace`` seconds between GETs (reading the answer); ``--pace 0`` fires them back
to back, a saturation test rather than a class.
Run: ``python benchmarks/bench_classroom.py [--students 60] [--workers 6] [--gets 30]
[--pace 0.5]`` (about 30 s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import verdict

PATH = "/trading/accounts/list"
TARGET_ERRORS = 0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _student(url: str, key: str, secret: str, home: Path, gets: int, pace: float) -> dict[str, Any]:
    """One student's hour, compressed: create, approve on the phone, poll to NORMAL, GETs."""
    from webull_nb.session import Session
    from webull_nb.simulator.control import SimControl

    latencies: list[float] = []
    errors: list[str] = []
    try:
        with Session(key, secret, endpoint=url, token_dir=home) as session:
            session.create_token()
            phone = SimControl(url, credentials=(key, secret))
            deadline = time.monotonic() + 30
            while not phone.sms_inbox():
                if time.monotonic() > deadline:
                    raise TimeoutError("no SMS reached the phone")
                time.sleep(0.1)
            phone.approve_latest()
            session.check_soon()
            if session.wait(60, progress=False) != "NORMAL":
                raise RuntimeError(f"the token stayed {session.status}")
            for _ in range(gets):
                started = time.perf_counter()
                response = session.get(PATH)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors.append(f"HTTP {response.status_code}")
                time.sleep(pace)  # a student reads the answer before the next cell
    except Exception as exc:  # a benchmark counts failures rather than stopping at one
        errors.append(f"{type(exc).__name__}: {exc}")
    return {"latencies": latencies, "errors": errors}


def worker() -> None:
    """A client process: students from stdin (JSON), results to stdout (JSON)."""
    job = json.loads(sys.stdin.read())
    base = Path(job["home"])
    with ThreadPoolExecutor(len(job["students"])) as pool:
        futures = [
            pool.submit(
                _student,
                job["url"],
                s["app_key"],
                s["app_secret"],
                base / s["student"],
                job["gets"],
                job["pace"],
            )
            for s in job["students"]
        ]
        results = [f.result() for f in futures]
    print(json.dumps(results))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def _alone(url: str, key: str, secret: str, home: Path, calls: int) -> list[float]:
    """The baseline: one student on the server, the same signed GET ``calls`` times."""
    from webull_nb.session import Session
    from webull_nb.simulator.control import SimControl

    with Session(key, secret, endpoint=url, token_dir=home) as session:
        session.create_token()
        phone = SimControl(url, credentials=(key, secret))
        while not phone.sms_inbox():
            time.sleep(0.05)
        phone.approve_latest()
        session.check_soon()
        assert session.wait(60, progress=False) == "NORMAL", session.status
        session.get(PATH)  # warm the connection
        latencies = []
        for _ in range(calls):
            started = time.perf_counter()
            session.get(PATH).raise_for_status()
            latencies.append(time.perf_counter() - started)
        return latencies


def main() -> int:
    """Run the class and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--gets", type=int, default=30, help="signed GETs per student")
    parser.add_argument("--alone", type=int, default=300, help="GETs of the lone student")
    parser.add_argument(
        "--pace", type=float, default=0.5, help="seconds a student waits between GETs"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        roster_path = Path(tmp) / "roster.json"
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "webull_nb.simulator",
                "--students",
                str(args.students + 1),
                "--roster",
                str(roster_path),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            first = server.stdout.readline().strip() if server.stdout else ""
            url = first.rsplit(" ", 1)[-1]
            roster = json.loads(roster_path.read_text())
            lone, *students = roster["students"]
            alone = _alone(
                url, lone["app_key"], lone["app_secret"], Path(tmp) / "alone", args.alone
            )
            threads_seen = [_threads(server.pid)]
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.wait(0.2):
                    threads_seen.append(_threads(server.pid))

            sampler = threading.Thread(target=sample, daemon=True)
            cpu_before, started = _cpu_seconds(server.pid), time.monotonic()
            sampler.start()
            groups = [students[i :: args.workers] for i in range(args.workers)]
            procs = [
                subprocess.Popen(
                    [sys.executable, __file__, "--worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for group in groups
                if group
            ]
            for proc, group in zip(procs, groups, strict=False):
                job = {
                    "url": url,
                    "students": group,
                    "gets": args.gets,
                    "home": tmp,
                    "pace": args.pace,
                }
                assert proc.stdin is not None
                proc.stdin.write(json.dumps(job))
                proc.stdin.close()
            results: list[dict[str, Any]] = []
            for proc in procs:
                assert proc.stdout is not None
                out = proc.stdout.read()  # stdin is closed already: communicate() would fail
                proc.wait(timeout=600)
                results.extend(json.loads(out))
            elapsed = time.monotonic() - started
            cpu = _cpu_seconds(server.pid) - cpu_before
            sampling.set()
            sampler.join()
        finally:
            server.terminate()
            server.wait(timeout=10)
    latencies = [t for r in results for t in r["latencies"]]
    errors = [e for r in results for e in r["errors"]]
    p50, p99 = _percentile(latencies, 0.5) * 1000, _percentile(latencies, 0.99) * 1000
    a50, a99 = _percentile(alone, 0.5) * 1000, _percentile(alone, 0.99) * 1000
    print(
        f"{args.students} students at once on one class server ({args.workers} client "
        f"processes; each creates, approves, polls, then sends {args.gets} signed GETs "
        f"{args.pace:g} s apart):"
    )
    print(
        f"  errors                          {len(errors):6d}   target {TARGET_ERRORS}: "
        f"{verdict(len(errors) <= TARGET_ERRORS)}"
    )
    for error in sorted(set(errors))[:5]:
        print(f"    {errors.count(error)} x {error}")
    print(
        f"  signed GET p50, class           {p50:7.2f} ms   alone {a50:6.2f} ms   "
        f"class/alone {p50 / a50:5.2f}x"
    )
    print(
        f"  signed GET p99, class           {p99:7.2f} ms   alone {a99:6.2f} ms   "
        f"class/alone {p99 / a99:5.2f}x"
    )
    print(
        f"  server CPU during the class     {cpu:7.2f} s    over {elapsed:.1f} s "
        f"({100 * cpu / elapsed:.0f}% of one core)"
    )
    print(f"  server threads, most at once    {max(threads_seen):7d}")
    return 0 if len(errors) <= TARGET_ERRORS else 1


if __name__ == "__main__":
    sys.exit(main())
