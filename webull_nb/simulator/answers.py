"""Every endpoint of the catalog, answered: its version and required parameters checked, then
the shape builder its path names.

A path is served by the first rule whose keywords it contains (``_rules``), so a few builders
answer the catalog's 150 endpoints and a new catalog entry whose path says what it is (``bars``,
``snapshots``, ``fundamentals``, ...) is answered without a line here. The same parameters
always answer the same: generated data derives from hashes (``market``), and only the order
book and the watchlists keep state, one of each per simulator.

A builder returns the body. A list from an endpoint that pages (it takes ``pagination_key``,
``page_index`` or a ``last_...`` cursor) is sent as ``{"data": [...], "next_page_token": ...}``;
every other list is sent as a list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple
from urllib.parse import parse_qsl

from webull_nb.core import catalog
from webull_nb.core.catalog import Entry
from webull_nb.simulator import accounts, market, research
from webull_nb.simulator.orders import OrderBook
from webull_nb.simulator.params import Call, invalid
from webull_nb.simulator.replies import SimulatorError
from webull_nb.simulator.watchlists import Watchlists

__all__ = ["MAX_PAGE_SIZE", "Answers", "Builder", "Route", "Rule"]

#: Answers one call with its JSON body, or raises SimulatorError.
Builder = Callable[[Call], Any]
MAX_PAGE_SIZE = 1000
# Parameters that mark an endpoint as paged (its lists come in a {"data": ...} envelope).
_PAGE_NUMBERS = ("page_index", "page_number")


class Rule(NamedTuple):
    """Paths of ``method`` containing any of ``keywords`` are answered by ``builder``."""

    method: str
    keywords: tuple[str, ...]
    builder: Builder


class Route(NamedTuple):
    """A catalog path's entries (one per x-version) and the builder that answers them."""

    entries: tuple[Entry, ...]
    builder: Builder


def _paged(entry: Entry) -> bool:
    return any(
        name == "pagination_key" or name in _PAGE_NUMBERS or name.startswith("last_")
        for name in entry.names
    )


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, (str, list, dict)) and not value)


class Answers:
    """The catalog's endpoints for one simulator: its order book and watchlists included."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.orders = OrderBook(clock)
        self.watchlists = Watchlists()
        self.rules = self._rules()
        self._routes: dict[tuple[str, str], Route] = {}
        for entry in catalog.entries():
            key = (entry.method, entry.path)
            if key in self._routes:
                continue
            builder = self._builder_for(entry.method, entry.path)
            if builder is not None:
                entries = tuple(e for e in catalog.for_path(entry.path) if e.method == entry.method)
                self._routes[key] = Route(entries, builder)

    def _rules(self) -> tuple[Rule, ...]:
        # First match wins: the order lists come before "order" detail, the specific paths
        # (a trading calendar, noii) before the general words that also occur in them.
        get, post = "GET", "POST"
        book, lists = self.orders, self.watchlists
        return (
            Rule(get, ("open-orders", "order/open", "list-open"), book.open_orders),
            Rule(get, ("historical-orders", "order/history", "list-today"), book.history),
            Rule(get, ("executions",), book.executions),
            Rule(get, ("order/detail", "orders/get"), book.detail),
            Rule(get, ("accounts/list", "account/list"), accounts.accounts),
            Rule(get, ("balances/get", "account/balance"), accounts.balance),
            Rule(get, ("positions", "position/details"), accounts.positions),
            Rule(get, ("account/profile",), accounts.profile),
            Rule(
                get,
                ("cash-activities", "transfer-activities", "activities/cash"),
                accounts.activities,
            ),
            Rule(get, ("subscriptions",), accounts.subscriptions),
            Rule(get, ("/trade/calendar",), research.trade_calendar),
            Rule(get, ("watchlists",), lists.get),
            Rule(get, ("communities",), research.community),
            Rule(get, ("news",), research.news),
            Rule(get, ("screener",), market.screeners),
            Rule(get, ("fundamentals",), research.fundamentals),
            Rule(get, ("noii",), market.noii),
            Rule(get, ("snapshots",), market.snapshots),
            Rule(get, ("footprints",), market.footprints),
            Rule(get, ("bars",), market.bars),
            Rule(get, ("ticks",), market.ticks),
            Rule(get, ("depths",), market.depth),
            Rule(get, ("corp-action",), market.corporate_actions),
            Rule(get, ("option", "futures", "event"), market.contracts),
            Rule(get, ("instrument", "security"), market.instruments),
            Rule(post, ("replace",), book.replace),
            Rule(post, ("cancel",), book.cancel),
            Rule(post, ("preview",), book.preview),
            Rule(post, ("/place", "batch-place"), book.place),
            Rule(post, ("watchlists",), lists.post),
            Rule(post, ("communities",), research.community),
            Rule(post, ("streaming",), market.streaming),
            Rule(post, ("bars",), market.bars),
        )

    def _builder_for(self, method: str, path: str) -> Builder | None:
        for rule in self.rules:
            if rule.method == method and any(word in path for word in rule.keywords):
                return rule.builder
        return None

    def route(self, method: str, path: str) -> Route | None:
        """The route of ``method path`` if the catalog lists it and a builder answers it."""
        return self._routes.get((method, path))

    def answer(self, route: Route, version: str, query: str, body: Mapping[str, Any]) -> Any:
        """The JSON body for an authenticated call; raises SimulatorError for a refusal."""
        entry = next((e for e in route.entries if e.version == version), None)
        if entry is None:
            first = route.entries[0]
            raise SimulatorError(
                404, "NOT_FOUND", f"no API at {first.method} {first.path} for x-version {version!r}"
            )
        params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        if entry.method == "POST":
            params.update(body)
        missing = [name for name in entry.required if _blank(params.get(name))]
        if missing:
            verb = "is" if len(missing) == 1 else "are"
            raise invalid(f"{', '.join(missing)} {verb} required")
        call = Call(entry, params, self.clock())
        answer = route.builder(call)
        if isinstance(answer, list) and _paged(entry):
            return _page(answer, call)
        return answer


def _page(rows: list[Any], call: Call) -> dict[str, Any]:
    """One page of ``rows`` in the envelope, where the call's cursor or page number says."""
    size = call.integer("page_size", max(len(rows), 1), MAX_PAGE_SIZE)
    start = 0
    token = call.text("pagination_key")
    if token:
        if not token.isdigit():
            raise invalid("pagination_key must be a next_page_token this simulator gave")
        start = int(token)
    for name in _PAGE_NUMBERS:
        if call.text(name):
            start = (call.integer(name, 1, 1_000_000) - 1) * size
    for name in call.entry.names:
        cursor = call.text(name) if name.startswith("last_") else ""
        if cursor:
            # After the row the cursor names; a cursor naming no row has nothing after it.
            field = name.removeprefix("last_")
            found = [i for i, row in enumerate(rows) if str(row.get(field)) == cursor]
            start = found[0] + 1 if found else len(rows)
    end = start + size
    return {"data": rows[start:end], "next_page_token": str(end) if end < len(rows) else None}
