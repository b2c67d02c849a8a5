"""The simulator's watchlists: one to start with, and the create, update and delete calls.

Kept per simulator under one lock, like the order book, so a list created in one cell is
there in the next.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from webull_nb.simulator.market import instrument, snapshot
from webull_nb.simulator.params import Call, invalid
from webull_nb.simulator.replies import SimulatorError

__all__ = ["FIRST_WATCHLIST", "Watchlists"]

#: The id of the watchlist every simulator starts with.
FIRST_WATCHLIST = "SIMWL0001"
_MAX_INSTRUMENTS = 200


def _instruments(call: Call) -> list[tuple[str, str]]:
    """The call's ``instruments`` as (symbol, category): objects, symbols, or comma text."""
    given = call.params.get("instruments")
    items = given if isinstance(given, list) else call.items("instruments")
    found = []
    for item in items:
        if isinstance(item, dict):
            symbol, category = str(item.get("symbol") or ""), str(item.get("category") or "")
        else:
            symbol, category = str(item), ""
        if not symbol.strip():
            raise invalid("each of instruments needs a symbol")
        found.append((symbol.strip().upper(), category or "US_STOCK"))
    if not found:
        raise invalid("instruments must list at least one instrument")
    return found


class Watchlists:
    """Every watchlist of the simulator's user, by id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lists: dict[str, dict[str, Any]] = {
            FIRST_WATCHLIST: {
                "watchlist_id": FIRST_WATCHLIST,
                "name": "My Watchlist",
                "sort": "1",
                "instruments": [("AAPL", "US_STOCK"), ("SPY", "US_ETF")],
            }
        }
        self._ids = itertools.count(2)

    def _find(self, watchlist_id: str) -> dict[str, Any]:
        # Called with the lock held.
        found = self._lists.get(watchlist_id)
        if found is None:
            raise SimulatorError(404, "WATCHLIST_NOT_FOUND", f"no watchlist {watchlist_id}")
        return found

    @staticmethod
    def _row(record: dict[str, Any]) -> dict[str, Any]:
        return {
            "watchlist_id": record["watchlist_id"],
            "name": record["name"],
            "sort": record["sort"],
            "instrument_count": len(record["instruments"]),
        }

    def get(self, call: Call) -> list[dict[str, Any]]:
        """The watchlists, or the instruments of one (with their last price)."""
        with self._lock:
            if call.tail != "instruments":
                return [self._row(r) for r in self._lists.values()]
            members = list(self._find(call.text("watchlist_id"))["instruments"])
        rows = []
        for symbol, category in members:
            quote = snapshot(symbol, category, call.now)
            rows.append(
                {
                    **instrument(symbol, category),
                    "price": quote["price"],
                    "change_ratio": quote["change_ratio"],
                }
            )
        return rows

    def post(self, call: Call) -> dict[str, Any]:
        """Create, rename, delete a watchlist, or add, remove or set its instruments."""
        action = call.path.rsplit("/", 1)[-1]
        members = "/instruments/" in call.path
        with self._lock:
            if not members and action == "create":
                watchlist_id = f"SIMWL{next(self._ids):04d}"
                record = {
                    "watchlist_id": watchlist_id,
                    "name": call.text("name"),
                    "sort": call.text("sort", str(len(self._lists) + 1)),
                    "instruments": [],
                }
                self._lists[watchlist_id] = record
                return self._row(record)
            record = self._find(call.text("watchlist_id"))
            if not members:
                if action == "delete":
                    del self._lists[record["watchlist_id"]]
                    return {**self._row(record), "deleted": True}
                record.update(
                    name=call.text("name", record["name"]), sort=call.text("sort", record["sort"])
                )
                return self._row(record)
            given = _instruments(call)
            current: list[tuple[str, str]] = record["instruments"]
            if action == "add":
                changed = current + [i for i in given if i not in current]
            elif action == "remove":
                dropped = {symbol for symbol, _ in given}
                changed = [i for i in current if i[0] not in dropped]
            else:
                changed = list(dict.fromkeys(given))
            if len(changed) > _MAX_INSTRUMENTS:
                raise invalid(f"a watchlist holds at most {_MAX_INSTRUMENTS} instruments")
            record["instruments"] = changed
            return {
                **self._row(record),
                "instruments": [{"symbol": s, "category": c} for s, c in changed],
            }
