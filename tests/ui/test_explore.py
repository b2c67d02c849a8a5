"""``%webull get|post|endpoints|help|log`` in an IPython shell against the simulator."""

from __future__ import annotations

import pytest

import webull_nb
from webull_nb.core import catalog
from webull_nb.simulator import Simulator
from webull_nb.simulator.data import ACCOUNTS
from webull_nb.ui.answer import ErrorBox, Listing

IPython = pytest.importorskip("IPython")

from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

PLACE = "/openapi/trade/stock/order/place"
ORDER_BODY = (
    '{"account_id": "SIM0000001", "new_orders": [{"client_order_id": "nb-test-1", '
    '"symbol": "AAPL", "instrument_type": "EQUITY", "market": "US", "side": "BUY", '
    '"order_type": "LIMIT", "limit_price": "180.00", "quantity": "1", '
    '"time_in_force": "DAY", "entrust_type": "QTY"}]}'
)


@pytest.fixture
def ip():
    """An IPython shell with the extension loaded."""
    shell = InteractiveShell.instance()
    webull_nb.load_ipython_extension(shell)
    yield shell
    shell.user_ns.pop("_", None)


@pytest.fixture
def normal(normal_session):
    """The active session, with a NORMAL token."""
    return normal_session.activate()


def run(ip, code: str):
    """Run a cell; return (result, the objects it displayed)."""
    with capture_output() as captured:
        result = ip.run_cell(code)
    assert result.error_before_exec is None and result.error_in_exec is None, captured.stdout
    return result.result, captured.outputs


def _html(outputs) -> str:
    return "".join(o.data.get("text/html", "") for o in outputs)


def _seen(sim) -> int:
    return len(sim.requests_seen)


def test_get_shows_records_as_a_table_and_the_value_is_the_result(ip, normal) -> None:
    value, _ = run(ip, "%webull get /openapi/account/list")
    assert value == ACCOUNTS
    assert isinstance(value, list)
    assert ip.user_ns["_"] == ACCOUNTS
    bundle = value._repr_mimebundle_()
    assert "<table" in bundle["text/html"]
    assert "GET /openapi/account/list" in bundle["text/plain"]
    assert value.meta.status == 200 and value.meta.request_id
    assigned, _ = run(ip, "x = %webull get /openapi/account/list\nx")
    assert assigned == ACCOUNTS


def test_an_error_is_a_box_not_a_traceback(ip, normal, sim) -> None:
    value, outputs = run(ip, "%webull get /openapi/nope")
    assert value is None
    html = _html(outputs)
    assert "404" in html and "NOT_FOUND" in html
    assert "Traceback" not in html


def test_a_wrong_parameter_name_is_reported_before_anything_is_sent(ip, normal, sim) -> None:
    before = _seen(sim)
    _, outputs = run(
        ip, "%webull get /market-data/stocks/snapshots/list symbol=AAPL category=US_STOCK"
    )
    assert "did you mean &#x27;symbols&#x27;" in _html(outputs) or "did you mean" in _html(outputs)
    _, outputs = run(ip, "%webull get /market-data/stocks/snapshots/list symbols=AAPL")
    assert "needs category" in _html(outputs)
    assert _seen(sim) == before


def test_a_query_call_with_its_parameters_answers(ip, normal) -> None:
    ip.user_ns["symbol"] = "AAPL"
    value, _ = run(
        ip, "%webull get /market-data/stocks/snapshots/list symbols=$symbol category=US_STOCK"
    )
    assert value[0]["symbol"] == "AAPL"
    assert value[0]["price"] == "189.84"  # a string, as sent


def test_an_order_in_production_needs_confirm(ip, normal, sim) -> None:
    assert normal.environment == "prod"
    before = _seen(sim)
    value, outputs = run(ip, f"%%webull post {PLACE}\n{ORDER_BODY}")
    assert value is None
    assert "--confirm" in _html(outputs) and "Nothing was sent" in _html(outputs)
    assert _seen(sim) == before  # the server saw no request
    placed, _ = run(ip, f"%%webull post {PLACE} --confirm\n{ORDER_BODY}")
    assert placed is not None and placed.meta.status == 200
    assert "nb-test-1" in repr(dict(placed) if isinstance(placed, dict) else placed)
    opened, _ = run(ip, "%webull get /openapi/trade/order/open account_id=SIM0000001")
    assert "nb-test-1" in repr(opened)


