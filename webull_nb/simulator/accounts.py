"""Account answers: the account list, balances, positions, profiles, activities, subscriptions.

The hand-made accounts of ``data`` are the only accounts: any other ``account_id`` is 404
ACCOUNT_NOT_FOUND, as on the service.
"""

from __future__ import annotations

import copy
from typing import Any

from webull_nb.simulator.data import ACCOUNTS, BALANCES, POSITIONS
from webull_nb.simulator.market import money, units
from webull_nb.simulator.params import Call, invalid
from webull_nb.simulator.replies import SimulatorError

__all__ = [
    "account_id",
    "accounts",
    "activities",
    "balance",
    "check_account",
    "positions",
    "profile",
    "subscriptions",
]

_CASH_KINDS = ("DEPOSIT", "DIVIDEND", "INTEREST", "FEE")
_SUBSCRIPTIONS = (
    ("SUB0001", "US Stocks Level 1 (Nasdaq Basic)", "US_STOCK"),
    ("SUB0002", "US Options (OPRA)", "US_OPTION"),
    ("SUB0003", "US Stocks Level 2 (TotalView)", "US_STOCK"),
)


def check_account(account: str) -> str:
    """Return ``account`` if it is one of the simulator's accounts, else refuse with 404."""
    if not account:
        raise invalid("account_id is required")
    if not any(a["account_id"] == account for a in ACCOUNTS):
        raise SimulatorError(404, "ACCOUNT_NOT_FOUND", f"no account {account}")
    return account


def account_id(call: Call) -> str:
    """The call's ``account_id``, known to the simulator (400 when missing, 404 when unknown)."""
    return check_account(call.text("account_id"))


def accounts(call: Call) -> list[dict[str, Any]]:
    """Every account of the app (the hand-made two)."""
    del call
    return copy.deepcopy(ACCOUNTS)


def balance(call: Call) -> dict[str, Any]:
    """The account's balance, with one row per currency."""
    return copy.deepcopy(BALANCES[account_id(call)])


def positions(call: Call) -> list[dict[str, Any]]:
    """The account's positions (of one instrument, when the path asks for one)."""
    rows = copy.deepcopy(POSITIONS[account_id(call)])
    wanted = call.text("instrument_id")
    return [row for row in rows if not wanted or row["instrument_id"] == wanted]


def profile(call: Call) -> dict[str, Any]:
    """The account's profile: the list's row, plus status and permissions."""
    account = account_id(call)
    row = next(a for a in ACCOUNTS if a["account_id"] == account)
    return {
        **row,
        "status": "ACTIVE",
        "owner_name": "Sim Trader",
        "region": "US",
        "open_date": "2021-03-15",
        "options_level": "2" if row["account_type"] == "MARGIN" else "0",
        "margin_type": row["account_type"],
    }


def activities(call: Call) -> Any:
    """Cash activities (deposits, dividends, ...) and transfers, newest first; one by id."""
    if "transfer" in call.path:
        return _transfers(call)
    account = account_id(call)
    wanted = call.items("activity_types")
    rows = []
    for i in range(6):
        kind, size, age = units("cash activity", account, i, n=3)
        activity = _CASH_KINDS[int(kind * len(_CASH_KINDS))]
        amount = {"DEPOSIT": 500 + size * 5000, "DIVIDEND": 5 + size * 40}.get(activity, size * 10)
        rows.append(
            {
                "activity_id": f"SIMACT{account[-4:]}{i + 1:03d}",
                "account_id": account,
                "activity_type": activity,
                "amount": money(-amount if activity == "FEE" else amount),
                "currency": "USD",
                "time": int((call.now - (i * 9 + age * 8) * 86400) * 1000),
                "description": f"Simulated {activity.lower()}",
            }
        )
    return [row for row in rows if not wanted or row["activity_type"] in wanted]


def _transfer(account: str, transfer: str, now: float, i: int) -> dict[str, Any]:
    size, method, age = units("transfer", account, transfer, n=3)
    return {
        "transfer_id": transfer,
        "account_id": account,
        "direction": "IN",
        "transfer_method": ("ACH", "WIRE")[int(method * 2)],
        "status": "COMPLETED",
        "amount": money(1000 + size * 9000),
        "currency": "USD",
        "create_time": int((now - (30 * i + age * 20) * 86400) * 1000),
    }


def _transfers(call: Call) -> Any:
    if call.text("transfer_id"):
        return _transfer(account_id(call), call.text("transfer_id"), call.now, 0)
    chosen = [account_id(call)] if call.text("account_id") else [a["account_id"] for a in ACCOUNTS]
    return [
        _transfer(account, f"SIMTRF{account[-4:]}{i + 1:03d}", call.now, i)
        for account in chosen
        for i in range(3)
    ]


def subscriptions(call: Call) -> list[dict[str, Any]]:
    """The app's market-data subscriptions."""
    wanted = call.text("subscription_id")
    return [
        {
            "subscription_id": sub,
            "name": name,
            "category": category,
            "status": "ACTIVE",
            "expire_time": int((call.now + 30 * 86400) * 1000),
        }
        for sub, name, category in _SUBSCRIPTIONS
        if not wanted or sub == wanted
    ]
