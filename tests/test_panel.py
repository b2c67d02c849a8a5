"""The panel without a browser: buttons, badge, countdown and guidance per state; no secrets."""

from __future__ import annotations

import json
import re
import threading

import ipywidgets as widgets
import pytest

import webull_nb
from webull_nb.panel import TokenPanel
from webull_nb.session import Session
from webull_nb.simulator import Simulator
from webull_nb.simulator.phone import SimulatedPhone

SECRET = "s3cret-value-that-must-never-leak"


def all_widgets(root: widgets.Widget) -> list[widgets.Widget]:
    found = [root]
    for child in getattr(root, "children", ()):
        found.extend(all_widgets(child))
    return found


def widget_state(root: widgets.Widget) -> str:
    return json.dumps([w.get_state() for w in all_widgets(root)], default=str)


@pytest.fixture
def sim(clock):
    with Simulator(app_secret=SECRET, clock=clock) as simulator:
        yield simulator


@pytest.fixture
def make_panel(sim, clock):
    made: list[TokenPanel] = []

    def make(session: Session | None = None, **kw) -> TokenPanel:
        if session is None:
            session = Session(
                sim.app_key, SECRET, endpoint=sim.url, clock=clock, poll_interval=1e6, **kw
            )
        panel = webull_nb.panel(session)
        panel.background = False
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.close()
        panel.session.close()


def enter_sms(sim) -> None:
    sms = sim.sms_inbox()[-1]
    sim.verify(sms["token"], sms["code"])


def test_panel_is_the_callable_module_and_lazy() -> None:
    import webull_nb.panel as module

    assert webull_nb.panel is module and callable(webull_nb.panel)


def test_credentials_form_moves_the_secret_out_of_widget_state(sim, clock) -> None:
    panel = webull_nb.panel(endpoint=sim.url, clock=clock)
    panel.background = False
    assert webull_nb.current() is panel.session
    assert panel.credentials.layout.display is None
    assert all(b.disabled for b in (panel.create_button, panel.check_button))
    assert "WEBULL_APP_KEY" in panel.guidance.value
    panel.app_key.value = sim.app_key
    panel.app_secret.value = SECRET
    panel.region.value = "hk"
    typed_into = panel.app_secret
    panel.use_button.click()
    assert panel.session.has_credentials and panel.session.region == "hk"
    assert typed_into.value == "" and typed_into.disabled and typed_into.comm is None
    assert (panel.app_secret.value, panel.app_key.value) == ("", "")
    assert panel.app_secret.disabled and panel.credentials.layout.display == "none"
    panel.create_button.click()
    assert panel.session.status == "PENDING"
    token = sim.sms_inbox()[-1]["token"]
    state = widget_state(panel)
    assert SECRET not in state and token not in state and sim.app_key not in state
    panel.close()
    panel.session.close()


def test_bad_credentials_are_reported_in_the_panel(sim, clock) -> None:
    panel = webull_nb.panel(endpoint=sim.url, clock=clock)
    panel.background = False
    panel.app_key.value = sim.app_key  # and no secret
    panel.use_button.click()
    assert "both the app key and the app secret are needed" in panel.error_box.value
    panel.close()
    panel.session.close()
    panel = webull_nb.panel()  # no explicit endpoint: the region's published hosts
    panel.background = False
    panel.app_key.value, panel.app_secret.value = sim.app_key, SECRET
    panel.region.value, panel.environment.value = "au", "uat"
    panel.use_button.click()
    assert "publishes no uat API host for region 'au'" in panel.session.error
    assert panel.error_box.layout.display is None
    assert not panel.session.has_credentials and panel.app_secret.value == ""
    assert SECRET not in widget_state(panel)
    panel.close()
    panel.session.close()


def test_redraws_keep_the_users_dropdown_choices(make_panel) -> None:
    panel = make_panel()
    panel.change_button.click()
    assert panel.credentials.layout.display is None
    panel.region.value = "jp"
    panel.create_button.click()  # the session changes, the panel redraws
    assert panel.region.value == "jp" and panel.session.region == "us"


