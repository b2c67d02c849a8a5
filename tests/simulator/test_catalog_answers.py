"""The simulator answers what the catalog lists: every GET with its required parameters, the
x-version rule, refused parameters, and an order from placement to cancellation."""

from __future__ import annotations

import itertools
import json
import threading
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from helpers import signed_request

from webull_nb.core import catalog, signing
from webull_nb.simulator import ManualClock, Simulator

HOST = "sim.test"
ACCOUNT = "SIM0000001"
# A plausible value for every required parameter of the catalog's GETs.
SAMPLE = {
    "account_id": ACCOUNT,
    "symbols": "AAPL",
    "symbol": "AAPL",
    "category": "US_STOCK",
    "timespan": "D",
    "instrument_id": "913256135",
    "instrument_ids": "913256135",
    "event_types": "DIVIDEND",
    "client_order_id": "SIMORD0001",
    "watchlist_id": "SIMWL0001",
    "sector_id": "TECH",
    "news_id": "7000001",
    "post_id": "5000001",
    "transfer_id": "SIMTRF0001001",
    "keyword": "apple",
    "cik": "320193",
    "position": "INCREASED",
    "rank_type": "GAINER",
    "sort_by": "change_ratio",
    "imbalance_action_type": "CLOSING",
    "series_symbol": "SIMFED",
    "code": "ES",
    "market": "US",
    "start": "2026-09-01",
    "end": "2026-09-30",
    "init_exp_date": "2026-10-16",
    "instrument_super_type": "OPTION",
    "instrument_type": "CALL_OPTION",
    "strike_price": "190",
    "total_asset_currency": "USD",
}
GETS = [e for e in catalog.entries() if e.method == "GET"]
# The token API's public half: it answers without a token, whatever the version.
PUBLIC = {"/openapi/config"}
ANY_VERSION = {"/openapi/config", "/openapi/account/list"}
TOKEN_API = {"/auth/tokens/create", "/auth/tokens/check", "/openapi/auth/token/refresh"}


def _id(entry: catalog.Entry) -> str:
    return f"{entry.method} {entry.path} {entry.version}"


class Api:
    """Signed calls straight into ``Simulator.handle`` (no sockets: 300 calls take 0.1 s)."""

    def __init__(self, environment: str = "prod") -> None:
        self.clock = ManualClock(1_790_000_000.0)
        self.sim = Simulator(clock=self.clock, environment=environment)
        self.token = self.sim._create({})["token"]
        if environment == "prod":
            self.sim.verify(self.token, self.sim.sms_inbox()[0]["code"])

    def __call__(self, method, path, params=None, body=None, *, version="v3", token=True):
        params = dict(params or {})
        raw = json.dumps(body).encode() if body is not None else b""
        headers = signing.sign(
            self.sim.app_key,
            self.sim.app_secret,
            host=HOST,
            path=path,
            query=list(params.items()),
            body=raw or None,
            timestamp=signing.format_timestamp(self.clock()),
        )
        headers = {k.lower(): v for k, v in headers.items()}
        headers["host"] = HOST
        if version is not None:
            headers["x-version"] = version
        if token:
            headers["x-access-token"] = self.token
        target = path + ("?" + urlencode(params) if params else "")
        return self.sim.handle(method, target, headers, raw)

    def ok(self, method, path, params=None, body=None, **kw):
        reply = self(method, path, params, body, **kw)
        assert reply.status == 200, (path, reply.body)
        return reply.body


@pytest.fixture(scope="module")
def shared() -> Api:
    """One simulator for the read-only calls."""
    return Api()


@pytest.fixture
def api() -> Api:
    """A simulator of this test's own (its order book and watchlists start afresh)."""
    return Api()


def rows(body):
    """The records of a list answer, bare or in its paging envelope."""
    if isinstance(body, dict):
        assert set(body) == {"data", "next_page_token"}, body
        return body["data"]
    return body


# --- every GET of the catalog ----------------------------------------------------------------


