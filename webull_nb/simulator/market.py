"""Generated market data: one price per symbol, and the quotes, bars and lists built around it.

Nothing here is random: every number is derived from a hash of what it describes (the symbol,
the bar's time, ...), so the same symbol has the same price in a snapshot, the last bar, the
last tick, a depth book, a screener row and a watchlist, in every run. Prices of the hand-made
data (``data.SNAPSHOTS``, ``data.POSITIONS``) win over the hash. Amounts are strings and times
epoch milliseconds, as Webull sends them.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import math
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from webull_nb.simulator.data import POSITIONS, SNAPSHOTS
from webull_nb.simulator.params import Call, invalid
from webull_nb.simulator.replies import SimulatorError

__all__ = [
    "NAMES",
    "TIMESPANS",
    "UNIVERSE",
    "bars",
    "contracts",
    "corporate_actions",
    "depth",
    "footprints",
    "instrument",
    "instrument_id",
    "instruments",
    "money",
    "noii",
    "price",
    "screeners",
    "snapshot",
    "snapshots",
    "streaming",
    "symbol_for_id",
    "ticks",
    "units",
]

NAMES: dict[str, str] = {
    "AAPL": "Apple Inc.",
    "MSFT": "Microsoft Corp.",
    "NVDA": "NVIDIA Corp.",
    "AMZN": "Amazon.com Inc.",
    "GOOGL": "Alphabet Inc. Class A",
    "META": "Meta Platforms Inc.",
    "TSLA": "Tesla Inc.",
    "AMD": "Advanced Micro Devices Inc.",
    "NFLX": "Netflix Inc.",
    "JPM": "JPMorgan Chase & Co.",
    "SPY": "SPDR S&P 500 ETF Trust",
    "QQQ": "Invesco QQQ Trust",
}
#: The stocks that screeners rank and default lists show.
UNIVERSE: tuple[str, ...] = tuple(NAMES)
_ETFS = frozenset({"SPY", "QQQ"})
_EXCHANGES = {"JPM": "NYSE", "SPY": "ARCA"}
_CRYPTO: dict[str, tuple[str, str]] = {
    "BTCUSD": ("Bitcoin", "67250.00"),
    "ETHUSD": ("Ethereum", "3480.50"),
    "SOLUSD": ("Solana", "152.30"),
    "DOGEUSD": ("Dogecoin", "0.1620"),
}
# code: (name, exchange, product class, multiplier, tick size, a typical price)
_FUTURES: dict[str, tuple[str, str, str, str, str, float]] = {
    "ES": ("E-mini S&P 500", "CME", "EQUITY_INDEX", "50", "0.25", 5400.0),
    "NQ": ("E-mini Nasdaq-100", "CME", "EQUITY_INDEX", "20", "0.25", 19000.0),
    "CL": ("Crude Oil", "NYMEX", "ENERGY", "1000", "0.01", 78.0),
    "GC": ("Gold", "COMEX", "METALS", "100", "0.10", 2350.0),
    "ZN": ("10-Year T-Note", "CBOT", "INTEREST_RATES", "1000", "0.015625", 110.0),
}
_PRODUCT_CLASSES = {
    "EQUITY_INDEX": "Equity Index",
    "ENERGY": "Energy",
    "METALS": "Metals",
    "INTEREST_RATES": "Interest Rates",
}
_MONTH_CODES = "FGHJKMNQUVXZ"
# series: (title, category)
_EVENT_SERIES: dict[str, tuple[str, str]] = {
    "SIMFED": ("Fed funds upper bound after the next FOMC meeting", "Economics"),
    "SIMCPI": ("US CPI year over year", "Economics"),
    "SIMSPX": ("S&P 500 close at month end", "Financials"),
    "SIMTEMP": ("New York City high temperature", "Climate"),
}
_SECTORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "TECH": ("Technology", ("AAPL", "MSFT", "NVDA", "AMD")),
    "COMM": ("Communication Services", ("GOOGL", "META", "NFLX")),
    "CONS": ("Consumer Cyclical", ("AMZN", "TSLA")),
    "FIN": ("Financials", ("JPM",)),
    "FUND": ("Exchange Traded Funds", ("SPY", "QQQ")),
}
#: Bar lengths in seconds, by Webull's ``timespan`` names.
TIMESPANS: dict[str, int] = {
    "S5": 5,
    "S15": 15,
    "M1": 60,
    "M5": 300,
    "M15": 900,
    "M30": 1800,
    "M60": 3600,
    "M120": 7200,
    "M240": 14400,
    "D": 86400,
    "W": 7 * 86400,
    "M": 30 * 86400,
    "Y": 365 * 86400,
}
_MAX_BARS = 1200
# An OCC option symbol: root, expiry YYMMDD, C or P, strike times 1000 in 8 digits.
_OCC = re.compile(r"^([A-Z]{1,6})(\d{6})([CP])(\d{8})$")
_FUTURE_SYMBOL = re.compile(r"^([A-Z]{2})([FGHJKMNQUVXZ])(\d)$")
_CENT, _BASIS = Decimal("0.01"), Decimal("0.0001")


def _known_prices() -> dict[str, str]:
    known = {name: last for name, (_, last) in _CRYPTO.items()}
    for rows in POSITIONS.values():
        known.update({row["symbol"]: row["last_price"] for row in rows})
    known.update({snap["symbol"]: snap["price"] for snap in SNAPSHOTS.values()})
    return known


def _known_ids() -> dict[str, str]:
    known = {row["symbol"]: row["instrument_id"] for rows in POSITIONS.values() for row in rows}
    known.update({snap["symbol"]: snap["instrument_id"] for snap in SNAPSHOTS.values()})
    return known


_KNOWN_PRICES = _known_prices()
_KNOWN_IDS = _known_ids()


# --- the hash that stands in for randomness --------------------------------------------------


def units(*parts: object, n: int = 1) -> list[float]:
    """``n`` numbers in [0, 1) that depend only on ``parts`` (the same in every run)."""
    out: list[float] = []
    counter = 0
    while len(out) < n:
        seed = "\x1f".join(str(p) for p in (*parts, counter)).encode()
        digest = hashlib.sha256(seed).digest()
        out.extend(int.from_bytes(digest[i : i + 8], "big") / 2**64 for i in range(0, 32, 8))
        counter += 1
    return out[:n]


def _unit(*parts: object) -> float:
    return units(*parts)[0]


def money(value: Decimal | float | str, like: Decimal | None = None) -> str:
    """An amount as Webull writes it: cents, or four decimals below 1 (or below ``like``)."""
    amount = Decimal(str(value))
    step = _CENT if abs(amount if like is None else like) >= 1 else _BASIS
    return str(amount.quantize(step, rounding=ROUND_HALF_UP))


def _tick(value: Decimal) -> Decimal:
    return _CENT if value >= 1 else _BASIS


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _day(seconds: float) -> dt.date:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).date()


# --- one price per symbol --------------------------------------------------------------------


def price(symbol: str) -> Decimal:
    """The symbol's last price: the hand-made one if there is one, else derived from its name."""
    symbol = symbol.upper()
    known = _KNOWN_PRICES.get(symbol)
    if known is not None:
        return Decimal(known)
    option = _OCC.match(symbol)
    if option:
        underlying = float(price(option.group(1)))
        strike = int(option.group(4)) / 1000
        intrinsic = max(0.0, underlying - strike if option.group(3) == "C" else strike - underlying)
        time_value = underlying * (0.005 + 0.03 * _unit("time value", symbol))
        return Decimal(money(max(0.05, intrinsic + time_value)))
    future = _FUTURE_SYMBOL.match(symbol)
    if future and future.group(1) in _FUTURES:
        typical = _FUTURES[future.group(1)][5]
        return Decimal(money(typical * (0.95 + 0.1 * _unit("price", symbol))))
    if "-" in symbol:  # an event contract: a probability
        return Decimal(money(0.02 + 0.96 * _unit("price", symbol)))
    return Decimal(money(10 ** (0.7 + 2 * _unit("price", symbol))))


