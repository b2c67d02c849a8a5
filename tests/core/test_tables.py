"""Answers as tables and trees: which values are records, exact amounts, escaping, deep nesting."""

from __future__ import annotations

import json
import sys

import pytest
import requests

from webull_nb.core import tables
from webull_nb.core.tables import (
    cell_text,
    columns_of,
    frame,
    header_html,
    header_text,
    html_table,
    html_tree,
    records_of,
    text_table,
    text_tree,
)

HOSTILE = "<img src=x onerror=alert(1)>"
ORDERS = [
    {"symbol": "AAPL", "price": "189.840", "qty": "0.10"},
    {"symbol": "MSFT", "side": "BUY", "price": "412.5"},
    {"filled": True, "symbol": "TSLA"},
]


def _deep(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (ORDERS, ORDERS),
        ([], []),
        ({"data": ORDERS, "total": 3}, ORDERS),
        ({"orders": ORDERS, "has_next": False}, ORDERS),
        # "data" wins over another holder; a "data" that is not records falls to the rest.
        ({"items": [{"a": 1}], "data": ORDERS}, ORDERS),
        ({"data": [1, 2], "items": ORDERS}, ORDERS),
        ({"holdings": []}, []),
    ],
)
def test_records_of_finds_the_table(value: object, expected: list) -> None:
    assert records_of(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        [1, 2, 3],
        [{"a": 1}, 2],
        {"a": 1},
        {"one": [{"a": 1}], "two": [{"b": 2}]},  # ambiguous: neither is "the" table
        {"outer": {"data": [{"a": 1}]}},  # only one level down
        "text",
        None,
        3,
    ],
)
def test_records_of_refuses_what_is_not_a_table(value: object) -> None:
    assert records_of(value) is None


def test_columns_follow_first_appearance_and_are_stable() -> None:
    assert columns_of(ORDERS) == ["symbol", "price", "qty", "side", "filled"]
    assert columns_of(list(reversed(ORDERS))) == ["filled", "symbol", "side", "price", "qty"]
    assert columns_of([]) == []


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("189.840", "189.840"),
        ("0.10", "0.10"),
        ("", ""),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (10, "10"),
        (0.1, "0.1"),
        ({"a": [1, "x"]}, '{"a":[1,"x"]}'),
        (["é"], '["é"]'),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_amounts_stay_exact_in_html_and_text() -> None:
    html = html_table(ORDERS)
    text = text_table(ORDERS)
    for amount in ("189.840", "0.10", "412.5"):
        assert f"<td>{amount}</td>" in html
        assert amount in text


def test_html_table_shape_caption_and_limit() -> None:
    html = html_table(ORDERS)
    assert html.startswith('<table class="webull-nb-table"')
    assert (
        "<thead><tr><th>symbol</th><th>price</th><th>qty</th><th>side</th><th>filled</th>" in html
    )
    assert ">3 rows</caption>" in html
    assert html.count("<tr>") == 4
    cut = html_table(ORDERS * 10, limit=5)
    assert "showing first 5 of 30 rows" in cut
    assert cut.count("<tr>") == 6
    assert ">0 rows</caption>" in html_table([])


def test_html_escapes_values_and_keys() -> None:
    records = [{"<key>": HOSTILE, "ok": "a&b"}]
    tree = {"<key>": HOSTILE, "list": [HOSTILE]}
    for html in (html_table(records), html_tree(tree), html_tree(records)):
        assert HOSTILE not in html
        assert "<key>" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script" not in html_table([{"a": "<script>alert(1)</script>"}])
    assert "&lt;" in header_html("GET", "/x<script>", 200, 1.0, "<id>")
    assert "<script>" not in header_html("GET", "/x<script>", 200, 1.0, "<id>")