@pytest.mark.parametrize("entry", GETS, ids=_id)
def test_every_catalog_get_answers_with_a_normal_token(shared, entry) -> None:
    params = {name: SAMPLE[name] for name in entry.required}
    reply = shared("GET", entry.path, params, version=entry.version)
    assert reply.status == 200, reply.body
    assert isinstance(reply.body, (dict, list)) and reply.body
    if isinstance(reply.body, list):
        assert all(isinstance(row, dict) for row in reply.body)
    text = json.dumps(reply.body)
    assert shared.sim.app_secret not in text and shared.token not in text


@pytest.mark.parametrize("entry", [e for e in GETS if e.path not in PUBLIC], ids=_id)
def test_every_catalog_get_refuses_a_call_without_a_token(shared, entry) -> None:
    params = {name: SAMPLE[name] for name in entry.required}
    reply = shared("GET", entry.path, params, version=entry.version, token=False)
    assert (reply.status, reply.body["error_code"]) == (401, "INVALID_TOKEN")


def test_the_uat_simulator_needs_no_token() -> None:
    uat = Api("uat")
    body = uat.ok("GET", "/market-data/stocks/ticks/list", SAMPLE, token=False)
    assert body[-1]["symbol"] == "AAPL"


MISSING = [
    pytest.param(e, name, id=f"{_id(e)} without {name}")
    for e in GETS
    if e.path not in ANY_VERSION
    for name in e.required
]


@pytest.mark.parametrize(("entry", "missing"), MISSING)
def test_a_missing_required_parameter_is_named(shared, entry, missing) -> None:
    params = {name: SAMPLE[name] for name in entry.required if name != missing}
    reply = shared("GET", entry.path, params, version=entry.version)
    assert (reply.status, reply.body["error_code"]) == (400, "INVALID_PARAMETER")
    assert missing in reply.body["message"]


@pytest.mark.parametrize("entry", [e for e in GETS if e.path not in ANY_VERSION], ids=_id)
def test_a_version_the_catalog_does_not_list_is_404(shared, entry) -> None:
    listed = {e.version for e in catalog.for_path(entry.path) if e.method == "GET"}
    wrong = next(v for v in ("v2", "v3", "v1") if v not in listed)
    params = {name: SAMPLE[name] for name in entry.required}
    reply = shared("GET", entry.path, params, version=wrong)
    assert (reply.status, reply.body["error_code"]) == (404, "NOT_FOUND")
    assert reply.body["message"] == f"no API at GET {entry.path} for x-version {wrong!r}"


def test_no_version_header_is_a_version_the_catalog_does_not_list(shared) -> None:
    reply = shared("GET", "/trading/accounts/list", version=None)
    assert reply.body["message"] == "no API at GET /trading/accounts/list for x-version ''"


@pytest.mark.parametrize("version", ["v2", "v3", None])
def test_the_account_list_answers_whatever_the_version(shared, version) -> None:
    assert shared.ok("GET", "/openapi/account/list", version=version)[0]["account_id"] == ACCOUNT


def test_an_unknown_path_is_404_before_the_token_is_looked_at(shared) -> None:
    reply = shared("GET", "/openapi/nope", token=False)
    assert (reply.status, reply.body["error_code"]) == (404, "NOT_FOUND")


def test_every_catalog_endpoint_but_the_token_api_has_a_route(shared) -> None:
    answers = shared.sim._service.answers
    unrouted = {
        f"{e.method} {e.path}" for e in catalog.entries() if not answers.route(e.method, e.path)
    }
    assert unrouted == {"GET /openapi/config"} | {f"POST {p}" for p in TOKEN_API}


# --- what the answers hold -------------------------------------------------------------------


@pytest.mark.parametrize("symbol", ["AAPL", "ZZQT"])
def test_a_symbol_has_one_price_everywhere(shared, symbol) -> None:
    stock = {"symbols": symbol, "symbol": symbol, "category": "US_STOCK"}
    (quote,) = shared.ok("GET", "/market-data/stocks/snapshots/list", stock)
    batch = {"symbols": [symbol], "category": "US_STOCK", "timespan": "M5", "count": 3}
    bars = shared.ok("POST", "/market-data/stocks/bars/list", body=batch)
    (one,) = shared.ok("GET", "/market-data/stocks/bars/get", {**stock, "count": "1"})
    ticks = shared.ok("GET", "/market-data/stocks/ticks/list", {**stock, "count": "4"})
    book = shared.ok("GET", "/market-data/stocks/depths/list", stock)
    assert quote["price"] == bars[-1]["close"] == one["close"] == ticks[-1]["price"]
    assert Decimal(book["bids"][0]["price"]) < Decimal(quote["price"])
    assert Decimal(quote["price"]) < Decimal(book["asks"][0]["price"])
    if symbol == "AAPL":  # the hand-made snapshot and position agree with the generated data
        assert quote["price"] == "189.84"
        positions = shared.ok("GET", "/trading/assets/positions/list", {"account_id": ACCOUNT})
        assert positions[0]["last_price"] == quote["price"]


