"""Fake but realistic account and market data for the official SDK's first calls.

The routes are the ones ``webull-openapi-python-sdk`` 3.0.4 sends (paths, methods and the
``x-version`` header), so ``TradeClient(api).account_v2`` and
``DataClient(api).market_data.get_snapshot`` work against the simulator. The simulator checks
the signature and the token before any of these run; this module only shapes the answers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from webull_nb.simulator.replies import error_body

__all__ = [
    "ACCOUNTS",
    "BALANCES",
    "NO_DEVICE_REPLY",
    "POSITIONS",
    "SNAPSHOTS",
    "answer",
    "serves",
]

# What Webull answers a create when no logged-in device can receive the verification.
# Webull documents neither the status nor the body; a 400 with the usual
# {"error_code", "message"} shape is our best reading of how its other refusals look.
NO_DEVICE_REPLY: tuple[int, dict[str, str]] = (
    400,
    error_body("NO_AVAILABLE_DEVICE", "No available device to receive the verification"),
)

ACCOUNTS: list[dict[str, Any]] = [
    {
        "account_id": "SIM0000001",
        "account_number": "5SIM0001",
        "account_type": "MARGIN",
        "account_class": "INDIVIDUAL",
        "account_label": "Simulated margin account",
        "currency": "USD",
    },
    {
        "account_id": "SIM0000002",
        "account_number": "5SIM0002",
        "account_type": "CASH",
        "account_class": "INDIVIDUAL",
        "account_label": "Simulated cash account",
        "currency": "USD",
    },
]

# Amounts are strings, as Webull sends them (no float rounding on the wire).
POSITIONS: dict[str, list[dict[str, Any]]] = {
    "SIM0000001": [
        {
            "position_id": "SIMPOS0001",
            "instrument_id": "913256135",
            "symbol": "AAPL",
            "instrument_type": "EQUITY",
            "currency": "USD",
            "quantity": "25",
            "cost_price": "172.40",
            "last_price": "189.84",
            "market_value": "4746.00",
            "unrealized_profit_loss": "436.00",
            "unrealized_profit_loss_rate": "0.1012",
        },
        {
            "position_id": "SIMPOS0002",
            "instrument_id": "913243251",
            "symbol": "SPY",
            "instrument_type": "EQUITY",
            "currency": "USD",
            "quantity": "10",
            "cost_price": "498.10",
            "last_price": "512.33",
            "market_value": "5123.30",
            "unrealized_profit_loss": "142.30",
            "unrealized_profit_loss_rate": "0.0286",
        },
    ],
    "SIM0000002": [],
}


def _balance(account_id: str, cash: str, positions_value: str, total: str) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "total_asset_currency": "USD",
        "total_asset": total,
        "total_market_value": positions_value,
        "total_cash_balance": cash,
        "margin_utilization_rate": "0.00",
        "account_currency_assets": [
            {
                "currency": "USD",
                "net_liquidation_value": total,
                "positions_market_value": positions_value,
                "cash_balance": cash,
                "margin_power": cash,
                "cash_power": cash,
                "pending_incoming": "0.00",
                "cash_frozen": "0.00",
                "available_withdrawal": cash,
            }
        ],
    }


BALANCES: dict[str, dict[str, Any]] = {
    "SIM0000001": _balance("SIM0000001", "15130.70", "9869.30", "25000.00"),
    "SIM0000002": _balance("SIM0000002", "5000.00", "0.00", "5000.00"),
}

SNAPSHOTS: dict[tuple[str, str], dict[str, Any]] = {
    ("AAPL", "US_STOCK"): {
        "symbol": "AAPL",
        "instrument_id": "913256135",
        "price": "189.84",
        "open": "188.15",
        "high": "190.32",
        "low": "187.60",
        "pre_close": "187.44",
        "change": "2.40",
        "change_ratio": "0.0128",
        "volume": "48211946",
        "bid": "189.83",
        "bid_size": "300",
        "ask": "189.85",
        "ask_size": "200",
        "trade_time": 1790000000000,
    },
}

_V3 = "v3"


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str]]:
    return status, error_body(code, message)


def _account(query: Mapping[str, str], table: Mapping[str, Any]) -> tuple[int, Any]:
    account_id = query.get("account_id", "")
    if not account_id:
        return _error(400, "INVALID_PARAMETER", "account_id is required")
    if account_id not in table:
        return _error(404, "ACCOUNT_NOT_FOUND", f"no account {account_id}")
    return 200, copy.deepcopy(table[account_id])


def _snapshots(query: Mapping[str, str]) -> tuple[int, Any]:
    symbols = [s.strip().upper() for s in query.get("symbols", "").split(",") if s.strip()]
    category = query.get("category", "")
    if not symbols or not category:
        return _error(400, "INVALID_PARAMETER", "symbols and category are required")
    # Unknown symbols are left out, as a quote service does, rather than failing the batch.
    return 200, [
        copy.deepcopy(SNAPSHOTS[(s, category)]) for s in symbols if (s, category) in SNAPSHOTS
    ]


_Route = Callable[[Mapping[str, str]], tuple[int, Any]]

# (method, path) -> (x-version the SDK sends, handler)
_ROUTES: dict[tuple[str, str], tuple[str, _Route]] = {
    ("GET", "/trading/accounts/list"): (_V3, lambda query: (200, copy.deepcopy(ACCOUNTS))),
    ("GET", "/trading/assets/balances/get"): (_V3, lambda query: _account(query, BALANCES)),
    ("GET", "/trading/assets/positions/list"): (_V3, lambda query: _account(query, POSITIONS)),
    ("GET", "/market-data/stocks/snapshots/list"): (_V3, _snapshots),
}


def serves(method: str, path: str) -> bool:
    """Tell whether ``method path`` is one of these data routes (then a token is needed)."""
    return (method, path) in _ROUTES


def answer(method: str, path: str, query: str, headers: Mapping[str, str]) -> tuple[int, Any]:
    """Return (HTTP status, JSON body) for a data route already authenticated by the caller."""
    version, handler = _ROUTES[(method, path)]
    sent = headers.get("x-version", "")
    if sent != version:
        # These paths exist only in the v3 API; a v2 client gets what Webull gives a wrong path.
        return _error(404, "NOT_FOUND", f"no API at {method} {path} for x-version {sent!r}")
    return handler(dict(parse_qsl(query, keep_blank_values=True)))
