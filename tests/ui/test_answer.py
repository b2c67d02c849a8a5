"""What `%webull get` returns: the parsed value itself, shown as a table or tree, and its boxes."""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys

import pytest
from IPython.lib.pretty import pretty

from webull_nb.ui.answer import ErrorBox, JsonDict, JsonList, Listing, Meta, shown

HOSTILE = "<img src=x onerror=alert(1)>"
META = Meta("GET", "/openapi/account/list", 200, 12.0, "3f2a9c")
HEADER = "GET /openapi/account/list · 200 OK · 12 ms · request 3f2a9c"
ACCOUNTS = [
    {"account_id": "A1", "cash": "189.840", "user": "me"},
    {"account_id": "A2", "cash": "0.10", "type": "MARGIN"},
]


def test_importing_loads_no_widgets_pandas_or_ipython() -> None:
    code = (
        "import json, sys; import webull_nb.ui.answer, webull_nb.core.tables; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'ipywidgets', 'pandas', 'IPython'})))"
    )
    assert json.loads(subprocess.check_output([sys.executable, "-c", code], text=True)) == []


def test_shown_wraps_lists_and_dicts_and_leaves_scalars() -> None:
    listed = shown(ACCOUNTS, META)
    assert type(listed) is JsonList
    assert isinstance(listed, list)
    assert listed == ACCOUNTS
    obj = shown({"data": ACCOUNTS}, META)
    assert type(obj) is JsonDict
    assert isinstance(obj, dict)
    assert obj == {"data": ACCOUNTS}
    for scalar in ("text", 3, 1.5, None, True):
        assert shown(scalar, META) is scalar


@pytest.mark.parametrize("value", [ACCOUNTS, {"data": ACCOUNTS, "next": "t"}, {"a": [1]}])
def test_the_value_is_plain_data_with_a_read_only_meta(value: object) -> None:
    answer = shown(value, META)
    assert answer.meta == META
    assert "meta" not in (answer if isinstance(answer, dict) else {})
    with pytest.raises(AttributeError):
        answer.meta = Meta("GET", "/other", 200, 1.0)
    assert json.loads(json.dumps(answer)) == value
    for copied in (pickle.loads(pickle.dumps(answer)), copy.deepcopy(answer)):  # noqa: S301
        assert type(copied) is type(answer)
        assert copied == value
        assert copied.meta == META


def test_records_show_as_a_table_with_the_header() -> None:
    bundle = shown(ACCOUNTS, META)._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    html, text = bundle["text/html"], bundle["text/plain"]
    assert "<table" in html
    assert HEADER in html
    for amount in ("189.840", "0.10"):
        assert f"<td>{amount}</td>" in html
        assert amount in text
    lines = text.splitlines()
    assert lines[0] == HEADER
    assert lines[1].split() == ["account_id", "cash", "user", "type"]


def test_other_json_shows_as_a_tree() -> None:
    bundle = shown({"account": {"id": "A1", "cash": "0.10"}}, META)._repr_mimebundle_()
    assert "<details" in bundle["text/html"]
    assert "<table" not in bundle["text/html"]
    assert bundle["text/plain"].splitlines()[0] == HEADER
    assert '"cash": "0.10"' in bundle["text/plain"]


def test_an_object_holding_records_keeps_its_other_keys_in_view() -> None:
    bundle = shown({"data": ACCOUNTS, "next_page": "tok-2"}, META)._repr_mimebundle_()
    assert "<table" in bundle["text/html"]
    assert "tok-2" in bundle["text/html"]
    assert "tok-2" in bundle["text/plain"]


def test_the_mimebundle_honours_include_and_exclude() -> None:
    answer = shown(ACCOUNTS, META)
    assert set(answer._repr_mimebundle_(include={"text/plain"})) == {"text/plain"}
    assert set(answer._repr_mimebundle_(exclude={"text/plain"})) == {"text/html"}


def test_a_terminal_shows_the_header_and_the_table() -> None:
    text = pretty(shown(ACCOUNTS, META))
    assert text.splitlines()[0] == HEADER
    assert "189.840" in text
    assert "account_id" in text
    assert pretty(META) == HEADER


def test_the_table_is_a_dataframe_when_pandas_is_there() -> None:
    pytest.importorskip("pandas")
    answer = shown([{"b": "0.10", "a": HOSTILE}, {"<k>": "x"}], META)
    html = answer._repr_mimebundle_()["text/html"]
    assert 'class="dataframe"' in html
    assert html.index(">b</th>") < html.index(">a</th>") < html.index(">&lt;k&gt;</th>")
    assert HOSTILE not in html
    assert "<k>" not in html
    assert answer.frame()["b"][0] == "0.10"


def test_without_pandas_the_table_is_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    answer = shown([{"cash": "0.10", "note": HOSTILE}], META)
    html = answer._repr_mimebundle_()["text/html"]
    assert 'class="webull-nb-table"' in html
    assert "<td>0.10</td>" in html
    assert HOSTILE not in html
    with pytest.raises(ImportError, match=r"webull-nb\[pandas\]"):
        answer.frame()


def test_a_hostile_tree_is_escaped() -> None:
    html = shown({"<k>": HOSTILE}, Meta("GET", "/<p>", 200, 1.0, None))._repr_mimebundle_()
    assert HOSTILE not in html["text/html"]
    assert "<k>" not in html["text/html"]
    assert "<p>" not in html["text/html"]


def test_error_box() -> None:
    box = ErrorBox("RateLimitError", f"Too many requests {HOSTILE}")
    assert repr(box) == f"RateLimitError: Too many requests {HOSTILE}"
    assert pretty(box) == repr(box)
    html = box._repr_html_()
    assert "border" in html
    assert HOSTILE not in html
    assert "Too many requests &lt;img" in html
    assert repr(ErrorBox.of(ValueError("bad <x>"))) == "ValueError: bad <x>"


def test_listing_shows_every_row_under_its_title() -> None:
    rows = [{"method": "GET", "path": f"/p/{i}", "note": HOSTILE} for i in range(150)]
    listing = Listing("Endpoints", rows)
    text = pretty(listing)
    assert text.splitlines()[0] == "Endpoints"
    assert "/p/149" in text
    html = listing._repr_html_()
    assert "<b>Endpoints</b>" in html
    assert html.count("<tr>") == 151
    assert HOSTILE not in html
    assert Listing("Log", rows, ["path"], limit=10)._repr_html_().count("<th>") == 1