def test_bars_are_count_ohlcv_rows_ending_at_the_clock(shared) -> None:
    params = {"symbols": "MSFT", "category": "US_STOCK", "timespan": "M1", "count": "30"}
    bars = shared.ok("GET", "/market-data/futures/bars/list", params)
    assert len(bars) == 30
    times = [bar["time"] for bar in bars]
    assert all(b - a == 60_000 for a, b in itertools.pairwise(times))
    assert 0 <= shared.clock() * 1000 - times[-1] < 60_000
    for bar in bars:
        low, high = Decimal(bar["low"]), Decimal(bar["high"])
        assert low <= Decimal(bar["open"]) <= high and low <= Decimal(bar["close"]) <= high
        assert int(bar["volume"]) > 0
        assert all(isinstance(bar[k], str) for k in ("open", "high", "low", "close", "volume"))


def test_generated_answers_are_the_same_in_every_simulator(shared) -> None:
    other = Api()
    for path, params in (
        ("/market-data/fundamentals/income-statements/get", {"symbol": "NVDA"}),
        ("/market-data/screeners/top-actives/list", {"category": "US_STOCK"}),
        ("/market-data/options/snapshots/list", {"symbols": "AAPL261016C00190000"}),
    ):
        params = {"category": "US_STOCK", **params}
        assert shared.ok("GET", path, params) == other.ok("GET", path, params)


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"timespan": "H2"}, "timespan"),
        ({"count": "0"}, "count"),
        ({"count": "many"}, "count"),
        ({"end_time": "yesterday"}, "end_time"),
    ],
)
def test_bad_values_are_refused_naming_the_parameter(shared, params, named) -> None:
    query = {"symbols": "AAPL", "category": "US_STOCK", "timespan": "D", **params}
    reply = shared("GET", "/market-data/crypto/bars/list", query)
    assert (reply.status, reply.body["error_code"]) == (400, "INVALID_PARAMETER")
    assert named in reply.body["message"]


def test_unknown_accounts_are_404(shared) -> None:
    reply = shared("GET", "/trading/assets/balances/get", {"account_id": "NOPE"})
    assert (reply.status, reply.body["error_code"]) == (404, "ACCOUNT_NOT_FOUND")


def test_paged_lists_follow_their_cursor(shared) -> None:
    path = "/openapi/instrument/stock/list"
    first = shared.ok("GET", path, {"page_size": "5"})
    assert len(first["data"]) == 5 and first["next_page_token"]
    cursor = {"page_size": "5", "last_instrument_id": first["data"][-1]["instrument_id"]}
    second = shared.ok("GET", path, cursor)
    assert second["data"][0] not in first["data"]
    everything = shared.ok("GET", path)
    assert everything["data"][:10] == first["data"] + second["data"]
    assert everything["next_page_token"] is None
    by_key = shared.ok(
        "GET", "/trading/orders/historical-orders/list", {"account_id": ACCOUNT, "page_size": "1"}
    )
    rest = shared.ok(
        "GET",
        "/trading/orders/historical-orders/list",
        {"account_id": ACCOUNT, "pagination_key": by_key["next_page_token"]},
    )
    assert len(by_key["data"]) == 1 and rest["data"] and by_key["data"][0] not in rest["data"]


# --- orders ----------------------------------------------------------------------------------

OPEN_LISTS = [
    ("/trading/orders/open-orders/list", "v3"),
    ("/trading/orders/open-orders/list", "v2"),
    ("/openapi/trade/order/open", "v3"),
    ("/trade/orders/list-open", "v3"),
]