def instrument_id(symbol: str) -> str:
    """The symbol's instrument id: the hand-made one if there is one, else nine digits."""
    symbol = symbol.upper()
    return _KNOWN_IDS.get(symbol) or str(900_000_000 + int(_unit("id", symbol) * 99_999_999))


def symbol_for_id(identifier: str) -> str | None:
    """The symbol of an instrument id this simulator hands out for a known symbol, if any."""
    for symbol in (*UNIVERSE, *_CRYPTO, *_KNOWN_IDS):
        if instrument_id(symbol) == identifier:
            return symbol
    return None


def _name(symbol: str) -> str:
    if symbol in _CRYPTO:
        return _CRYPTO[symbol][0]
    return NAMES.get(symbol, f"{symbol.title()} Holdings Inc.")


def _volume(symbol: str) -> float:
    # A day's volume between 1 and 50 million shares.
    return 10 ** (6 + 1.7 * _unit("volume", symbol))


# --- quotes ----------------------------------------------------------------------------------


def snapshot(symbol: str, category: str, now: float) -> dict[str, Any]:
    """A quote snapshot: the hand-made one for its (symbol, category), else generated."""
    symbol = symbol.upper()
    made = SNAPSHOTS.get((symbol, category))
    if made is not None:
        return copy.deepcopy(made)
    last = price(symbol)
    move, gap, up, down, bid_size, ask_size = units("snapshot", symbol, n=6)
    pre_close = Decimal(money(float(last) / (1 + (move - 0.5) * 0.08)))
    opened = float(pre_close) * (1 + (gap - 0.5) * 0.02)
    change = last - pre_close
    tick = _tick(last)
    return {
        "symbol": symbol,
        "instrument_id": instrument_id(symbol),
        "price": money(last),
        "open": money(opened),
        "high": money(max(opened, float(last)) * (1 + up * 0.01)),
        "low": money(min(opened, float(last)) * (1 - down * 0.01)),
        "pre_close": money(pre_close),
        "change": money(change, like=last),
        "change_ratio": str((change / pre_close).quantize(_BASIS, rounding=ROUND_HALF_UP)),
        "volume": str(int(_volume(symbol) * 0.6)),
        "bid": money(last - tick),
        "bid_size": str(100 * (1 + int(bid_size * 9))),
        "ask": money(last + tick),
        "ask_size": str(100 * (1 + int(ask_size * 9))),
        "trade_time": _ms(now),
    }


