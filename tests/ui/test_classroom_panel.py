"""A student pastes the class server's snippet: their panel, their phone, their codes only."""

from __future__ import annotations

import pytest

import webull_nb
from webull_nb.session import Session
from webull_nb.simulator import Classroom

pytest.importorskip("anywidget")


def test_the_snippet_gives_a_panel_whose_phone_shows_only_its_students_codes(tmp_path) -> None:
    with Classroom(2) as room:
        cell = room.snippet("s02").splitlines()
        assert cell[1] == "import webull_nb"
        panel = eval(cell[2], {"webull_nb": webull_nb})  # noqa: S307 (the server's own line)
        other = Session(*room.credentials("s01"), endpoint=room.url, token_dir=tmp_path / "s01")
        try:
            session = panel.session
            assert session.base_url == room.url
            session.create_token()
            other.create_token()
            phone = panel.simulated_phone
            shown = phone.refresh()
            assert shown["problem"] == ""
            assert shown["sms"] == room.sms_inbox("s02")[-1]["code"]
            assert [m["code"] for m in room.sms_inbox("s01")] != [shown["sms"]]
            phone.submit(shown["sms"])
            assert session.check_token() == "NORMAL"
            assert other.status == "PENDING"  # s01's token is not approved by s02's phone
        finally:
            panel.close()
            panel.session.close()
            other.close()


def test_a_phone_with_a_wrong_key_pair_says_the_server_refused_it(tmp_path) -> None:
    with Classroom(1) as room:
        key, _ = room.credentials("s01")
        panel = webull_nb.panel(
            simulator=room.url, app_key=key, app_secret="not-the-secret", token_dir=tmp_path
        )
        try:
            assert "refused the phone" in panel.simulated_phone.refresh()["problem"]
        finally:
            panel.close()
            panel.session.close()


def test_a_key_pair_typed_into_the_panels_form_signs_the_phone_too(tmp_path) -> None:
    # A student who ran panel(simulator=URL) alone gets the demo key pair; then types theirs.
    with Classroom(2) as room:
        panel = webull_nb.panel(simulator=room.url, token_dir=tmp_path)
        panel.background = False
        try:
            assert "refused the phone" in panel.simulated_phone.refresh()["problem"]
            key, secret = room.credentials("s02")
            panel._on_message(
                panel, {"action": "credentials", "app_key": key, "app_secret": secret}, []
            )
            assert panel.session.error == ""
            assert panel.phone["problem"] == ""  # the panel's phone, as the browser draws it
            panel.session.create_token()
            code = panel.simulated_phone.refresh()["sms"]
            assert code == room.sms_inbox("s02")[-1]["code"]
            panel._on_message(panel, {"action": "sms", "code": code}, [])
            assert panel.session.check_token() == "NORMAL"
            assert secret not in repr(panel.simulated_phone._inbox)
        finally:
            panel.close()
            panel.session.close()
