"""Generated research data: fundamentals, news, community posts and calendars.

One table says what each fundamentals endpoint holds (``_FUNDAMENTALS``: its fields and the
kind of value each takes) and one builder fills it, so the thirty fundamentals paths need no
handler each. Values derive from hashes as in ``market``: the same request answers the same.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from webull_nb.simulator.market import NAMES, UNIVERSE, instrument_id, money, price, units
from webull_nb.simulator.params import Call, invalid

__all__ = ["community", "fundamentals", "news", "trade_calendar"]

_PEOPLE = ("Alex Morgan", "Jordan Lee", "Sam Rivera", "Taylor Chen", "Casey Brooks")
_TITLES = (
    "Chief Executive Officer",
    "Chief Financial Officer",
    "Director",
    "Chief Operating Officer",
)
_INSTITUTIONS = (
    "Simulated Capital Management",
    "Example Asset Partners",
    "Placeholder Index Advisors",
    "Notional Investments LLC",
)
_HEADLINES = (
    "{symbol} shares move as traders weigh {topic}",
    "Analysts revisit {symbol} targets after {topic}",
    "What {topic} means for {symbol}",
    "{symbol} options volume rises ahead of {topic}",
)
_TOPICS = ("quarterly earnings", "the Fed decision", "new product launches", "sector rotation")
_SOURCES = ("Simulated Wire", "Example Markets Daily", "Placeholder News")

# Each field is "name:kind" or "name:kind:argument"; see _value for the kinds. An endpoint
# answers one object, or rows (``count`` of them, or one per item of a ``seq`` field).
_STATEMENT = ("fiscal_period:period", "currency:const:USD")
_FUNDAMENTALS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "ratings": (
        False,
        (
            "symbol:symbol",
            "rating:pick:STRONG_BUY|BUY|HOLD",
            "strong_buy:small",
            "buy:small",
            "hold:small",
            "sell:small",
            "strong_sell:small",
            "updated:past",
        ),
    ),
    "target-prices": (
        False,
        (
            "symbol:symbol",
            "current_price:last",
            "target_high:price:1.35",
            "target_mean:price:1.12",
            "target_low:price:0.85",
            "analyst_count:small",
            "currency:const:USD",
        ),
    ),
    "balance-sheets": (
        True,
        (
            *_STATEMENT,
            "total_assets:amount",
            "total_liabilities:amount:0.6",
            "total_equity:amount:0.4",
            "cash_and_equivalents:amount:0.1",
            "total_debt:amount:0.3",
        ),
    ),
    "income-statements": (
        True,
        (
            *_STATEMENT,
            "revenue:amount:0.3",
            "gross_profit:amount:0.13",
            "operating_income:amount:0.09",
            "net_income:amount:0.07",
            "eps:eps",
            "diluted_eps:eps",
        ),
    ),
    "cash-flows": (
        True,
        (
            *_STATEMENT,
            "operating_cash_flow:amount:0.09",
            "investing_cash_flow:signed:0.05",
            "financing_cash_flow:signed:0.08",
            "capital_expenditure:amount:0.02",
            "free_cash_flow:amount:0.07",
        ),
    ),
    "indicators": (
        True,
        (
            "fiscal_period:period",
            "pe_ratio:multiple",
            "pb_ratio:multiple",
            "roe:ratio",
            "roa:ratio",
            "gross_margin:ratio",
            "net_margin:ratio",
            "debt_to_equity:multiple",
        ),
    ),
    "capital-flows": (
        True,
        (
            "date:pastday",
            "inflow:amount:0.002",
            "outflow:amount:0.002",
            "net_inflow:signed:0.0005",
            "large_order_net_inflow:signed:0.0003",
        ),
    ),
    "company-profiles": (
        False,
        (
            "symbol:symbol",
            "name:name",
            "sector:pick:Technology|Consumer Cyclical|Communication Services|Financials",
            "industry:pick:Consumer Electronics|Software|Semiconductors|Internet Retail",
            "employees:count",
            "ceo:pick:" + "|".join(_PEOPLE),
            "headquarters:pick:Cupertino, CA|Redmond, WA|Santa Clara, CA|Austin, TX",
            "website:text:https://investors.example/{symbol}",
            "description:text:{name} (a simulated company profile for {symbol}).",
        ),
    ),
    "dividend-calendars": (
        True,
        (
            "symbol:symbol",
            "ex_date:future",
            "record_date:future:1",
            "pay_date:future:14",
            "amount:dividend",
            "currency:const:USD",
            "frequency:const:QUARTERLY",
        ),
    ),
    "earnings-calendars": (
        True,
        (
            "symbol:symbol",
            "report_date:future",
            "fiscal_period:period",
            "eps_estimate:eps",
            "revenue_estimate:amount:0.3",
            "time:pick:BEFORE_MARKET|AFTER_MARKET",
        ),
    ),
    "economic-calendars": (
        True,
        (
            "date:future",
            "region:pick:US|EU|CN|JP",
            "event:pick:CPI YoY|Nonfarm Payrolls|FOMC Rate Decision|Retail Sales MoM|GDP QoQ",
            "importance:pick:HIGH|MEDIUM|LOW",
            "forecast:ratio",
            "previous:ratio",
        ),
    ),
    "filings": (
        True,
        (
            "filing_id:id",
            "symbol:symbol",
            "form_type:pick:10-K|10-Q|8-K|4",
            "filing_date:past",
            "title:text:{symbol} filing {i}",
            "url:text:https://filings.example/{symbol}/{i}",
        ),
    ),
    "financial-alerts": (
        True,
        (
            "alert_id:id",
            "symbol:symbol",
            "date:past",
            "alert_type:pick:EARNINGS_BEAT|REVENUE_MISS|GUIDANCE_RAISED|DIVIDEND_DECLARED",
            "description:text:A simulated alert about {symbol}.",
        ),
    ),
    "forecast-eps": (
        True,
        (
            "fiscal_period:ahead",
            "eps_estimate:eps",
            "eps_high:eps",
            "eps_low:eps",
            "analyst_count:small",
        ),
    ),
    "fund-allocations": (
        True,
        ("asset_class:seq:Stocks|Bonds|Cash|Other", "weight:ratio"),
    ),
    "fund-brief": (
        False,
        (
            "symbol:symbol",
            "name:name",
            "fund_family:pick:" + "|".join(_INSTITUTIONS),
            "inception_date:past:3650",
            "expense_ratio:fee",
            "net_assets:amount:0.5",
            "fund_category:pick:Large Blend|Large Growth|Technology",
            "benchmark:const:S&P 500 Total Return",
        ),
    ),
    "fund-dividends": (
        True,
        ("ex_date:past", "pay_date:past", "amount:dividend", "currency:const:USD"),
    ),
    "dividends": (
        True,
        ("ex_date:past", "pay_date:past", "amount:dividend", "currency:const:USD"),
    ),
    "fund-files": (
        True,
        (
            "title:seq:Prospectus|Annual Report|Semi-Annual Report|Fact Sheet",
            "date:past",
            "url:text:https://funds.example/{symbol}/{i}",
        ),
    ),
    "fund-holdings": (
        True,
        (
            "holding_symbol:seq:AAPL|MSFT|NVDA|AMZN|META",
            "weight:ratio",
            "shares:count",
            "market_value:amount:0.01",
        ),
    ),
    "fund-net-values": (
        True,
        ("date:pastday", "nav:price:1", "change_ratio:move"),
    ),
    "fund-performances": (
        True,
        ("period:seq:1M|3M|YTD|1Y|3Y|5Y", "total_return:ratio", "benchmark_return:ratio"),
    ),
    "fund-ratings": (
        False,
        (
            "symbol:symbol",
            "morningstar_rating:pick:3|4|5",
            "risk_rating:pick:LOW|MEDIUM|HIGH",
            "rating_date:past",
        ),
    ),
    "fund-splits": (
        True,
        ("split_date:past:700", "ratio:pick:2-for-1|3-for-1|4-for-1"),
    ),
    "industry-comparisons": (
        True,
        (
            "peer_symbol:seq:MSFT|NVDA|GOOGL|META|AMZN",
            "pe_ratio:multiple",
            "market_value:amount",
            "revenue_growth:ratio",
            "net_margin:ratio",
        ),
    ),
    "insider-holdings": (
        True,
        (
            "holder_name:seq:" + "|".join(_PEOPLE),
            "title:pick:" + "|".join(_TITLES),
            "shares:count",
            "change_shares:signed_count",
            "date:past",
        ),
    ),
    "insider-transactions": (
        True,
        (
            "insider_name:pick:" + "|".join(_PEOPLE),
            "title:pick:" + "|".join(_TITLES),
            "side:pick:BUY|SELL",
            "shares:count",
            "price:price:1",
            "date:past",
        ),
    ),
    "holding-changes": (
        True,
        (
            "cik:cik",
            "symbol:seq:" + "|".join(UNIVERSE[:6]),
            "change_shares:signed_count",
            "shares:count",
            "market_value:amount",
            "date:past",
        ),
    ),
    "holdings": (
        True,
        (
            "cik:cik",
            "symbol:seq:" + "|".join(UNIVERSE[:6]),
            "shares:count",
            "market_value:amount",
            "weight:ratio",
        ),
    ),
    "institutions": (
        True,
        (
            "cik:id",
            "name:pick:" + "|".join(_INSTITUTIONS),
            "total_value:amount",
            "holdings_count:small",
        ),
    ),
}


def _date(moment: float) -> dt.date:
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc).date()


def _quarter_end(today: dt.date, back: int) -> str:
    # The end of the quarter ``back`` quarters before the last completed one (negative: ahead).
    index = today.year * 4 + (today.month - 1) // 3 - 1 - back
    year, quarter = divmod(index, 4)
    return f"{year}-Q{quarter + 1}"


def _value(field: str, kind: str, argument: str, key: str, i: int, call: Call) -> Any:
    """One field's value: ``kind`` says what it is, ``key`` and ``i`` what it describes."""
    u = units("fundamental", key, field, i)[0]
    today = _date(call.now)
    symbol = key.split("|", 1)[0]
    if kind == "symbol":
        return symbol
    if kind == "name":
        return NAMES.get(symbol, f"{symbol.title()} Holdings Inc.")
    if kind == "const":
        return argument
    if kind in ("pick", "seq"):
        choices = argument.split("|")
        return choices[i % len(choices)] if kind == "seq" else choices[int(u * len(choices))]
    if kind == "text":
        return argument.format(symbol=symbol, i=i + 1, name=_value(field, "name", "", key, i, call))
    if kind in ("id", "cik"):
        raw = call.text("cik") if kind == "cik" else ""
        return raw or str(1_000_000 + int(units("identifier", key, i)[0] * 8_999_999))
    scale = 10 ** (9 + 2 * units("size", symbol)[0])  # a company's size, the same in every table
    numbers: dict[str, Any] = {
        "amount": lambda: money(scale * float(argument or 1) * (0.9 + 0.2 * u)),
        "signed": lambda: money(scale * float(argument or 1) * (u - 0.6)),
        "count": lambda: str(int(10 ** (4 + 4 * u))),
        "signed_count": lambda: str(int((u - 0.5) * 2e5)),
        "small": lambda: 1 + int(u * 30),
        "eps": lambda: f"{0.2 + u * 7:.2f}",
        "dividend": lambda: money(0.05 + u * 1.2),
        "ratio": lambda: f"{u * 0.6:.4f}",
        "move": lambda: f"{(u - 0.5) * 0.04:.4f}",
        "fee": lambda: f"{0.0003 + u * 0.0097:.4f}",
        "multiple": lambda: f"{5 + u * 45:.2f}",
        "last": lambda: money(price(symbol)),
        "price": lambda: money(float(price(symbol)) * float(argument or 1) * (0.97 + u * 0.06)),
        "period": lambda: _quarter_end(today, i),
        "ahead": lambda: _quarter_end(today, -1 - i),
        "past": lambda: (
            today - dt.timedelta(days=int(u * int(argument or 90)) + 30 * i)
        ).isoformat(),
        "pastday": lambda: (today - dt.timedelta(days=i + 1)).isoformat(),
        "future": lambda: (today + dt.timedelta(days=7 + 30 * i + int(argument or 0))).isoformat(),
    }
    if kind not in numbers:
        raise ValueError(f"unknown field kind {kind!r}")
    return numbers[kind]()