def snapshots(call: Call) -> list[dict[str, Any]]:
    """Snapshots of every symbol asked for (stocks, options, futures, crypto, event contracts)."""
    category = call.text("category", _default_category(call.path))
    rows = [snapshot(symbol, category, call.now) for symbol in call.symbols()]
    if "/options/" in call.path:
        for row in rows:
            extra = units("option greeks", row["symbol"], n=2)
            row["open_interest"] = str(int(500 + extra[0] * 20000))
            row["implied_volatility"] = f"{0.15 + extra[1] * 0.6:.4f}"
    return rows


def _default_category(path: str) -> str:
    for word, category in (
        ("crypto", "US_CRYPTO"),
        ("option", "US_OPTION"),
        ("futures", "US_FUTURES"),
        ("event", "US_EVENT"),
    ):
        if word in path:
            return category
    return "US_STOCK"


def depth(call: Call) -> dict[str, Any]:
    """A depth book around the symbol's price: ``depth`` levels of bids and asks."""
    symbol = call.symbol()
    levels = call.integer("depth", 10, 50)
    last = price(symbol)
    tick = _tick(last)
    sizes = units("depth", symbol, n=2 * levels)
    bids = [
        {"price": money(last - tick * (i + 1)), "size": str(100 * (1 + int(sizes[i] * 30)))}
        for i in range(levels)
        if last - tick * (i + 1) > 0
    ]
    asks = [
        {
            "price": money(last + tick * (i + 1)),
            "size": str(100 * (1 + int(sizes[levels + i] * 30))),
        }
        for i in range(levels)
    ]
    return {
        "symbol": symbol,
        "instrument_id": instrument_id(symbol),
        "time": _ms(call.now),
        "bids": bids,
        "asks": asks,
    }


