"""Import time of ``from webull_nb import Session`` against ``import requests``.

Baseline: ``import requests`` (which the Session needs anyway), in the same run. Each import
runs in a fresh interpreter, alternating, several runs; the medians are compared. Both use
bytecode written once to a scratch cache (``PYTHONPYCACHEPREFIX``), as an installed package
does, so neither pays for compiling its source.
Target: at most 1.5x the baseline. Issue 18 measured 247 ms against 148 ms, 29 ms of it
``asyncio`` imported by ``waiting.py``; without that cost, (247 - 29) / 148 = 1.47x.
Run: ``python benchmarks/bench_import.py [--runs 9]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import verdict

REPO = Path(__file__).resolve().parent.parent
TARGET = 1.5
TIMED = (
    "import sys, time; start = time.perf_counter(); {statement}; "
    "took = time.perf_counter() - start; "
    "print(took * 1000, 'asyncio' in sys.modules, 'ipywidgets' in sys.modules)"
)
STATEMENTS = ("from webull_nb import Session", "import requests")


def run(statement: str, env: dict[str, str]) -> tuple[float, bool, bool]:
    """Milliseconds ``statement`` took in a fresh interpreter; asyncio, ipywidgets loaded?."""
    code = TIMED.format(statement=statement)
    ms, asyncio, widgets = subprocess.check_output(
        [sys.executable, "-c", code], env=env, text=True
    ).split()
    return float(ms), asyncio == "True", widgets == "True"


def main() -> None:
    """Print each median, the ratio to ``import requests`` and the verdict."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONPYCACHEPREFIX": cache}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        loaded = {statement: run(statement, env)[1:] for statement in STATEMENTS}  # compiles
        samples: dict[str, list[float]] = {statement: [] for statement in STATEMENTS}
        for _ in range(runs):
            for statement in STATEMENTS:
                samples[statement].append(run(statement, env)[0])
    medians = {statement: statistics.median(values) for statement, values in samples.items()}
    print(f"median of {runs} fresh interpreters each, bytecode cached:")
    for statement, value in medians.items():
        asyncio, widgets = loaded[statement]
        print(
            f"  {statement:<32} {value:7.1f} ms  (min {min(samples[statement]):.1f})  "
            f"loads asyncio: {'yes' if asyncio else 'no'}, ipywidgets: {'yes' if widgets else 'no'}"
        )
    ours, baseline = medians["from webull_nb import Session"], medians["import requests"]
    ratio = ours / baseline
    print(
        f"from webull_nb import Session {ours:.1f} ms, baseline import requests {baseline:.1f} ms:"
        f" {ratio:.2f}x, target <= {TARGET}x: {verdict(ratio <= TARGET)}"
    )


if __name__ == "__main__":
    main()
