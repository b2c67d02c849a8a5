"""The simulator's order book: place, preview, replace and cancel, and every order view.

One book per simulator, shared by its server's threads (one lock). Orders never fill: a
placed order rests open (SUBMITTED) until it is cancelled, so it can be looked at from every
open-orders path. The book starts with the filled buys behind the hand-made positions.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from webull_nb.simulator.accounts import account_id
from webull_nb.simulator.data import POSITIONS
from webull_nb.simulator.market import instrument_id, money, price, symbol_for_id
from webull_nb.simulator.params import Call, invalid
from webull_nb.simulator.replies import SimulatorError

__all__ = ["OPEN", "ORDER_TYPES", "SIDES", "OrderBook"]

#: The statuses of an order that can still be replaced or cancelled.
OPEN = ("SUBMITTED", "PARTIAL_FILLED")
SIDES = frozenset({"BUY", "SELL", "SHORT", "SELL_SHORT", "BUY_TO_COVER"})
ORDER_TYPES = frozenset(
    {
        "MARKET",
        "LIMIT",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TRAILING_STOP_LOSS",
        "ENHANCED_LIMIT",
        "AT_AUCTION",
        "AT_AUCTION_LIMIT",
        "ODD_LOT_LIMIT",
        "MARKET_ON_OPEN",
        "MARKET_ON_CLOSE",
    }
)
# Which body field carries the orders, by the kind of path.
_ORDER_LISTS = ("new_orders", "batch_orders", "stock_order")


def _number(value: Any, where: str) -> str:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise invalid(f"{where} must be a number, not {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise invalid(f"{where} must be a positive number")
    return str(value)


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class OrderBook:
    """Every order of the simulator's accounts, keyed by (account, client order id)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._lock = threading.Lock()
        self._orders: dict[tuple[str, str], dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._seed(clock())

    def _seed(self, now: float) -> None:
        for account, rows in POSITIONS.items():
            for k, row in enumerate(rows):
                placed = _ms(now - (40 - 10 * k) * 86400)
                record = self._record(
                    account,
                    {
                        "client_order_id": f"SIMORD{len(self._orders) + 1:04d}",
                        "symbol": row["symbol"],
                        "side": "BUY",
                        "quantity": row["quantity"],
                        "order_type": "MARKET",
                        "time_in_force": "DAY",
                    },
                    "seed",
                    placed / 1000,
                )
                record.update(
                    order_id=str(7_000_000_000 + next(self._ids)),
                    status="FILLED",
                    filled_quantity=row["quantity"],
                    avg_filled_price=row["cost_price"],
                )
                self._orders[(account, record["client_order_id"])] = record
        # And one order still working, so the open lists show what they hold.
        resting = self._record(
            "SIM0000001",
            {
                "client_order_id": f"SIMORD{len(self._orders) + 1:04d}",
                "symbol": "AAPL",
                "side": "SELL",
                "quantity": "5",
                "order_type": "LIMIT",
                "limit_price": "210.00",
                "time_in_force": "GTC",
            },
            "seed",
            now - 3600,
        )
        resting["order_id"] = str(7_000_000_000 + next(self._ids))
        self._orders[("SIM0000001", resting["client_order_id"])] = resting

    # --- making orders -------------------------------------------------------------------------

    def _record(
        self, account: str, order: Mapping[str, Any], where: str, now: float
    ) -> dict[str, Any]:
        legs = order.get("legs")
        if legs is not None and not (
            isinstance(legs, list) and legs and all(isinstance(leg, dict) for leg in legs)
        ):
            raise invalid(f"{where}.legs must be a list of objects")
        symbol = str(order.get("symbol") or (legs[0].get("symbol") if legs else "") or "")
        if not symbol and order.get("instrument_id"):
            given = str(order["instrument_id"])
            symbol = symbol_for_id(given) or f"SIM{given[-4:]}"
        if not symbol:
            raise invalid(f"{where}.symbol is required")
        symbol = symbol.upper()
        side = str(order.get("side") or "").upper()
        if not side:
            raise invalid(f"{where}.side is required")
        if side not in SIDES:
            raise invalid(f"{where}.side must be one of {', '.join(sorted(SIDES))}")
        order_type = str(order.get("order_type") or "").upper()
        if not order_type:
            raise invalid(f"{where}.order_type is required")
        if order_type not in ORDER_TYPES:
            raise invalid(f"{where}.order_type must be one of {', '.join(sorted(ORDER_TYPES))}")
        quantity = order.get("quantity", order.get("qty"))
        if quantity in (None, ""):
            raise invalid(f"{where}.quantity is required")
        limit_price = order.get("limit_price")
        if "LIMIT" in order_type and limit_price in (None, ""):
            raise invalid(f"{where}.limit_price is required for a {order_type} order")
        stop_price = order.get("stop_price")
        if order_type.startswith("STOP") and stop_price in (None, ""):
            raise invalid(f"{where}.stop_price is required for a {order_type} order")
        record: dict[str, Any] = {
            "account_id": account,
            "client_order_id": str(order.get("client_order_id") or uuid.uuid4().hex),
            "order_id": "",
            "symbol": symbol,
            "instrument_id": str(order.get("instrument_id") or instrument_id(symbol)),
            "instrument_type": str(
                order.get("instrument_type") or ("OPTION" if legs else "EQUITY")
            ).upper(),
            "market": str(order.get("market") or "US"),
            "side": side,
            "order_type": order_type,
            "time_in_force": str(order.get("time_in_force") or order.get("tif") or "DAY"),
            "quantity": _number(quantity, f"{where}.quantity"),
            "limit_price": None
            if limit_price in (None, "")
            else _number(limit_price, f"{where}.limit_price"),
            "stop_price": None
            if stop_price in (None, "")
            else _number(stop_price, f"{where}.stop_price"),
            "filled_quantity": "0",
            "avg_filled_price": None,
            "status": "SUBMITTED",
            "place_time": _ms(now),
            "update_time": _ms(now),
        }
        if legs:
            record["legs"] = copy.deepcopy(legs)
        return record

    def _incoming(self, call: Call) -> tuple[str, list[dict[str, Any]]]:
        """The call's account and its orders, each checked (nothing is stored yet)."""
        account = account_id(call)
        name = next((n for n in _ORDER_LISTS if n in call.params), None)
        if name is None:
            expected = next((n for n in _ORDER_LISTS if n in call.entry.names), "new_orders")
            raise invalid(f"{expected} is required")
        given = call.params[name]
        orders = [given] if name == "stock_order" and isinstance(given, dict) else given
        if not isinstance(orders, list) or not orders:
            raise invalid(f"{name} must be a non-empty list of orders")
        records = []
        for i, order in enumerate(orders):
            where = name if name == "stock_order" else f"{name}[{i}]"
            if not isinstance(order, dict):
                raise invalid(f"{where} must be an object")
            records.append(self._record(account, order, where, call.now))
        combo = call.text("client_combo_order_id")
        if combo:
            for record in records:
                record["client_combo_order_id"] = combo
        return account, records

    def place(self, call: Call) -> dict[str, Any]:
        """Place the call's orders (all or none); answer their client and server ids."""
        account, records = self._incoming(call)
        ids = [r["client_order_id"] for r in records]
        if len(set(ids)) != len(ids):
            raise invalid("client_order_id is repeated in this request")
        with self._lock:
            for record in records:
                if (account, record["client_order_id"]) in self._orders:
                    raise SimulatorError(
                        400,
                        "DUPLICATE_CLIENT_ORDER_ID",
                        f"client_order_id {record['client_order_id']} is already used",
                    )
            for record in records:
                record["order_id"] = str(7_000_000_000 + next(self._ids))
                self._orders[(account, record["client_order_id"])] = record
        return self._receipt(records, call)

    @staticmethod
    def _receipt(records: list[dict[str, Any]], call: Call) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "client_order_id": records[0]["client_order_id"],
            "order_id": records[0]["order_id"],
            "orders": [
                {k: r[k] for k in ("client_order_id", "order_id", "symbol", "status")}
                for r in records
            ],
        }
        if call.text("client_combo_order_id"):
            answer["client_combo_order_id"] = call.text("client_combo_order_id")
        return answer

    def preview(self, call: Call) -> dict[str, Any]:
        """Estimate what the call's orders would cost, without placing them."""
        account, records = self._incoming(call)
        rows, total, fees = [], Decimal(0), Decimal(0)
        for record in records:
            quoted = Decimal(record["limit_price"] or money(price(record["symbol"])))
            quantity = Decimal(record["quantity"])
            option = record["instrument_type"] == "OPTION"
            cost = quoted * quantity * (100 if option else 1)
            fee = Decimal("0.65") * quantity if option else Decimal(0)
            total, fees = total + cost, fees + fee
            rows.append(
                {
                    "symbol": record["symbol"],
                    "side": record["side"],
                    "quantity": record["quantity"],
                    "order_type": record["order_type"],
                    "estimated_price": money(quoted),
                    "estimated_cost": money(cost),
                }
            )
        return {
            "account_id": account,
            "currency": "USD",
            "estimated_cost": money(total),
            "estimated_transaction_fee": money(fees) if fees else "0.00",
            "orders": rows,
        }

    # --- changing orders -----------------------------------------------------------------------

    def _open_order(self, account: str, client_order_id: str) -> dict[str, Any]:
        # Called with the lock held.
        record = self._orders.get((account, client_order_id))
        if record is None:
            raise SimulatorError(
                404, "ORDER_NOT_FOUND", f"no order {client_order_id} in account {account}"
            )
        if record["status"] not in OPEN:
            raise SimulatorError(
                400, "ORDER_NOT_OPEN", f"order {client_order_id} is {record['status']}"
            )
        return record

    def replace(self, call: Call) -> dict[str, Any]:
        """Change the quantity, prices or time in force of open orders."""
        account = account_id(call)
        given = call.params.get("modify_orders", call.params.get("stock_order"))
        changes = [given] if isinstance(given, dict) else given
        if (
            not isinstance(changes, list)
            or not changes
            or not all(isinstance(c, dict) for c in changes)
        ):
            raise invalid("modify_orders must be a non-empty list of orders")
        updates = []
        for i, change in enumerate(changes):
            where = f"modify_orders[{i}]"
            client_order_id = str(change.get("client_order_id") or "")
            if not client_order_id:
                raise invalid(f"{where}.client_order_id is required")
            fields: dict[str, Any] = {}
            for name, alias in (("quantity", "qty"), ("limit_price", ""), ("stop_price", "")):
                value = change.get(name, change.get(alias) if alias else None)
                if value not in (None, ""):
                    fields[name] = _number(value, f"{where}.{name}")
            tif = change.get("time_in_force") or change.get("tif")
            if tif:
                fields["time_in_force"] = str(tif)
            updates.append((client_order_id, fields))
        with self._lock:
            records = [self._open_order(account, coid) for coid, _ in updates]
            for record, (_, fields) in zip(records, updates, strict=True):
                record.update(fields, update_time=_ms(call.now))
            answer = self._receipt(records, call)
        return answer

    def cancel(self, call: Call) -> dict[str, Any]:
        """Cancel an open order: it leaves the open lists and shows CANCELLED in its detail."""
        account = account_id(call)
        client_order_id = call.text("client_order_id")
        if not client_order_id:
            raise invalid("client_order_id is required")
        with self._lock:
            record = self._open_order(account, client_order_id)
            record.update(status="CANCELLED", update_time=_ms(call.now))
            return {k: record[k] for k in ("client_order_id", "order_id", "status")}

    # --- looking at orders ---------------------------------------------------------------------

    def _of(self, account: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = [copy.deepcopy(r) for (a, _), r in self._orders.items() if a == account]
        return sorted(rows, key=lambda r: (-r["place_time"], r["order_id"]))

    def open_orders(self, call: Call) -> list[dict[str, Any]]:
        """The account's open orders, newest first."""
        return [r for r in self._of(account_id(call)) if r["status"] in OPEN]

    def history(self, call: Call) -> list[dict[str, Any]]:
        """The account's orders in every status, newest first (today's only for list-today)."""
        rows = self._of(account_id(call))
        low, high = _window(call)
        if call.path.endswith("list-today"):
            low = (
                dt.datetime.fromtimestamp(call.now, dt.timezone.utc)
                .replace(hour=0, minute=0, second=0, microsecond=0)
                .timestamp()
            )
        return [
            r
            for r in rows
            if (low is None or r["place_time"] >= low * 1000)
            and (high is None or r["place_time"] <= high * 1000)
        ]

    def detail(self, call: Call) -> dict[str, Any]:
        """One order of the account, by its client order id."""
        account = account_id(call)
        client_order_id = call.text("client_order_id")
        with self._lock:
            record = self._orders.get((account, client_order_id))
            if record is None:
                raise SimulatorError(
                    404, "ORDER_NOT_FOUND", f"no order {client_order_id} in account {account}"
                )
            return copy.deepcopy(record)

    def executions(self, call: Call) -> list[dict[str, Any]]:
        """The fills of the account's orders (of one order, if asked), newest first."""
        wanted = call.text("client_order_id")
        return [
            {
                "execution_id": f"E{r['order_id']}",
                "client_order_id": r["client_order_id"],
                "order_id": r["order_id"],
                "symbol": r["symbol"],
                "side": r["side"],
                "quantity": r["filled_quantity"],
                "price": r["avg_filled_price"],
                "time": r["update_time"],
            }
            for r in self._of(account_id(call))
            if r["status"] in ("FILLED", "PARTIAL_FILLED")
            and (not wanted or r["client_order_id"] == wanted)
        ]


def _window(call: Call) -> tuple[float | None, float | None]:
    """The time window a history call asks for (epoch seconds), from times or dates."""
    low, high = call.milliseconds("start_time"), call.milliseconds("end_time")
    for name, end in (("start_date", False), ("end_date", True)):
        text = call.text(name)
        if not text:
            continue
        try:
            day = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
        except ValueError:
            raise invalid(f"{name} must be a date YYYY-MM-DD, not {text!r}") from None
        if end:
            high = day.timestamp() + 86399.999
        else:
            low = day.timestamp()
    return low, high