def ticks(call: Call) -> list[dict[str, Any]]:
    """The last ``count`` trades, oldest first; the newest is at the symbol's price."""
    symbol = call.symbol()
    count = call.integer("count", 200, _MAX_BARS)
    last = float(price(symbol))
    rows, moment = [], call.now
    for i in range(count):
        move, size, side = units("tick", symbol, i, n=3)
        traded = last if i == 0 else last * (1 + (move - 0.5) * 0.002)
        rows.append(
            {
                "symbol": symbol,
                "time": _ms(moment),
                "price": money(traded),
                "volume": str(100 * (1 + int(size * 20))),
                "side": "BUY" if side >= 0.5 else "SELL",
            }
        )
        moment -= 0.2 + move * 3
    rows.reverse()
    return rows


# --- bars ------------------------------------------------------------------------------------


def _bar_times(timespan: str, count: int, end: float) -> list[float]:
    step = TIMESPANS[timespan]
    moment = math.floor(end / min(step, 86400)) * min(step, 86400)
    times: list[float] = []
    while len(times) < count:
        # Daily bars skip weekends; shorter ones are left continuous (a fake, not a calendar).
        if not (timespan == "D" and _day(moment).weekday() >= 5):
            times.append(moment)
        moment -= step
    times.reverse()
    return times


def _bars(symbol: str, timespan: str, count: int, end: float) -> list[dict[str, Any]]:
    times = _bar_times(timespan, count, end)
    step = TIMESPANS[timespan]
    sigma = min(0.08, 0.0015 * math.sqrt(step / 60))
    volume = _volume(symbol) * (step / 23400 if step < 86400 else step / 86400)
    # Walk back from the last close (the symbol's price): bar i's move depends on its own time
    # only, so two requests that share bars agree on them.
    moves = [units("bar", symbol, timespan, t, n=4) for t in times]
    closes = [0.0] * len(times)
    closes[-1] = float(price(symbol))
    for i in range(len(times) - 1, 0, -1):
        closes[i - 1] = closes[i] / (1 + (moves[i][0] - 0.5) * 2 * sigma)
    rows = []
    for i, moment in enumerate(times):
        close = closes[i]
        opened = closes[i - 1] if i else close / (1 + (moves[0][0] - 0.5) * 2 * sigma)
        rows.append(
            {
                "symbol": symbol,
                "time": _ms(moment),
                "open": money(opened),
                "high": money(max(opened, close) * (1 + moves[i][1] * sigma / 2)),
                "low": money(min(opened, close) * (1 - moves[i][2] * sigma / 2)),
                "close": money(close),
                "volume": str(max(1, int(volume * (0.5 + moves[i][3])))),
            }
        )
    rows[-1]["close"] = money(price(symbol))
    return rows


def _timespan(call: Call, default: str = "") -> str:
    timespan = call.text("timespan", default).upper()
    if timespan not in TIMESPANS:
        raise invalid(f"timespan must be one of {', '.join(TIMESPANS)}")
    return timespan


def bars(call: Call) -> list[dict[str, Any]]:
    """OHLCV rows, ``count`` per symbol (default 200), oldest first, ending at the clock.

    Serves the batch bars (GET or POST), the one-symbol ``stocks/bars/get`` and the end-of-day
    bars by instrument id; the last close is the symbol's price.
    """
    if "eod-bars" in call.path:
        return _eod_bars(call)
    timespan = _timespan(call, "D" if "bars/get" in call.path else "")
    count = call.integer("count", 200, _MAX_BARS)
    end = min(call.milliseconds("end_time") or call.now, call.now)
    start = call.milliseconds("start_time")
    rows = []
    for symbol in call.symbols(("AAPL",)):
        rows.extend(
            row
            for row in _bars(symbol, timespan, count, end)
            if not start or row["time"] >= start * 1000
        )
    return rows


def _eod_bars(call: Call) -> list[dict[str, Any]]:
    count = call.integer("count", 1, 800)
    end = call.now
    if call.text("date"):
        end = _date(call.text("date"), "date").timestamp() + 86399
    rows = []
    for identifier in call.items("instrument_ids"):
        known = symbol_for_id(identifier)
        for bar in _bars(known or f"#{identifier}", "D", count, min(end, call.now)):
            day = _day(bar.pop("time") / 1000).isoformat()
            del bar["symbol"]
            rows.append({"instrument_id": identifier, "symbol": known or "", "date": day, **bar})
    return rows


