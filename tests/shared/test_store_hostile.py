"""Whatever is on disk, a Session starts: the corrupt-store matrix, token validation, a sidecar
tied to its token, tokens the official SDK wrote, and writers killed mid-save.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import open_session

from webull_nb.session import Session
from webull_nb.shared.files.store import TokenStore
from webull_nb.shared.storage import fingerprint
from webull_nb.simulator import Simulator

GOOD_TOKEN = "stored-token-0123456789abcdef"
FUTURE_MS = str(int((time.time() + 86400) * 1000))

CORRUPT = {
    "expires overflows": f"{GOOD_TOKEN}\n99999999999999999999\nNORMAL\n".encode(),
    "expires superscript two": f"{GOOD_TOKEN}\n\u00b2\nNORMAL\n".encode(),
    "expires past year 9999": f"{GOOD_TOKEN}\n99999999999999999\nNORMAL\n".encode(),
    "euro sign in token": f"tok\u20acen-0123456789\n{FUTURE_MS}\nNORMAL\n".encode(),
    "space in token": f"tok en-0123456789\n{FUTURE_MS}\nNORMAL\n".encode(),
    "50 MB token": b"x" * (50 * 1024 * 1024) + f"\n{FUTURE_MS}\nNORMAL\n".encode(),
    "binary": bytes(range(256)) * 4,
    "empty": b"",
    "one line": f"{GOOD_TOKEN}\n".encode(),
    "unknown status": f"{GOOD_TOKEN}\n{FUTURE_MS}\nMAYBE\n".encode(),
    "NONE is not a stored status": f"{GOOD_TOKEN}\n{FUTURE_MS}\nNONE\n".encode(),
}

BAD_SIDECARS = {
    "created NaN": '{"token": "%s", "created": NaN}',
    "last_used 1e20": '{"token": "%s", "last_used": 1e20}',
    "created a string": '{"token": "%s", "created": "yesterday"}',
    "not an object": '["%s"]',
    "deeply nested": "[" * 100000 + "]" * 100000,
    "binary": "\udcff",
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_a_corrupt_token_file_never_stops_a_session(live_sim, tmp_path, case) -> None:
    (tmp_path / "token.txt").write_bytes(CORRUPT[case])
    session = open_session(live_sim, tmp_path)  # must not raise
    try:
        assert session.status == "NONE"
        assert "token file" in session.error and "ignoring it" in session.error
        assert session.create_token() == "PENDING"  # and a new token replaces it
        assert TokenStore(tmp_path).load().status == "PENDING"
    finally:
        session.close()


@pytest.mark.parametrize("case", list(BAD_SIDECARS))
def test_a_corrupt_sidecar_is_ignored(live_sim, tmp_path, case) -> None:
    (tmp_path / "token.txt").write_text(f"{GOOD_TOKEN}\n{FUTURE_MS}\nNORMAL\n")
    text = BAD_SIDECARS[case]
    text = text % fingerprint(GOOD_TOKEN) if "%s" in text else text
    (tmp_path / "token.meta.json").write_bytes(text.encode("utf-8", "surrogateescape"))
    session = open_session(live_sim, tmp_path)
    try:
        assert session.status == "NORMAL" and session.token_hint == "stor…cdef"
        assert session.last_used is None or session.last_used.year < 3000
    finally:
        session.close()


def test_a_directory_or_a_link_in_place_of_the_file(live_sim, tmp_path) -> None:
    (tmp_path / "a" / "token.txt").mkdir(parents=True)
    session = open_session(live_sim, tmp_path / "a")
    assert session.status == "NONE" and "not a regular file" in session.error
    session.close()
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text(f"{GOOD_TOKEN}\n{FUTURE_MS}\nNORMAL\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "token.txt").symlink_to(elsewhere)
    session = open_session(live_sim, tmp_path / "b")
    assert session.status == "NONE" and "symbolic link" in session.error
    session.close()


def test_a_byte_order_mark_is_tolerated(live_sim, tmp_path) -> None:
    (tmp_path / "token.txt").write_bytes(f"\ufeff{GOOD_TOKEN}\n{FUTURE_MS}\nNORMAL\n".encode())
    session = open_session(live_sim, tmp_path)
    try:
        assert session.status == "NORMAL" and session.error == ""
        headers = session.account.client.sign_headers("GET", "/x", token=GOOD_TOKEN)
        assert headers["x-access-token"] == GOOD_TOKEN
    finally:
        session.close()


def test_a_stale_sidecar_is_ignored(live_sim, tmp_path) -> None:
    # The official SDK replaced token.txt; our sidecar still describes the old token.
    session = open_session(live_sim, tmp_path)
    session.create_token()
    new = live_sim._create({})["token"]  # as the SDK would, on its own
    session.close()
    (tmp_path / "token.txt").write_text(f"{new}\n{FUTURE_MS}\nPENDING\n")
    meta = json.loads((tmp_path / "token.meta.json").read_text())
    meta["created"] = time.time() - 3600  # would make the new token look long expired
    (tmp_path / "token.meta.json").write_text(json.dumps(meta))
    session = open_session(live_sim, tmp_path)
    try:
        assert session.status == "PENDING"
        assert session.account.state.token.reveal() == new
    finally:
        session.close()


def sdk_wrote_pending(sim: Simulator, token_dir: Path, seconds_ago: float) -> None:
    """A PENDING token the SDK created: token.txt only, no sidecar, written that long ago."""
    info = sim._create({})
    (token_dir / "token.txt").write_text(f"{info['token']}\n{info['expires']}\nPENDING\n")
    written = time.time() - seconds_ago
    os.utime(token_dir / "token.txt", (written, written))


def test_a_pending_token_written_by_the_sdk_resumes_as_pending(live_sim, tmp_path) -> None:
    sdk_wrote_pending(live_sim, tmp_path, seconds_ago=100)
    session = open_session(live_sim, tmp_path)
    try:
        assert session.status == "PENDING"
        assert 190 < session.seconds_left() <= 200  # from the file's age, capped at 5 minutes
    finally:
        session.close()


def test_a_pending_token_past_its_guessed_window_is_asked_about(live_sim, tmp_path) -> None:
    sdk_wrote_pending(live_sim, tmp_path, seconds_ago=400)
    session = open_session(live_sim, tmp_path)
    try:
        # Written 400 s ago: by the file's age its window has passed, but only the service
        # knows (the age is a guess, this clock may be wrong): it is not marked EXPIRED here.
        assert session.status == "PENDING"
        assert session.check_token() == "PENDING"  # the service still waits for approval
        assert session.seconds_left() > 250  # so its own expiry is the deadline now
        assert session.create_token() == "PENDING" and len(live_sim.sms_inbox()) == 1
    finally:
        session.close()


def test_a_token_of_another_app_key_is_never_replaced(live_sim, tmp_path) -> None:
    session = open_session(live_sim, tmp_path)
    session.create_token()
    session.close()
    before = (tmp_path / "token.txt").read_text()
    with Simulator(app_key="another-app-key-0000000000000000") as other:
        stranger = Session(other.app_key, other.app_secret, endpoint=other.url, token_dir=tmp_path)
        try:
            assert stranger.status == "NONE"
            assert "belongs to another app key (demo…r000)" in stranger.error
            stranger.create_token()
            assert (tmp_path / "token.txt").read_text() == before
            assert "belongs to another app key" in stranger.error
        finally:
            stranger.close()


KILLED_WRITER = """
import sys, time
from datetime import datetime, timezone
from pathlib import Path
from webull_nb.shared.files.locks import AccountLock
from webull_nb.shared.files.store import TokenStore
from webull_nb.shared.storage import StoredToken
store = TokenStore(sys.argv[1])
lock = AccountLock(store.directory)
print("ready", flush=True)
n = 0
while True:
    n += 1
    with lock.hold():
        store.save(StoredToken(f"token-number-{n:012d}", None, "PENDING",
                               created=datetime.now(timezone.utc)))