def _limit_order(client_order_id="", symbol="AAPL", **extra):
    order = {
        "symbol": symbol,
        "side": "BUY",
        "quantity": "3",
        "order_type": "LIMIT",
        "limit_price": "180.50",
        "time_in_force": "DAY",
        "instrument_type": "EQUITY",
        "market": "US",
        **extra,
    }
    if client_order_id:
        order["client_order_id"] = client_order_id
    return order


def _open_ids(api, path="/trading/orders/open-orders/list", version="v3"):
    body = api.ok("GET", path, {"account_id": ACCOUNT}, version=version)
    return [order["client_order_id"] for order in rows(body)]


def test_an_order_placed_over_http_is_open_everywhere_until_cancelled(sim, approve_latest):
    from webull_nb.http.client import Client

    client = Client(sim.app_key, sim.app_secret, base_url=sim.url, clock=sim.clock)
    token = client.create_token().token
    approve_latest(sim)

    def call(method, path, params=None, body=None, version="v3"):
        raw = json.dumps(body).encode() if body is not None else None
        query = list((params or {}).items())
        return signed_request(
            sim.url,
            sim.app_key,
            sim.app_secret,
            method,
            path,
            params=query,
            body=raw,
            clock=sim.clock,
            extra={"x-version": version, "x-access-token": token},
        )

    placed = call(
        "POST",
        "/trading/orders/place",
        body={"account_id": ACCOUNT, "new_orders": [_limit_order("MYORDER1")]},
    )
    assert placed.status_code == 200, placed.text
    assert placed.json()["client_order_id"] == "MYORDER1" and placed.json()["order_id"]
    for path, version in OPEN_LISTS:
        listed = call("GET", path, {"account_id": ACCOUNT}, version=version).json()
        assert "MYORDER1" in [o["client_order_id"] for o in rows(listed)], path
    detail = call(
        "GET", "/trading/orders/get", {"account_id": ACCOUNT, "client_order_id": "MYORDER1"}
    ).json()
    assert (detail["status"], detail["symbol"], detail["limit_price"]) == (
        "SUBMITTED",
        "AAPL",
        "180.50",
    )
    cancelled = call(
        "POST",
        "/trading/orders/cancel",
        body={"account_id": ACCOUNT, "client_order_id": "MYORDER1"},
    )
    assert cancelled.json()["status"] == "CANCELLED"
    for path, version in OPEN_LISTS:
        listed = call("GET", path, {"account_id": ACCOUNT}, version=version).json()
        assert "MYORDER1" not in [o["client_order_id"] for o in rows(listed)], path
    detail = call(
        "GET", "/openapi/trade/order/detail", {"account_id": ACCOUNT, "client_order_id": "MYORDER1"}
    ).json()
    assert detail["status"] == "CANCELLED"


def test_place_replace_cancel_and_the_views_that_follow(api) -> None:
    answer = api.ok(
        "POST",
        "/trading/orders/place",
        body={"account_id": ACCOUNT, "new_orders": [_limit_order()]},
    )
    made = answer["client_order_id"]  # generated when the order has none
    assert made and answer["orders"][0]["status"] == "SUBMITTED"
    for path, version in OPEN_LISTS:
        assert made in _open_ids(api, path, version)
    api.ok(
        "POST",
        "/trading/orders/replace",
        body={
            "account_id": ACCOUNT,
            "modify_orders": [{"client_order_id": made, "quantity": "7", "limit_price": "181"}],
        },
    )
    detail = api.ok("GET", "/trade/order/detail", {"account_id": ACCOUNT, "client_order_id": made})
    assert (detail["quantity"], detail["limit_price"]) == ("7", "181")
    api.ok("POST", "/trading/orders/cancel", body={"account_id": ACCOUNT, "client_order_id": made})
    assert made not in _open_ids(api)
    history = rows(api.ok("GET", "/openapi/trade/order/history", {"account_id": ACCOUNT}))
    assert {"client_order_id": made, "status": "CANCELLED"}.items() <= history[0].items()
    again = api(
        "POST", "/trading/orders/cancel", body={"account_id": ACCOUNT, "client_order_id": made}
    )
    assert (again.status, again.body["error_code"]) == (400, "ORDER_NOT_OPEN")


