"""The endpoint catalog: generated from the installed SDK, never stale, answering lookups."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from webull_nb.core import catalog
from webull_nb.core.errors import ParameterError

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "catalog.py"


def _script():
    spec = importlib.util.spec_from_file_location("catalog_script", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_catalog_lacks_no_endpoint_the_installed_sdk_calls() -> None:
    pytest.importorskip("webull.core.request")
    script = _script()
    extracted = script.extract()
    checked_in = json.loads(script.CATALOG.read_text("utf-8"))
    assert script.missing(checked_in, extracted) == []
    # Generated, not edited: regenerating gives the same file, parameters included.
    assert script.render(script.document(extracted)) == script.CATALOG.read_text("utf-8")


def test_a_stale_catalog_is_caught() -> None:
    pytest.importorskip("webull.core.request")
    script = _script()
    extracted = script.extract()
    stale = {"endpoints": [e for e in extracted if e["path"] != "/trading/orders/place"]}
    assert script.missing(stale, extracted) == ["POST /trading/orders/place v3"]


def test_the_catalog_holds_what_the_sdk_calls() -> None:
    got = catalog.entries()
    assert len(got) > 140
    assert catalog.sdk_version() == "3.0.4"
    assert len({(e.method, e.path) for e in got}) > 140
    assert catalog.paths("GET", "/openapi/acc") == ["/openapi/account/list"]
    snapshots = catalog.find("get", "market-data/stocks/snapshots/list")
    assert snapshots is not None
    assert snapshots.version == "v3"
    assert set(snapshots.required) == {"symbols", "category"}


def test_a_path_with_two_versions_defaults_to_the_newest() -> None:
    assert catalog.version_for("GET", "/trading/orders/open-orders/list") == "v3"
    legacy = catalog.find("GET", "/trading/orders/open-orders/list", version="v2")
    assert legacy is not None
    assert "page_size" in legacy.names
    assert catalog.version_for("GET", "/not/in/the/catalog") is None


def test_order_placement_replacement_and_cancellation_are_trading() -> None:
    trading = {(e.method, e.path) for e in catalog.entries() if e.trading}
    assert ("POST", "/openapi/trade/stock/order/place") in trading
    assert ("POST", "/trading/orders/replace") in trading
    assert ("POST", "/trading/orders/cancel") in trading
    assert ("POST", "/trading/orders/batch-place") in trading
    assert ("POST", "/trading/orders/preview") not in trading  # a preview moves nothing
    assert all(method == "POST" for method, _ in trading)
    assert catalog.is_trading("post", "/trading/orders/place?x=1")


def test_a_wrong_parameter_name_is_refused_with_a_suggestion() -> None:
    entry = catalog.find("GET", "/market-data/stocks/snapshots/list")
    assert entry is not None
    with pytest.raises(ParameterError, match="did you mean 'symbols'"):
        catalog.check_params(entry, ["symbol", "category"])
    with pytest.raises(ParameterError, match="needs symbols"):
        catalog.check_params(entry, ["category"])
    catalog.check_params(entry, ["symbols", "category", "overnight_required"])


def test_search_matches_every_word() -> None:
    found = catalog.search("snapshot stocks")
    assert [e.path for e in found] == [
        "/market-data/stocks/noii-snapshots/list",
        "/market-data/stocks/snapshots/list",
    ]
    assert len(catalog.search("")) == len(catalog.entries())
