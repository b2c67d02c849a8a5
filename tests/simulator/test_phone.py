"""The simulated phone: entering a code, and trying the same code again after a failure."""

from __future__ import annotations

import requests

from webull_nb.simulator import Simulator
from webull_nb.simulator.phone import SimulatedPhone


def test_the_same_code_can_be_retried_after_a_failure(monkeypatch, clock) -> None:
    with Simulator(clock=clock) as sim:
        token = sim._create({})["token"]
        phone = SimulatedPhone(sim)
        code = phone.refresh()["sms"]
        real_verify = phone._inbox.verify
        calls = []

        def flaky(token: str, entered: str) -> None:
            calls.append(entered)
            if len(calls) == 1:
                raise requests.ConnectionError("the phone lost its network")
            real_verify(token, entered)

        monkeypatch.setattr(phone._inbox, "verify", flaky)
        assert "Cannot reach the simulator" in phone.submit(code)["result"]
        assert "Approved" in phone.submit(code)["result"]  # the same code, again
        assert calls == [code, code]
        assert sim.token_status(token) == "NORMAL"