def test_other_order_forms_place_too(api) -> None:
    legacy = {"instrument_id": "913243251", "side": "SELL", "qty": "2", "order_type": "MARKET"}
    api.ok("POST", "/trade/order/place", body={"account_id": ACCOUNT, "stock_order": legacy})
    batch = [_limit_order("B1", "MSFT"), _limit_order("B2", "NVDA")]
    placed = api.ok(
        "POST", "/trading/orders/batch-place", body={"account_id": ACCOUNT, "batch_orders": batch}
    )
    assert [o["client_order_id"] for o in placed["orders"]] == ["B1", "B2"]
    option = {
        "client_order_id": "OPT1",
        "order_type": "LIMIT",
        "limit_price": "4.10",
        "quantity": "1",
        "side": "BUY",
        "legs": [{"symbol": "AAPL", "side": "BUY", "quantity": "1", "instrument_type": "OPTION"}],
    }
    api.ok(
        "POST",
        "/openapi/trade/option/order/place",
        body={"account_id": ACCOUNT, "new_orders": [option]},
    )
    open_orders = rows(api.ok("GET", "/trade/orders/list-open", {"account_id": ACCOUNT}))
    by_id = {o["client_order_id"]: o for o in open_orders}
    assert {"B1", "B2", "OPT1"} <= set(by_id)
    assert [
        o["symbol"] for o in open_orders if o["side"] == "SELL" and o["order_type"] == "MARKET"
    ] == ["SPY"]
    assert by_id["OPT1"]["instrument_type"] == "OPTION"


def test_a_preview_estimates_without_placing(api) -> None:
    before = _open_ids(api)
    estimate = api.ok(
        "POST",
        "/trading/orders/preview",
        body={"account_id": ACCOUNT, "new_orders": [_limit_order("P1")]},
    )
    assert estimate["estimated_cost"] == "541.50"  # 3 x 180.50
    assert _open_ids(api) == before


@pytest.mark.parametrize(
    ("body", "status", "code", "named"),
    [
        ({"account_id": "NOPE", "new_orders": [_limit_order()]}, 404, "ACCOUNT_NOT_FOUND", "NOPE"),
        ({"account_id": ACCOUNT}, 400, "INVALID_PARAMETER", "new_orders"),
        ({"new_orders": [_limit_order()]}, 400, "INVALID_PARAMETER", "account_id"),
        ({"account_id": ACCOUNT, "new_orders": []}, 400, "INVALID_PARAMETER", "new_orders"),
        (
            {"account_id": ACCOUNT, "new_orders": [_limit_order(symbol="")]},
            400,
            "INVALID_PARAMETER",
            "new_orders[0].symbol",
        ),
        (
            {"account_id": ACCOUNT, "new_orders": [_limit_order(limit_price=None)]},
            400,
            "INVALID_PARAMETER",
            "limit_price",
        ),
        (
            {"account_id": ACCOUNT, "new_orders": [_limit_order(quantity="-1")]},
            400,
            "INVALID_PARAMETER",
            "quantity",
        ),
        (
            {"account_id": ACCOUNT, "new_orders": [_limit_order("SIMORD0001")]},
            400,
            "DUPLICATE_CLIENT_ORDER_ID",
            "SIMORD0001",
        ),
    ],
)
def test_a_bad_order_is_refused_and_places_nothing(api, body, status, code, named) -> None:
    before = _open_ids(api)
    reply = api("POST", "/trading/orders/place", body=body)
    assert (reply.status, reply.body["error_code"]) == (status, code)
    assert named in reply.body["message"]
    assert _open_ids(api) == before


def test_an_unknown_order_is_404(api) -> None:
    reply = api("GET", "/trading/orders/get", {"account_id": ACCOUNT, "client_order_id": "NOPE"})
    assert (reply.status, reply.body["error_code"]) == (404, "ORDER_NOT_FOUND")


