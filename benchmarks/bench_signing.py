"""Signatures per second: webull_nb.sign against the official SDK's calc_signature.

Baseline: ``webull.core.auth.composer.default_signature_composer.calc_signature`` from
``webull-openapi-python-sdk`` 3.0.4, measured in the same run, in alternating rounds.
Run: ``python benchmarks/bench_signing.py``. Also reports ``import webull_nb`` time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import alternate

from webull_nb.signing import sign

APP_KEY = "4283fefc63f0cd0e873a0000c6d07ef7"
APP_SECRET = "b77e90d3593ad699fc1f7cd5bb2e35cb"
HOST = "api.webull.com"
PATH = "/openapi/trade/order/place"
QUERY = {"account_id": "ACC123456", "category": "US_STOCK", "symbol": "AAPL", "page_size": 20}
BODY = {
    "client_order_id": "c0ffee00-1234",
    "side": "BUY",
    "qty": "10",
    "order_type": "LIMIT",
    "limit_price": "187.25",
    "tif": "DAY",
}
WIRE_BODY = json.dumps(BODY, ensure_ascii=False, separators=(",", ":"))


def import_time_ms(runs: int = 5) -> float:
    """Return the best wall time of ``import webull_nb`` in a fresh interpreter, in ms."""
    code = "import time; t=time.perf_counter(); import webull_nb; print(time.perf_counter()-t)"
    times = [
        float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(runs)
    ]
    return min(times) * 1000


def main() -> None:
    """Print both rates and the ratio, like for like: the same inputs, each signer's own work.

    GET: the same query dict, no body. POST: the same dict body, which the official signer
    JSON-encodes itself; ours is timed with its own encoding (``compact_json``) included.
    """
    from webull.core.auth.composer import default_signature_composer as sdk

    from webull_nb.client import compact_json

    print(f"request: {PATH}, {len(QUERY)} query params; POST adds a {len(WIRE_BODY)}-byte body")
    for method in ("GET", "POST"):
        body = BODY if method == "POST" else None
        for algorithm in ("HMAC-SHA1", "HMAC-SHA256"):
            results = alternate(
                {
                    "webull_nb.sign": lambda a=algorithm, b=body: sign(
                        APP_KEY,
                        APP_SECRET,
                        host=HOST,
                        path=PATH,
                        query=QUERY,
                        body=compact_json(b) if b is not None else None,
                        algorithm=a,
                    ),
                    # The SDK always signs HMAC-SHA256, whatever is asked: the baseline for both.
                    "official calc_signature": lambda b=body: sdk.calc_signature(
                        {}, HOST, PATH, QUERY, b, APP_KEY, APP_SECRET, None
                    ),
                }
            )
            ours, theirs = results["webull_nb.sign"], results["official calc_signature"]
            print(
                f"{method:4s} {algorithm:12s} webull_nb {ours * 1e6:5.1f} us   "
                f"official {theirs * 1e6:5.1f} us   ratio {theirs / ours:4.1f}x"
            )
    print(f"import webull_nb: {import_time_ms():.1f} ms (best of 5, fresh interpreter)")


if __name__ == "__main__":
    main()