"""


@pytest.mark.slow
def _bytes_of(path: Path) -> bytes:
    """A file's bytes, or none if it went away since it was listed (another write's temp
    file, renamed into place meanwhile: its content is then read under its final name)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def test_kill_9_during_saves_leaves_a_loadable_store(live_sim, tmp_path) -> None:
    torn = 0
    for round_ in range(25):
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.01 + (round_ % 5) * 0.007)  # land the kill at different points
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stored = TokenStore(tmp_path).load()
        assert stored is not None and stored.token.startswith("token-number-")
        # A kill between the two renames leaves the sidecar of the write before: torn. The
        # sidecar's dates count exactly when it describes the token beside it.
        meta = tmp_path / "token.meta.json"
        sidecar = json.loads(meta.read_text()) if meta.exists() else {}
        torn_here = sidecar.get("token") != fingerprint(stored.token)
        assert (stored.created is None) == torn_here, (round_, sidecar, stored)
        torn += torn_here
    leftovers = list(tmp_path.glob(".tmp-*"))
    session = open_session(live_sim, tmp_path)
    try:
        # (The new session's own writes, such as its poll lease, make temp files of their own.)
        assert leftovers and not [p for p in leftovers if p.exists()]
        token = session.account.state.token.reveal()
        session.forget_token()
        holding = [p.name for p in tmp_path.iterdir() if token.encode() in _bytes_of(p)]
        assert holding == [] and session.status == "NONE"
    finally:
        session.close()
    print(f"{torn} of 25 kills tore token.txt from its sidecar; {len(leftovers)} temp files")
