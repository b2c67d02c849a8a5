"""Small helpers shared by the benchmarks: alternating timing rounds, the verdict line."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def per_call_seconds(fn: Callable[[], object], calls: int) -> float:
    """Return the mean seconds per call of ``fn`` over ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def alternate(
    candidates: dict[str, Callable[[], object]], rounds: int = 7, calls: int = 2000
) -> dict[str, float]:
    """Time candidates in alternating rounds and return each one's median seconds per call."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for fn in candidates.values():
        fn()  # warm caches and imports before timing
    for _ in range(rounds):
        for name, fn in candidates.items():
            samples[name].append(per_call_seconds(fn, calls))
    return {name: statistics.median(values) for name, values in samples.items()}


def verdict(meets: bool) -> str:
    """The word a benchmark prints after its figure, baseline and target."""
    return "meets" if meets else "MISSES"
