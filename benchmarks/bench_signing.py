"""Signing one request: webull_nb against the official SDK's calc_signature, like for like.

Baseline: ``webull.core.auth.composer.default_signature_composer.calc_signature`` from
``webull-openapi-python-sdk`` 3.0.4, measured in the same run, in alternating rounds.
Target (issue 18): signing a GET at least 6x faster than the baseline.
Run: ``python benchmarks/bench_signing.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import alternate, verdict

from webull_nb.http.wire import compact_json
from webull_nb.signing import Signer, sign

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
TARGET = 6.0


def main() -> None:
    """Print each signer's time per request, the ratio to the official one, and the verdict.

    Like for like: the same query dict, and each signer makes its own timestamp and nonce.
    POST: the same dict body, which the official signer JSON-encodes itself; ours is timed
    with its encoding (``compact_json``) included. ``Signer.sign`` is what a ``Client`` does
    (one ``Signer`` per client); ``sign()`` also keys the HMAC each call.
    """
    from webull.core.auth.composer import default_signature_composer as sdk

    size = len(compact_json(BODY))
    print(f"request: {PATH}, {len(QUERY)} query params; POST adds a {size}-byte body")
    for method in ("GET", "POST"):
        body = BODY if method == "POST" else None
        for algorithm in ("HMAC-SHA1", "HMAC-SHA256"):
            signer = Signer(APP_KEY, APP_SECRET, algorithm)
            results = alternate(
                {
                    "Signer.sign": lambda s=signer, b=body: s.sign(
                        HOST, PATH, QUERY, compact_json(b) if b is not None else None
                    ),
                    "sign()": lambda a=algorithm, b=body: sign(
                        APP_KEY,
                        APP_SECRET,
                        host=HOST,
                        path=PATH,
                        query=QUERY,
                        body=compact_json(b) if b is not None else None,
                        algorithm=a,
                    ),
                    # The SDK always signs HMAC-SHA256, whatever is asked: the baseline for both.
                    "official": lambda b=body: sdk.calc_signature(
                        {}, HOST, PATH, QUERY, b, APP_KEY, APP_SECRET, None
                    ),
                }
            )
            ours, once, theirs = results["Signer.sign"], results["sign()"], results["official"]
            ratio = theirs / ours
            line = (
                f"{method:4s} {algorithm:11s}  Signer.sign {ours * 1e6:5.1f} us  "
                f"sign() {once * 1e6:5.1f} us  baseline official {theirs * 1e6:5.1f} us  "
                f"ratio {ratio:4.1f}x (sign() {theirs / once:3.1f}x)"
            )
            if method == "GET":
                line += f"  target >= {TARGET:.0f}x: {verdict(ratio >= TARGET)}"
            print(line)


if __name__ == "__main__":
    main()