def test_orders_placed_from_many_threads_are_all_kept(api) -> None:
    def place(worker: int) -> None:
        for n in range(20):
            order = _limit_order(f"T{worker}-{n}")
            api.ok(
                "POST", "/trading/orders/place", body={"account_id": ACCOUNT, "new_orders": [order]}
            )

    threads = [threading.Thread(target=place, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    placed = [o for o in rows(api.ok("GET", "/trade/orders/list-open", {"account_id": ACCOUNT}))]
    mine = [o for o in placed if o["client_order_id"].startswith("T")]
    assert len(mine) == 120 and len({o["order_id"] for o in mine}) == 120


# --- the other POSTs -------------------------------------------------------------------------

POST_BODIES = {
    "/market-data/communities/comments/create": {"post_id": "5000001", "text": "Nice call"},
    "/market-data/communities/posts/create": {"text": "Long AAPL", "symbol": "AAPL"},
    "/market-data/stocks/bars/list": {"symbols": ["AAPL"], "category": "US_STOCK", "timespan": "D"},
    "/market-data/streaming/subscribe": {
        "session_id": "s1",
        "symbols": ["AAPL"],
        "category": "US_STOCK",
        "sub_types": ["QUOTE"],
    },
    "/market-data/streaming/unsubscribe": {"session_id": "s1", "unsubscribe_all": True},
    "/market-data/watchlists/create": {"name": "Semis"},
    "/market-data/watchlists/update": {"watchlist_id": "SIMWL0001", "name": "Core"},
    "/market-data/watchlists/delete": {"watchlist_id": "SIMWL0001"},
    "/market-data/watchlists/instruments/add": {
        "watchlist_id": "SIMWL0001",
        "instruments": [{"symbol": "NVDA", "category": "US_STOCK"}],
    },
    "/market-data/watchlists/instruments/remove": {
        "watchlist_id": "SIMWL0001",
        "instruments": [{"symbol": "SPY", "category": "US_ETF"}],
    },
    "/market-data/watchlists/instruments/update": {
        "watchlist_id": "SIMWL0001",
        "instruments": ["TSLA", "AMD"],
    },
}
# The order still open in every new simulator, for replace and cancel.
RESTING = "SIMORD0003"


def _post_body(entry: catalog.Entry) -> dict:
    if entry.path in POST_BODIES:
        return POST_BODIES[entry.path]
    body: dict = {"account_id": ACCOUNT}
    if "stock_order" in entry.names and "replace" in entry.path:
        body["stock_order"] = {"client_order_id": RESTING, "qty": "4"}
    elif "stock_order" in entry.names:
        body["stock_order"] = {
            "instrument_id": "913256135",
            "side": "BUY",
            "qty": "1",
            "order_type": "MARKET",
        }
    if "new_orders" in entry.names:
        body["new_orders"] = [_limit_order()]
    if "batch_orders" in entry.names:
        body["batch_orders"] = [_limit_order()]
    if "modify_orders" in entry.names:
        body["modify_orders"] = [{"client_order_id": RESTING, "limit_price": "205"}]
    if "client_order_id" in entry.names:
        body["client_order_id"] = RESTING
    return body


POSTS = [e for e in catalog.entries() if e.method == "POST" and e.path not in TOKEN_API]


@pytest.mark.parametrize("entry", POSTS, ids=_id)
def test_every_catalog_post_answers(api, entry) -> None:
    body = api.ok("POST", entry.path, body=_post_body(entry), version=entry.version)
    assert isinstance(body, (dict, list)) and body
    without = api("POST", entry.path, body=_post_body(entry), version=entry.version, token=False)
    assert without.status == 401


def test_watchlists_keep_what_is_done_to_them(api) -> None:
    made = api.ok("POST", "/market-data/watchlists/create", body={"name": "Semis"})
    wid = made["watchlist_id"]
    names = [w["name"] for w in api.ok("GET", "/market-data/watchlists/list")]
    assert names == ["My Watchlist", "Semis"]
    api.ok(
        "POST",
        "/market-data/watchlists/instruments/add",
        body={"watchlist_id": wid, "instruments": [{"symbol": "NVDA", "category": "US_STOCK"}]},
    )
    listed = api.ok("GET", "/market-data/watchlists/instruments/list", {"watchlist_id": wid})
    assert [row["symbol"] for row in listed] == ["NVDA"] and listed[0]["price"]
    api.ok("POST", "/market-data/watchlists/delete", body={"watchlist_id": wid})
    gone = api("GET", "/market-data/watchlists/instruments/list", {"watchlist_id": wid})
    assert (gone.status, gone.body["error_code"]) == (404, "WATCHLIST_NOT_FOUND")