def fundamentals(call: Call) -> Any:
    """Any fundamentals endpoint, as its row of ``_FUNDAMENTALS`` describes it."""
    name = call.tail
    if name not in _FUNDAMENTALS:
        raise invalid(f"the simulator has no fundamentals for {call.path}")
    many, fields = _FUNDAMENTALS[name]
    key = "|".join((call.symbol(""), call.text("cik"), call.text("keyword"), name))
    specs = [[*field.split(":", 2), ""] for field in fields]
    sequence = next((len(s[2].split("|")) for s in specs if s[1] == "seq"), None)
    count = call.integer("count", sequence or 4, 50)
    rows = [
        {spec[0]: _value(*spec[:3], key, i, call) for spec in specs}
        for i in range(min(count, sequence or count) if many else 1)
    ]
    return rows if many else rows[0]


# --- news and community ----------------------------------------------------------------------


def _article(news_id: str, symbol: str, now: float, *, full: bool = False) -> dict[str, Any]:
    headline, topic, source, sentiment, age = units("news", news_id, n=5)
    title = _HEADLINES[int(headline * len(_HEADLINES))].format(
        symbol=symbol, topic=_TOPICS[int(topic * len(_TOPICS))]
    )
    article = {
        "news_id": news_id,
        "title": title,
        "summary": f"A simulated article about {symbol}; no market moved.",
        "source": _SOURCES[int(source * len(_SOURCES))],
        "publish_time": int((now - age * 86400 * 3) * 1000),
        "symbols": [symbol],
        "sentiment": ("NEGATIVE", "NEUTRAL", "POSITIVE")[int(sentiment * 3)],
        "url": f"https://news.example/sim/{news_id}",
    }
    if full:
        article["content"] = f"{title}. " + article["summary"] * 3
    return article


