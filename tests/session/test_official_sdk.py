"""The official SDK as a client of ``python -m webull_nb.simulator``: it speaks our protocol."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests
from helpers import approve_latest

pytest.importorskip("webull.core.client", reason="webull-openapi-python-sdk is not installed")

from webull.core.client import ApiClient
from webull.core.http import protocol_type
from webull.core.http.initializer.client_initializer import ClientInitializer
from webull.core.request import set_default_protocol_type


def _enter_sms_code_when_it_arrives(url: str, done: threading.Event, entered: list) -> None:
    while not done.wait(0.05):
        if requests.get(url + "/_sim/sms", timeout=5).json():
            approve_latest(url)  # raises unless the token turned NORMAL
            entered.append("NORMAL")
            return


@pytest.mark.slow
def test_official_api_client_completes_its_token_flow(simulator_process, tmp_path: Path) -> None:
    url, key, secret = simulator_process
    set_default_protocol_type(protocol_type.HTTP)
    client = ApiClient(
        key, secret, "us", port=80, token_check_interval_seconds=1, token_check_duration_seconds=30
    )
    client.add_endpoint("us", url.split("//", 1)[1])
    client.set_token_dir(str(tmp_path))
    done, entered = threading.Event(), []
    phone = threading.Thread(target=_enter_sms_code_when_it_arrives, args=(url, done, entered))
    phone.start()
    try:
        ClientInitializer.init_token(client)
    finally:
        done.set()
        phone.join()
    assert entered == ["NORMAL"]
    token, expires, status = (tmp_path / "token.txt").read_text().splitlines()
    assert client.get_token() == token and status == "NORMAL" and expires.isdigit()