def test_a_uat_session_needs_no_confirm(ip, tmp_path) -> None:
    from webull_nb.session import Session

    with Simulator(environment="uat") as uat:
        session = Session(
            uat.app_key,
            uat.app_secret,
            endpoint=uat.url,
            environment="uat",
            token_dir=tmp_path / "uat",
        ).activate()
        try:
            session.ensure_token()
            placed, outputs = run(ip, f"%%webull post {PLACE}\n{ORDER_BODY}")
            assert placed is not None, _html(outputs)
            assert placed.meta.status == 200
        finally:
            session.close()


def test_endpoints_help_and_log(ip, normal) -> None:
    listing, _ = run(ip, "%webull endpoints")
    assert isinstance(listing, Listing)
    assert len(listing.rows) == len(catalog.entries()) > 40
    some, _ = run(ip, "%webull endpoints snapshots stocks")
    assert {r["path"] for r in some.rows} == {
        "/market-data/stocks/snapshots/list",
        "/market-data/stocks/noii-snapshots/list",
    }
    helped, _ = run(ip, "%webull help /market-data/stocks/snapshots/list")
    assert {r["parameter"] for r in helped.rows} >= {"symbols", "category"}
    general, _ = run(ip, "%webull help")
    assert any(r["line"].startswith("%webull get PATH") for r in general.rows)
    _, outputs = run(ip, "%webull help /market-data/stocks/snapshot/list")
    assert "did you mean" in _html(outputs)
    run(ip, "%webull get /openapi/account/list")
    log, _ = run(ip, "%webull log")
    assert log.rows[-1]["path"] == "/openapi/account/list"


def test_without_a_session_the_box_says_how_to_get_one(ip) -> None:
    from webull_nb.session import session as session_module

    session_module._current = None
    value, outputs = run(ip, "%webull get /openapi/account/list")
    assert value is None
    assert "webull_nb.panel()" in _html(outputs)


def test_an_expired_token_is_a_box(ip, normal, clock) -> None:
    clock.advance(16 * 86400)  # unused for 15 days: INVALID at the server
    value, outputs = run(ip, "%webull get /openapi/account/list")
    assert value is None
    assert "InvalidTokenError" in _html(outputs) or "TokenStateError" in _html(outputs)


def test_a_stopped_server_is_a_box(ip, normal, sim) -> None:
    sim.stop()
    value, outputs = run(ip, "%webull get /openapi/account/list")
    assert value is None
    assert "TransportError" in _html(outputs)


def test_the_rendered_answer_holds_no_secret(ip, normal, sim) -> None:
    token = normal.store.load().token
    value, _ = run(ip, "%webull get /openapi/account/list")
    log, _ = run(ip, "%webull log")
    texts = [*value._repr_mimebundle_().values(), log._repr_html_(), repr(log)]
    for text in texts:
        assert token not in text and sim.app_secret not in text


def test_error_box_renders_as_text_too() -> None:
    box = ErrorBox("RequestError", "the service refused the request (HTTP 404)")
    assert "RequestError: the service refused" in repr(box)


def test_a_rate_limit_and_an_html_page_are_boxes(ip, tmp_path) -> None:
    from helpers import Canned, FaultServer

    from webull_nb.session import Session

    replies = [
        Canned(200, {"token_check_enabled": False}),  # a test environment: no token needed
        Canned(
            429, {"error_code": "TOO_MANY_REQUESTS", "message": "slow down"}, {"Retry-After": "7"}
        ),
        Canned(200, "<html>maintenance</html>", {"Content-Type": "text/html"}),
    ]
    with FaultServer(replies) as server:
        session = Session(
            "key", "secret", endpoint=server.url, environment="uat", token_dir=tmp_path / "t"
        ).activate()
        try:
            value, outputs = run(ip, "%webull get /openapi/account/list")
            assert value is None
            assert "RateLimitError" in _html(outputs)
            value, outputs = run(ip, "%webull get /openapi/account/list")
            assert value is None
            assert "ProtocolError" in _html(outputs) and "not JSON" in _html(outputs)
        finally:
            session.close()