def _news_ids(subject: str) -> list[str]:
    return [str(7_000_000 + int(units("news id", subject, i)[0] * 999_999)) for i in range(5)]


def _subject_of(identifier: str, ids: Any, salt: str) -> str:
    # The symbol a listed id was made for, so its detail tells the same story; else a pick.
    for symbol in UNIVERSE:
        if identifier in ids(symbol):
            return symbol
    return UNIVERSE[int(units(salt, identifier)[0] * len(UNIVERSE))]


def news(call: Call) -> Any:
    """News: a few articles on a symbol or keyword (newest first), or one article by id."""
    if call.tail == "detail":
        news_id = call.text("news_id")
        symbol = _subject_of(news_id, _news_ids, "news symbol")
        return _article(news_id, symbol, call.now, full=True)
    symbol = call.symbol("")
    keyword = call.text("keyword")
    rows = []
    for news_id in _news_ids(symbol or keyword or "market"):
        about = symbol or _subject_of(news_id, _news_ids, "news symbol")
        article = _article(news_id, about, call.now)
        if keyword:
            article["summary"] = f"A simulated article matching {keyword!r}; no market moved."
        rows.append(article)
    wanted = call.text("sentiment").upper()
    rows = [row for row in rows if not wanted or row["sentiment"] == wanted]
    rows.sort(key=lambda row: -row["publish_time"])
    return rows