def test_text_table_aligns_cuts_long_cells_and_says_when_rows_are_cut() -> None:
    lines = text_table(ORDERS).splitlines()
    assert lines[0].split() == ["symbol", "price", "qty", "side", "filled"]
    assert lines[2].index("189.840") == lines[0].index("price")
    assert lines[4].index("true") == lines[0].index("filled")
    long = [{"name": "x" * 500, "v": "1"}]
    narrow = text_table(long, width=40)
    assert all(len(line) <= 40 for line in narrow.splitlines())
    assert "…" in narrow
    cut = text_table(ORDERS * 30, limit=10)
    assert len(cut.splitlines()) == 2 + 10 + 1
    assert cut.splitlines()[-1] == "showing first 10 of 90 rows"
    assert text_table([]) == "0 rows"


def test_text_never_passes_terminal_control_characters() -> None:
    hostile = "red\x1b[31m\x9b2J\nnext"
    for text in (
        text_table([{"a": hostile}]),
        text_tree({"a": hostile}),
        header_text("GET", hostile, 200, 1.0, None),
    ):
        assert "\x1b" not in text
        assert "\x9b" not in text
    assert len(text_table([{"a": hostile}]).splitlines()) == 3  # the newline did not split a row


def test_html_tree_is_collapsible_and_summarises() -> None:
    html = html_tree({"accounts": ORDERS, "empty": [], "n": 3, "s": "0.10", "none": None})
    assert html.count("<details") == 1 + 1 + 3  # the object, its list, each record
    assert "<details open><summary>{5 keys}</summary>" in html
    assert "<summary><b>accounts</b>: [3 items]</summary>" in html
    assert "<b>s</b>: &quot;0.10&quot;" in html
    assert "<b>none</b>: null" in html
    assert "<b>empty</b>: []" in html
    assert html_tree({"a": {"b": {}}}, open_levels=2).count("<details open>") == 2
    assert "<details" not in html_tree(42)


def test_text_tree_is_indented_json() -> None:
    value = {"name": "é", "amounts": ["0.10", 1]}
    assert text_tree(value) == json.dumps(value, indent=2, ensure_ascii=False)
    assert json.loads(text_tree(value)) == value


def test_deep_nesting_is_cut_not_a_recursion_error() -> None:
    deep = _deep(10_000)
    for text in (text_tree(deep), html_tree(deep), cell_text(deep), text_table([{"a": deep}])):
        assert "…" in text
    assert html_tree(deep).count("<details") == tables.MAX_DEPTH
    assert text_tree(deep).count("[") == tables.MAX_DEPTH


def test_header_text() -> None:
    assert (
        header_text("get", "/openapi/account/list", 200, 12.3, "3f2a9c")
        == "GET /openapi/account/list · 200 OK · 12 ms · request 3f2a9c"
    )
    assert header_text("POST", "/p", 429, 1.25, None) == "POST /p · 429 Too Many Requests · 1.2 ms"
    assert header_text("GET", "/p", 599, 1500.0, None) == "GET /p · 599 · 1,500 ms"


def test_frame_keeps_columns_in_order_and_strings_exact() -> None:
    pd = pytest.importorskip("pandas")
    df = frame({"data": ORDERS, "total": 3})
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["symbol", "price", "qty", "side", "filled"]
    assert df["qty"].dtype == object
    assert df["qty"][0] == "0.10"
    assert df["price"][:2].tolist() == ["189.840", "412.5"]
    assert frame([]).shape == (0, 0)


def test_frame_reads_a_response() -> None:
    pytest.importorskip("pandas")
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps({"data": ORDERS}).encode()
    df = frame(response)
    assert df["price"][0] == "189.840"
    assert len(df) == 3


def test_frame_says_when_there_are_no_records() -> None:
    pytest.importorskip("pandas")
    with pytest.raises(ValueError, match="No records") as raised:
        frame({"total": 3, "name": "x"})
    assert "['name', 'total']" in str(raised.value)
    with pytest.raises(ValueError, match="No records"):
        frame([1, 2])


def test_frame_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'webull-nb\[pandas\]'"):
        frame(ORDERS)
