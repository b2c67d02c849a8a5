"""The simulator's hand-made data: two accounts, their balances and positions, one quote.

Everything else the simulator answers is generated (``market``, ``research``) or kept per
simulator (``orders``, ``watchlists``), and agrees with this: the generated price of AAPL is
the snapshot's, the seeded filled orders are the positions' buys.
"""

from __future__ import annotations

from typing import Any

from webull_nb.simulator.replies import error_body

__all__ = [
    "ACCOUNTS",
    "BALANCES",
    "NO_DEVICE_REPLY",
    "POSITIONS",
    "SNAPSHOTS",
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