def _post(post_id: str, symbol: str, now: float) -> dict[str, Any]:
    likes, comments, age, topic = units("post", post_id, n=4)
    return {
        "post_id": post_id,
        "symbol": symbol,
        "text": f"Watching {symbol} into {_TOPICS[int(topic * len(_TOPICS))]}.",
        "author": "sim_trader",
        "create_time": int((now - age * 86400) * 1000),
        "like_count": int(likes * 200),
        "comment_count": int(comments * 40),
    }


def community(call: Call) -> Any:
    """Community posts: lists, one post, symbol rankings, and a new post or comment (POST)."""
    if call.entry.method == "POST":
        return _created(call)
    if call.tail == "stock-rankings":
        rows = []
        for i, symbol in enumerate(UNIVERSE[:10]):
            mentions, mood = units("rankings", symbol, n=2)
            rows.append(
                {
                    "rank": i + 1,
                    "symbol": symbol,
                    "instrument_id": instrument_id(symbol),
                    "name": NAMES[symbol],
                    "mention_count": int(200 + mentions * 5000),
                    "bullish_ratio": f"{mood:.4f}",
                }
            )
        rows.sort(key=lambda row: -row["mention_count"])
        return [{**row, "rank": i + 1} for i, row in enumerate(rows)]
    if call.tail == "posts" and call.path.endswith("/get"):
        post_id = call.text("post_id")
        return _post(post_id, _subject_of(post_id, _post_ids, "post symbol"), call.now)
    symbol = call.symbol("")
    rows = [
        _post(post_id, symbol or _subject_of(post_id, _post_ids, "post symbol"), call.now)
        for post_id in _post_ids(symbol or "mine")
    ]
    rows.sort(key=lambda row: -row["create_time"])
    return rows


