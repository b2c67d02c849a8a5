"""The panel shows the warning for a token directory on NFS, once, like any message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import webull_nb
from webull_nb.session import Session
from webull_nb.shared.files import mounts
from webull_nb.ui.view import render_html

pytestmark = pytest.mark.skipif(not hasattr(os, "major"), reason="needs device numbers")


@pytest.fixture
def token_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A token directory that the (made-up) mount table puts on nfs4."""
    device = os.stat(tmp_path).st_dev
    table = tmp_path / "mountinfo"
    table.write_text(
        f"120 27 {os.major(device)}:{os.minor(device)} / {tmp_path} rw - nfs4 srv:/home rw\n"
    )
    monkeypatch.setattr(mounts, "MOUNTINFO", table)
    return tmp_path / "tokens"


def test_the_panel_shows_it_until_the_next_answer(sim, clock, token_dir) -> None:
    session = Session(
        sim.app_key, sim.app_secret, endpoint=sim.url, token_dir=token_dir, clock=clock
    )
    panel = webull_nb.panel(session)
    panel.background = False
    try:
        assert f"the token directory {token_dir} is on nfs4" in panel.state["error"]
        assert 'store="redis://host:6379/0" or WEBULL_NB_STORE' in panel.state["error"]
        assert "is on nfs4: file locks may not hold" in render_html(session)
        assert panel.state["badge"] == "NONE"  # a caution, not a failure
        panel._on_message(panel, {"action": "create"}, [])
        assert panel.state["status"] == "PENDING"
        assert panel.state["error"] == ""
    finally:
        panel.close()
        session.close()


def test_credentials_typed_in_the_panel_bring_it(sim, clock, token_dir) -> None:
    panel = webull_nb.panel(endpoint=sim.url, clock=clock, token_dir=token_dir)
    panel.background = False
    try:
        assert panel.state["error"] == ""
        message = {"action": "credentials", "app_key": sim.app_key, "app_secret": sim.app_secret}
        panel._on_message(panel, message, [])
        assert panel.state["has_credentials"]
        assert f"the token directory {token_dir} is on nfs4" in panel.state["error"]
    finally:
        panel.close()
        panel.session.close()