def test_no_token_state(make_panel) -> None:
    panel = make_panel()
    assert "wnb-NONE" in panel.badge.value and "NO TOKEN" in panel.badge.value
    assert not panel.create_button.disabled
    assert panel.check_button.disabled and panel.forget_button.disabled
    assert panel.countdown.value == "" and "Create token" in panel.guidance.value


def test_pending_state_countdown_and_guidance(make_panel, clock) -> None:
    panel = make_panel(region="uk")
    panel.create_button.click()
    assert "wnb-PENDING" in panel.badge.value and 'role="status"' in panel.badge.value
    assert ">5:00<" in panel.countdown.value and 'aria-valuenow="300"' in panel.countdown.value
    assert panel.create_button.disabled and not panel.check_button.disabled
    guidance = panel.guidance.value
    assert "Menu → Messages → OpenAPI Notifications" in guidance and "Check Now" in guidance
    assert "https://developer.webull-uk.com/apis/docs/authentication/token" in guidance
    clock.advance(61)
    panel.tick()
    assert ">3:59<" in panel.countdown.value
    assert panel.needs_ticks()


def test_countdown_is_ticked_by_the_shared_thread(make_panel, clock) -> None:
    panel = make_panel()
    panel.create_button.click()
    moved = threading.Event()
    panel.countdown.observe(lambda change: moved.set(), "value")
    clock.advance(10)
    assert moved.wait(5), "the ticker did not redraw the countdown"
    assert ">4:50<" in panel.countdown.value
    assert any(t.name == "webull-nb-panel-ticker" for t in threading.enumerate())


def test_normal_state_shows_masked_token_validity_and_hint(make_panel, sim) -> None:
    panel = make_panel()
    panel.create_button.click()
    token = sim.sms_inbox()[-1]["token"]
    enter_sms(sim)
    panel.session.check_token()
    assert "wnb-NORMAL" in panel.badge.value and panel.countdown.value == ""
    info = panel.token_info.value
    assert panel.session.token_hint in info and token not in info
    assert "valid until about" in info and "15 days after last use" in info
    assert "webull_nb.current().headers" in info
    assert panel.create_button.disabled and not panel.forget_button.disabled
    assert token not in widget_state(panel)


def test_expired_and_invalid_states(make_panel, sim, clock) -> None:
    panel = make_panel()
    panel.create_button.click()
    clock.advance(301)
    panel.session.check_token()
    assert "wnb-EXPIRED" in panel.badge.value and "window passed" in panel.guidance.value
    assert not panel.create_button.disabled
    panel.create_button.click()
    enter_sms(sim)
    panel.session.check_token()
    clock.advance(15 * 86400 + 1)
    panel.check_button.click()  # NORMAL: the button checks at once
    assert "wnb-INVALID" in panel.badge.value and "INVALID" in panel.badge.value
    assert "unused for 15 days" in panel.guidance.value


def test_error_style_and_box_without_traceback(sim, clock, make_panel) -> None:
    session = Session(sim.app_key, "wrong-secret", endpoint=sim.url, clock=clock)
    panel = make_panel(session)
    panel.create_button.click()
    assert "wnb-ERROR" in panel.badge.value
    assert panel.error_box.layout.display is None
    assert (
        "signature did not match" in panel.error_box.value
        and 'role="alert"' in panel.error_box.value
    )
    assert "Traceback" not in panel.error_box.value and "wrong-secret" not in widget_state(panel)


def test_unexpected_exception_becomes_a_message(make_panel, monkeypatch) -> None:
    panel = make_panel()
    monkeypatch.setattr(panel.session, "create_token", lambda: 1 / 0)
    panel.create_button.click()
    assert "Create token failed: division by zero" in panel.error_box.value


def test_check_button_shows_the_wait_when_rate_limited(make_panel, sim) -> None:
    panel = make_panel()
    panel.create_button.click()
    enter_sms(sim)
    panel.session.check_token()
    for _ in range(9):
        panel.check_button.click()
    assert panel.check_button.disabled
    assert re.fullmatch(r"Next check in (29|30|31) s", panel.check_button.description)