def _post_ids(subject: str) -> list[str]:
    return [str(5_000_000 + int(units("post id", subject, i)[0] * 999_999)) for i in range(5)]


def _created(call: Call) -> dict[str, Any]:
    stamp = int(call.now * 1000)
    text = call.text("text")
    if "/comments/" in call.path:
        comment = str(
            6_000_000 + int(units("comment", call.text("post_id"), text, stamp)[0] * 999_999)
        )
        return {
            "comment_id": comment,
            "post_id": call.text("post_id"),
            "text": text,
            "create_time": stamp,
        }
    post = str(5_000_000 + int(units("new post", text, stamp)[0] * 999_999))
    return {"post_id": post, "symbol": call.symbol(""), "text": text, "create_time": stamp}


# --- the trading calendar --------------------------------------------------------------------

_HOLIDAYS = {(1, 1), (7, 4), (12, 25)}
_HALF_DAYS = {(7, 3), (12, 24)}
_MAX_CALENDAR_DAYS = 366


def trade_calendar(call: Call) -> list[dict[str, Any]]:
    """The market's trading days from ``start`` to ``end`` (weekends and a few holidays off)."""
    first, last = (_day(call.text(name), name) for name in ("start", "end"))
    if last < first:
        raise invalid("end is before start")
    if (last - first).days > _MAX_CALENDAR_DAYS:
        raise invalid(f"at most {_MAX_CALENDAR_DAYS} days per request")
    rows = []
    day = first
    while day <= last:
        if day.weekday() < 5 and (day.month, day.day) not in _HOLIDAYS:
            half = (day.month, day.day) in _HALF_DAYS
            rows.append(
                {"trade_day": day.isoformat(), "trading_type": "HALF_DAY" if half else "FULL_DAY"}
            )
        day += dt.timedelta(days=1)
    return rows


def _day(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise invalid(f"{name} must be a date YYYY-MM-DD, not {text!r}") from None