def _date(text: str, name: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise invalid(f"{name} must be a date YYYY-MM-DD, not {text!r}") from None


def footprints(call: Call) -> list[dict[str, Any]]:
    """Bars with the volume split into buyer- and seller-initiated, and the busiest price."""
    timespan = _timespan(call)
    count = call.integer("count", 20, _MAX_BARS)
    rows = []
    for symbol in call.symbols():
        for bar in _bars(symbol, timespan, count, call.now):
            volume = int(bar["volume"])
            share, where = units("footprint", symbol, bar["time"], n=2)
            bought = int(volume * (0.3 + 0.4 * share))
            low, high = float(bar["low"]), float(bar["high"])
            rows.append(
                {
                    **bar,
                    "buy_volume": str(bought),
                    "sell_volume": str(volume - bought),
                    "delta": str(2 * bought - volume),
                    "poc_price": money(low + (high - low) * where),
                }
            )
    return rows


def noii(call: Call) -> list[dict[str, Any]]:
    """Net order imbalance (opening or closing cross): one row per symbol, or per minute (bars)."""
    symbol = call.symbol()
    action = call.text("imbalance_action_type", "CLOSING")
    times = (
        [call.now] if "snapshots" in call.path else [call.now - 60 * i for i in range(9, -1, -1)]
    )
    rows = []
    for moment in times:
        paired, imbalance, side, near, far = units("noii", symbol, int(moment // 60), n=5)
        last = float(price(symbol))
        rows.append(
            {
                "symbol": symbol,
                "imbalance_action_type": action,
                "time": _ms(moment),
                "paired_shares": str(int(100_000 + paired * 2_000_000)),
                "imbalance_shares": str(int(1_000 + imbalance * 400_000)),
                "imbalance_side": "BUY" if side >= 0.5 else "SELL",
                "reference_price": money(last),
                "near_price": money(last * (1 + (near - 0.5) * 0.004)),
                "far_price": money(last * (1 + (far - 0.5) * 0.01)),
            }
        )
    return rows


# --- instruments -----------------------------------------------------------------------------


def instrument(symbol: str, category: str = "US_STOCK") -> dict[str, Any]:
    """One stock, ETF or crypto instrument as the instrument lists show it."""
    symbol = symbol.upper()
    if symbol in _CRYPTO or "CRYPTO" in category:
        kind, exchange, tick = "CRYPTO", "WEBULL_CRYPTO", "0.01"
        category = "US_CRYPTO"
    else:
        kind = "ETF" if symbol in _ETFS else "STOCK"
        exchange, tick = _EXCHANGES.get(symbol, "NASDAQ"), "0.01"
    return {
        "instrument_id": instrument_id(symbol),
        "symbol": symbol,
        "name": _name(symbol),
        "category": category,
        "instrument_type": kind,
        "exchange_code": exchange,
        "currency": "USD",
        "status": "ACTIVE",
        "lot_size": "1",
        "tick_size": tick,
    }


def instruments(call: Call) -> Any:
    """Stock, ETF and crypto instruments: lists by symbol, one by id, a security by its terms."""
    if call.path == "/trade/instrument":
        identifier = call.text("instrument_id")
        symbol = symbol_for_id(identifier) or f"SIM{identifier[-4:]}"
        return {**instrument(symbol), "instrument_id": identifier}
    if call.path == "/trade/security":
        return _security(call)
    category = call.text("category", _default_category(call.path))
    default = tuple(_CRYPTO) if "crypto" in call.path else UNIVERSE
    status = call.text("status").upper()
    rows = [instrument(symbol, category) for symbol in call.symbols(default)]
    return [row for row in rows if not status or row["status"] == status]


def _security(call: Call) -> dict[str, Any]:
    symbol = call.symbol()
    expiry = _date(call.text("init_exp_date"), "init_exp_date").date()
    kind = "P" if "PUT" in call.text("instrument_type").upper() else "C"
    try:
        strike = Decimal(call.text("strike_price"))
    except ArithmeticError:
        raise invalid("strike_price must be a number") from None
    return _contract(symbol, expiry, kind, strike)


def _contract(root: str, expiry: dt.date, kind: str, strike: Decimal) -> dict[str, Any]:
    occ = f"{root}{expiry:%y%m%d}{kind}{int(strike * 1000):08d}"
    return {
        "instrument_id": instrument_id(occ),
        "symbol": occ,
        "underlying_symbol": root,
        "category": "US_OPTION",
        "option_type": "CALL" if kind == "C" else "PUT",
        "strike_price": money(strike),
        "expiration_date": expiry.isoformat(),
        "style": "AMERICAN",
        "contract_size": "100",
        "currency": "USD",
        "status": "ACTIVE",
    }


def contracts(call: Call) -> Any:
    """Derivative contracts: option chains, futures (products and months), event contracts."""
    if "option" in call.path:
        return _option_chain(call)
    if "futures" in call.path:
        return _futures(call)
    return _events(call)


def _option_chain(call: Call) -> list[dict[str, Any]]:
    roots = call.items("underlying_symbols") or call.items("root_symbol")
    if not roots:
        found = (_OCC.match(s) for s in call.items("option_symbols") + call.items("option_symbol"))
        roots = [m.group(1) for m in found if m] or ["AAPL"]
    today = _day(call.now)
    fridays = [today + dt.timedelta(days=(4 - today.weekday()) % 7 + 7 * k) for k in (1, 2)]
    wanted = call.text("option_type").upper()
    low = _decimal(call, "strike_price_gte")
    high = _decimal(call, "strike_price_lte")
    rows = []
    for root in roots[:10]:
        spot = float(price(root))
        step = 1 if spot < 50 else 5 if spot < 200 else 10
        center = round(spot / step) * step
        strikes = [Decimal(center + step * k) for k in range(-2, 3)]
        for expiry in fridays:
            for strike in strikes:
                if (low is not None and strike < low) or (high is not None and strike > high):
                    continue
                for kind in "CP":
                    row = _contract(root, expiry, kind, strike)
                    if not wanted or row["option_type"] == wanted:
                        rows.append(row)
    return rows


def _decimal(call: Call, name: str) -> Decimal | None:
    raw = call.text(name)
    if not raw:
        return None
    try:
        return Decimal(raw)
    except ArithmeticError:
        raise invalid(f"{name} must be a number, not {raw!r}") from None


def _futures(call: Call) -> list[dict[str, Any]]:
    category = call.text("category", "US_FUTURES")
    if call.tail == "product-classes":
        return [
            {"product_class_id": k, "name": v, "category": category}
            for k, v in _PRODUCT_CLASSES.items()
        ]
    wanted_class = call.text("product_class_id").upper()
    if call.tail == "product-codes":
        return [
            {
                "code": code,
                "name": name,
                "exchange_code": exchange,
                "product_class_id": klass,
                "multiplier": multiplier,
                "tick_size": tick,
                "currency": "USD",
                "category": category,
            }
            for code, (name, exchange, klass, multiplier, tick, _) in _FUTURES.items()
            if not wanted_class or klass == wanted_class
        ]
    codes = (
        call.items("code")
        or [m.group(1) for s in call.symbols() if (m := _FUTURE_SYMBOL.match(s))]
        or list(_FUTURES)
    )
    unknown = [code for code in codes if code not in _FUTURES]
    if unknown:
        raise SimulatorError(
            404, "NOT_FOUND", f"no futures product {unknown[0]!r}: try {', '.join(_FUTURES)}"
        )
    today = _day(call.now)
    months = []
    year, month = today.year, today.month
    while len(months) < 4:
        month += 1
        if month > 12:
            year, month = year + 1, 1
        if month % 3 == 0:
            months.append((year, month))
    rows = []
    for code in codes:
        name, exchange, _, multiplier, tick, _ = _FUTURES[code]
        for year, month in months:
            symbol = f"{code}{_MONTH_CODES[month - 1]}{year % 10}"
            expiry = _third_friday(year, month)
            rows.append(
                {
                    "instrument_id": instrument_id(symbol),
                    "symbol": symbol,
                    "code": code,
                    "name": f"{name} {expiry:%b %Y}",
                    "contract_month": f"{year}-{month:02d}",
                    "expiration_date": expiry.isoformat(),
                    "exchange_code": exchange,
                    "multiplier": multiplier,
                    "tick_size": tick,
                    "currency": "USD",
                    "category": category,
                    "status": "ACTIVE",
                }
            )
    return rows


def _third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def _events(call: Call) -> list[dict[str, Any]]:
    if call.tail == "categories":
        names = sorted({category for _, category in _EVENT_SERIES.values()})
        return [{"category_id": n.upper(), "name": n} for n in names]
    if call.tail == "series":
        wanted = call.text("category").upper()
        return [
            {"series_symbol": s, "title": title, "category": category, "frequency": "MONTHLY"}
            for s, (title, category) in _EVENT_SERIES.items()
            if not wanted or category.upper() == wanted
        ]
    series = call.items("series_symbol") or list(_EVENT_SERIES)[:1]
    today = _day(call.now)
    events = []
    for name in series:
        title = _EVENT_SERIES.get(name, (f"{name} outcome", ""))[0]
        for k in (1, 2):
            closes = _month_end(today, k)
            events.append(
                {
                    "event_symbol": f"{name}-{closes:%y%m%d}",
                    "series_symbol": name,
                    "title": f"{title}, {closes:%b %Y}",
                    "expiration_date": closes.isoformat(),
                    "status": "ACTIVE",
                }
            )
    if call.tail == "events":
        return events
    wanted_events = call.items("event_symbol")
    rows = []
    for event in events:
        if wanted_events and event["event_symbol"] not in wanted_events:
            continue
        for strike in (1, 2, 3, 4):
            symbol = f"{event['event_symbol']}-T{strike}"
            yes = price(symbol)
            rows.append(
                {
                    "instrument_id": instrument_id(symbol),
                    "symbol": symbol,
                    "event_symbol": event["event_symbol"],
                    "series_symbol": event["series_symbol"],
                    "title": f"{event['title']}: outcome {strike}",
                    "yes_price": money(yes),
                    "no_price": money(Decimal(1) - yes),
                    "expiration_date": event["expiration_date"],
                    "status": "ACTIVE",
                }
            )
    return rows


def _month_end(today: dt.date, ahead: int) -> dt.date:
    year, month = today.year, today.month + ahead + 1
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return dt.date(year, month, 1) - dt.timedelta(days=1)


def corporate_actions(call: Call) -> list[dict[str, Any]]:
    """Dividends and splits of each instrument id, for each event type asked for."""
    today = _day(call.now)
    rows = []
    for identifier in call.items("instrument_ids"):
        symbol = symbol_for_id(identifier) or ""
        for kind in call.items("event_types"):
            amount, when = units("corp action", identifier, kind, n=2)
            ex_date = today - dt.timedelta(days=int(10 + when * 80))
            rows.append(
                {
                    "instrument_id": identifier,
                    "symbol": symbol,
                    "event_type": kind,
                    "ex_date": ex_date.isoformat(),
                    "record_date": (ex_date + dt.timedelta(days=1)).isoformat(),
                    "pay_date": (ex_date + dt.timedelta(days=14)).isoformat(),
                    "amount": money(0.05 + amount * 1.5) if "SPLIT" not in kind else None,
                    "ratio": "2:1" if "SPLIT" in kind else None,
                    "currency": "USD",
                }
            )
    return rows


# --- screeners -------------------------------------------------------------------------------


def _ranked_row(symbol: str, now: float) -> dict[str, Any]:
    quote = snapshot(symbol, "US_STOCK", now)
    shares = units("shares outstanding", symbol)[0]
    last = Decimal(quote["price"])
    return {
        "symbol": symbol,
        "instrument_id": quote["instrument_id"],
        "name": _name(symbol),
        "price": quote["price"],
        "change": quote["change"],
        "change_ratio": quote["change_ratio"],
        "volume": quote["volume"],
        "turnover": money(last * int(quote["volume"])),
        "market_value": money(last * int(2e8 + shares * 1.5e10)),
    }


def _ranked(call: Call, rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    sort_by = call.text("sort_by").lower()
    if sort_by in (rows[0] if rows else {}):
        key = sort_by
    ascending = call.text("direction").upper() in ("ASC", "ASCENDING", "UP")
    if "LOSER" in call.text("rank_type").upper() or "LOW" in call.text("rank_type").upper():
        ascending = not ascending
    rows.sort(key=lambda row: Decimal(str(row[key] or 0)), reverse=not ascending)
    return [{"rank": i + 1, **row} for i, row in enumerate(rows)]


def screeners(call: Call) -> Any:
    """Ranked stock lists (gainers, actives, dividends, 52-week), sectors, alerts, sentiment."""
    tail = call.tail
    if "fear-greed" in tail:
        value, previous = units("fear greed", _day(call.now).isoformat(), n=2)
        score = int(value * 100)
        return {
            "value": str(score),
            "rating": _fear_greed(score),
            "previous_close": str(int(previous * 100)),
            "time": _ms(call.now),
        }
    if "unusual" in tail:
        return _unusual(call)
    if "sectors" in tail:
        return _sectors(call)
    rows = [_ranked_row(s, call.now) for s in UNIVERSE]
    key = "change_ratio"
    if "active" in tail:
        key = "volume"
    elif "dividend" in tail:
        key = "dividend_yield"
        for row in rows:
            row["dividend_yield"] = f"{units('dividend yield', row['symbol'])[0] * 0.06:.4f}"
    elif "52" in tail:
        for row in rows:
            last = float(row["price"])
            up, down = units("52 week", row["symbol"], n=2)
            row["week52_high"] = money(last * (1 + up * 0.4))
            row["week52_low"] = money(last * (1 - down * 0.4))
    return _ranked(call, rows, key)


def _fear_greed(score: int) -> str:
    for limit, label in ((25, "EXTREME_FEAR"), (45, "FEAR"), (55, "NEUTRAL"), (75, "GREED")):
        if score < limit:
            return label
    return "EXTREME_GREED"


def _unusual(call: Call) -> list[dict[str, Any]]:
    kinds = call.items("alert_types") or ["VOLUME_SPIKE", "PRICE_SPIKE", "BLOCK_TRADE"]
    symbols = call.symbols(UNIVERSE)
    count = call.integer("count", 10, 100)
    rows = []
    for i in range(count):
        pick, kind, when = units("unusual", i, int(call.now // 3600), n=3)
        symbol = symbols[int(pick * len(symbols))]
        rows.append(
            {
                "symbol": symbol,
                "alert_type": kinds[int(kind * len(kinds))],
                "time": _ms(call.now - when * 3600),
                "price": money(price(symbol)),
                "volume": str(int(_volume(symbol) * 0.01 * (1 + pick))),
            }
        )
    rows.sort(key=lambda row: -row["time"])
    return rows


def _sectors(call: Call) -> list[dict[str, Any]]:
    if call.tail == "market-sectors-detail" or call.path.endswith("/market-sectors/get"):
        sector = call.text("sector_id").upper()
        if sector not in _SECTORS:
            raise SimulatorError(
                404, "SECTOR_NOT_FOUND", f"no sector {sector!r}: try {', '.join(_SECTORS)}"
            )
        return _ranked(
            call, [_ranked_row(s, call.now) for s in _SECTORS[sector][1]], "change_ratio"
        )
    rows = []
    for sector, (name, members) in _SECTORS.items():
        quotes = [_ranked_row(s, call.now) for s in members]
        ratios = [Decimal(q["change_ratio"]) for q in quotes]
        leader = max(quotes, key=lambda q: Decimal(q["change_ratio"]))
        rows.append(
            {
                "sector_id": sector,
                "name": name,
                "change_ratio": str((sum(ratios) / len(ratios)).quantize(_BASIS)),
                "rising_count": sum(r > 0 for r in ratios),
                "falling_count": sum(r < 0 for r in ratios),
                "leader_symbol": leader["symbol"],
                "leader_change_ratio": leader["change_ratio"],
            }
        )
    return _ranked(call, rows, "change_ratio")


# --- streaming -------------------------------------------------------------------------------


def streaming(call: Call) -> dict[str, Any]:
    """Acknowledge a streaming subscribe or unsubscribe (the simulator streams nothing)."""
    subscribing = call.tail == "subscribe"
    return {
        "session_id": call.text("session_id"),
        "status": "SUBSCRIBED" if subscribing else "UNSUBSCRIBED",
        "category": call.text("category"),
        "symbols": call.symbols(),
        "sub_types": call.items("sub_types"),
        "unsubscribe_all": bool(call.params.get("unsubscribe_all")) if not subscribing else False,
    }
