"""Token persistence: SDK format, atomic private writes, corrupt files, keeping good tokens."""

from __future__ import annotations

import logging
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from webull_nb.shared.files.backend import choose_directory, default_token_dir
from webull_nb.shared.files.store import TokenStore
from webull_nb.shared.storage import StoredToken

WHEN = datetime(2026, 12, 1, tzinfo=timezone.utc)
GOOD = StoredToken("good-token-0123456789", WHEN, "NORMAL", created=WHEN, last_used=WHEN)
PENDING = StoredToken("pending-token-0123456789", WHEN, "PENDING", created=WHEN)


def test_directory_choice(monkeypatch, tmp_path: Path) -> None:
    default = choose_directory("key", "prod", "us")
    assert default == default_token_dir("key", "prod", "us")
    assert default.parent == tmp_path / "xdg-state" / "webull-nb"
    assert default.name.startswith("prod-us-") and "key" not in default.name
    assert default_token_dir("key", "uat", "us") != default
    assert default_token_dir("key", "prod", "us", "http://127.0.0.1:1") != default
    assert Path.cwd() not in default.parents
    monkeypatch.setenv("WEBULL_OPENAPI_TOKEN_DIR", str(tmp_path / "from-env"))
    assert choose_directory("key", "prod", "us") == tmp_path / "from-env"
    explicit = choose_directory("key", "prod", "us", token_dir=tmp_path / "x")
    assert explicit == tmp_path / "x"


def test_sdk_format_private_modes_and_roundtrip(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "tokens")
    assert store.save(GOOD)
    expires_ms = int(WHEN.timestamp() * 1000)
    assert store.path.read_text() == f"good-token-0123456789\n{expires_ms}\nNORMAL\n"
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.meta_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.directory).st_mode) == 0o700
    loaded = store.load()
    assert (loaded.token, loaded.status, loaded.expires, loaded.last_used) == (
        GOOD.token,
        "NORMAL",
        WHEN,
        WHEN,
    )
    assert sorted(os.listdir(store.directory)) == ["token.meta.json", "token.txt"]
    assert GOOD.token not in repr(loaded)


def test_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch) -> None:
    store = TokenStore(tmp_path)
    store.save(GOOD)

    def broken_replace(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        store.save(StoredToken("other-token-0123456789", WHEN, "NORMAL"))
    monkeypatch.undo()
    assert store.load().token == GOOD.token
    assert sorted(os.listdir(tmp_path)) == ["token.meta.json", "token.txt"]  # no temp left


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"only-a-token\n",
        b"tok\nsoon\nNORMAL\n",
        b"tok\n123\nWEIRD\n",
        b"\xff\xfe\x00bin",
        b"\n123\nNORMAL\n",
    ],
)
def test_corrupt_file_is_reported_once_and_treated_as_none(tmp_path, caplog, content) -> None:
    store = TokenStore(tmp_path)
    store.path.write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="webull_nb.shared.files.store"):
        assert store.load() is None
        assert store.load() is None
    assert "token file" in store.problem
    assert len(caplog.records) == 1


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.path.mkdir()  # reading a directory fails even as root
    assert store.load() is None
    assert "cannot read the token file" in store.problem


def test_good_token_is_never_replaced_by_an_unverified_one(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(GOOD)
    assert not store.save(PENDING)
    assert not store.save(StoredToken("x-expired-0123456789", WHEN, "EXPIRED"))
    assert store.load().token == GOOD.token
    # News about the stored token itself is kept, and a verified token replaces it.
    assert store.save(StoredToken(GOOD.token, WHEN, "INVALID"))
    assert store.save(PENDING)
    assert store.save(StoredToken("newer-normal-0123456789", WHEN, "NORMAL"))


def test_touch_updates_last_use_of_the_stored_token_only(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(GOOD)
    later = datetime(2026, 12, 5, tzinfo=timezone.utc)
    store.touch("someone-else", later)
    assert store.load().last_used == WHEN
    store.touch(GOOD.token, later)
    assert store.load().last_used == later


def test_clear(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(GOOD)
    store.clear()
    store.clear()
    assert store.load() is None and os.listdir(tmp_path) == []


def test_files_are_interchangeable_with_the_official_sdk(tmp_path: Path) -> None:
    token_manager = pytest.importorskip(
        "webull.core.http.initializer.token.token_manager", reason="official SDK not installed"
    )
    manager = token_manager.TokenManager(custom_token_dir=str(tmp_path))
    manager.save_token_to_local(
        {"token": "sdk-token-0123456789", "expires": 1_790_000_000_000, "status": "NORMAL"}
    )
    ours = TokenStore(tmp_path).load()
    assert (ours.token, ours.status) == ("sdk-token-0123456789", "NORMAL")
    assert ours.expires == datetime.fromtimestamp(1_790_000_000, tz=timezone.utc)
    TokenStore(tmp_path).save(GOOD)
    theirs = manager.load_token_from_local()
    assert (theirs.token, theirs.status) == (GOOD.token, "NORMAL")
