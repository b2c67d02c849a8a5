"""The explore magics in a real kernel (nbclient): tables, `_`, completion, errors, the guard."""

from __future__ import annotations

import json

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytestmark = pytest.mark.kernel

from jupyter_client.utils import run_sync  # noqa: E402

from webull_nb.core import catalog  # noqa: E402

SETUP = """
import webull_nb
from webull_nb.simulator import Simulator
from webull_nb.simulator.data import ACCOUNTS
sim = Simulator(auto_verify_after=0.2).start()
session = webull_nb.Session(sim.app_key, sim.app_secret, endpoint=sim.url).activate()
print("status:", session.ensure_token(timeout=60))
%load_ext webull_nb
"""
ORDER = {
    "account_id": "SIM0000001",
    "new_orders": [
        {
            "client_order_id": "kernel-1",
            "symbol": "AAPL",
            "instrument_type": "EQUITY",
            "market": "US",
            "side": "BUY",
            "order_type": "LIMIT",
            "limit_price": "180.00",
            "quantity": "1",
            "time_in_force": "DAY",
            "entrust_type": "QTY",
        }
    ],
}
CELLS = [
    SETUP,
    "%webull get /openapi/account/list",
    "print('underscore:', type(_).__name__, _ == ACCOUNTS)",
    "%webull endpoints",
    "print('endpoints:', len(_.rows))",
    "%webull get /openapi/nope",
    "before = len(sim.requests_seen)",
    "%%webull post /openapi/trade/stock/order/place\n" + json.dumps(ORDER),
    "print('sent while refused:', len(sim.requests_seen) - before)",
    "%%webull post /openapi/trade/stock/order/place --confirm\n" + json.dumps(ORDER),
    "%webull get /openapi/trade/order/open account_id=SIM0000001",
    "print('open:', [o.get('client_order_id') for o in _records(_)])",
]
HELPERS = """
from webull_nb.core.tables import records_of
def _records(value):
    return records_of(value) or []
"""


def _text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(parts)


def test_explore_in_a_real_kernel(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    cells = [CELLS[0] + HELPERS, *CELLS[1:]]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        code = "%webull get /openapi/acc"
        msg_id = client.kc.complete(code, len(code))
        reply = run_sync(client.kc.get_shell_msg)(timeout=60)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert "/openapi/account/list" in reply["content"]["matches"]
        code = "%webull get /market-data/stocks/snapshots/list sym"
        client.kc.complete(code, len(code))
        reply = run_sync(client.kc.get_shell_msg)(timeout=60)
        assert reply["content"]["matches"] == ["symbols="]
    texts = [_text(cell) for cell in nb.cells]
    assert "status: NORMAL" in texts[0]
    table = nb.cells[1]["outputs"][0]["data"]
    assert "<table" in table["text/html"] and "SIM0000001" in table["text/plain"]
    assert "underscore: JsonList True" in texts[2]
    assert f"endpoints: {len(catalog.entries())}" in texts[4]
    # An error is a box: no "error" output, no traceback.
    assert all(o["output_type"] != "error" for cell in nb.cells for o in cell["outputs"])
    assert "404" in texts[5] and "Traceback" not in texts[5]
    assert "--confirm" in texts[7] and "sent while refused: 0" in texts[8]
    assert "kernel-1" in texts[9]
    assert "open: ['kernel-1', " in texts[11]  # then the simulator's own open order