def test_check_while_pending_asks_the_poller_and_never_exceeds_the_limit(make_panel) -> None:
    panel = make_panel()
    panel.create_button.click()
    for _ in range(12):
        panel.check_button.click()  # each click: "check as soon as the limit allows"
    assert panel.check_button.description == "Check now" and not panel.check_button.disabled
    assert panel.session.error == ""


def test_uat_guidance(clock) -> None:
    with Simulator(environment="uat", clock=clock) as sim:
        session = Session(
            sim.app_key, sim.app_secret, endpoint=sim.url, environment="uat", clock=clock
        )
        panel = webull_nb.panel(session)
        panel.background = False
        assert "need no verification" in panel.guidance.value
        panel.create_button.click()
        assert "wnb-NORMAL" in panel.badge.value
        panel.close()
        session.close()


def test_close_never_waits_for_the_ticker_lock(make_panel) -> None:
    # ipywidgets closes a collected widget from __del__, in whatever thread the garbage
    # collector runs, possibly one that another thread is waiting for: close must not block.
    from webull_nb import panel as module

    panel = make_panel()
    panel.create_button.click()
    held, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with module._ticker._lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    held.wait(5)
    closer = threading.Thread(target=panel.close)
    closer.start()
    closer.join(5)
    blocked = closer.is_alive()
    release.set()
    holder.join()
    assert not blocked and not panel.needs_ticks()


def test_views_stay_in_sync_and_closing_one_leaves_the_session(make_panel, sim) -> None:
    first = make_panel()
    second = webull_nb.panel(first.session)
    first.create_button.click()
    assert second.badge.value == first.badge.value and "PENDING" in second.badge.value
    second.close()
    assert first.session.status == "PENDING" and first.session.account.poller.alive
    enter_sms(sim)
    first.session.check_token()
    third = webull_nb.panel(first.session)
    assert "wnb-NORMAL" in third.badge.value
    third.close()


def test_text_and_html_representations(make_panel) -> None:
    panel = make_panel()
    panel.create_button.click()
    bundle = panel._repr_mimebundle_()
    assert bundle["text/plain"].startswith("Webull token: PENDING | 5:00 left")
    assert "PENDING: approve it in the Webull App" in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_simulated_phone_takes_the_code(make_panel, sim) -> None:
    panel = make_panel()
    phone = SimulatedPhone(sim, session=panel.session)
    phone.background = False
    assert "No messages waiting" in phone.screen.value
    panel.create_button.click()
    code = sim.sms_inbox()[-1]["code"]
    assert code in phone.screen.value
    phone.code.value = "000000" if code != "000000" else "111111"  # submits on the 6th digit
    assert "not right" in phone.result.value
    phone.code.value = code[:5]
    assert "not right" in phone.result.value  # five digits are not submitted
    phone.code.value = code
    assert "Approved" in phone.result.value and phone.code.value == ""
    phone.confirm.click()  # a late click on an empty field changes nothing
    assert "Approved" in phone.result.value
    panel.session.check_token()
    assert panel.session.status == "NORMAL"
    phone.close()


def test_phone_over_the_control_plane(sim) -> None:
    phone = SimulatedPhone(sim.url)
    phone.background = False
    session = Session(sim.app_key, SECRET, endpoint=sim.url, clock=sim.clock, poll_interval=1e6)
    session.create_token()
    phone.refresh()
    code = sim.sms_inbox()[-1]["code"]
    assert code in phone.screen.value
    phone.code.value = code[:3]
    phone.confirm.click()  # three digits are not a code
    assert "not right" in phone.result.value
    phone.code.value = code
    assert "Approved" in phone.result.value
    assert session.check_token() == "NORMAL"
    phone.close()
    session.close()


def test_magic_shows_a_panel(clock) -> None:
    from webull_nb.magics import webull_magic

    panel = webull_magic("--env uat --region hk --simulator")
    assert isinstance(panel, TokenPanel)
    assert (panel.session.environment, panel.session.region) == ("uat", "hk")
    phone = panel.children[-1]
    assert isinstance(phone, SimulatedPhone)
    panel.close()
    panel.session.close()
    phone._inbox.simulator.stop()
