"""A token directory on NFS: the Session says so once, in its error field and the log."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from webull_nb.session import Session
from webull_nb.shared.files import mounts

pytestmark = pytest.mark.skipif(not hasattr(os, "major"), reason="needs device numbers")


def nfs_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the mount table say that ``tmp_path`` (by its real device) is on nfs4."""
    device = os.stat(tmp_path).st_dev
    table = tmp_path / "mountinfo"
    table.write_text(
        f"120 27 {os.major(device)}:{os.minor(device)} / {tmp_path} rw,relatime - "
        "nfs4 fileserver:/home rw,vers=4.2\n"
    )
    monkeypatch.setattr(mounts, "MOUNTINFO", table)
    return tmp_path / "tokens"


def expected(token_dir: Path) -> str:
    return (
        f"the token directory {token_dir} is on nfs4: file locks may not hold across machines, "
        "so two hosts could each send an SMS; use a Redis store: "
        'store="redis://host:6379/0" or WEBULL_NB_STORE'
    )


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "file locks" in r.getMessage()]


def open_on(sim, token_dir: Path, **options) -> Session:
    return Session(
        sim.app_key, sim.app_secret, endpoint=sim.url, token_dir=token_dir, clock=sim.clock,
        **options,
    )  # fmt: skip


def test_a_token_dir_on_nfs_is_said_once(sim, tmp_path, monkeypatch, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="webull_nb")
    token_dir = nfs_table(tmp_path, monkeypatch)
    first = open_on(sim, token_dir)
    second = None
    try:
        assert first.error == expected(token_dir)
        assert expected(token_dir) in first.status_line()
        assert warnings_logged(caplog) == [f"webull-nb: {expected(token_dir)}"]
        assert caplog.records[-1].levelno == logging.WARNING
        # A second Session on the account shows what the account shows; nothing is said again.
        second = open_on(sim, token_dir)
        assert second.account is first.account
        assert second.error == expected(token_dir)
        assert len(warnings_logged(caplog)) == 1
        # The next answer replaces it, and checks do not bring it back.
        first.create_token()
        assert first.status == "PENDING"
        assert first.error == second.error == ""
        first.check_token()
        assert first.error == ""
        third = open_on(sim, token_dir)
        assert third.error == ""
        third.close()
        first.note_error("a real problem")
        assert second.error == "a real problem"
        assert len(warnings_logged(caplog)) == 1
    finally:
        first.close()
        if second is not None:
            second.close()


def test_credentials_given_later_get_the_warning(sim, tmp_path, monkeypatch) -> None:
    token_dir = nfs_table(tmp_path, monkeypatch)
    with Session(credentials_later=True, token_dir=token_dir, endpoint=sim.url) as session:
        assert session.error == ""
        session.set_credentials(sim.app_key, sim.app_secret)
        assert session.error == expected(token_dir)


def test_a_problem_found_at_start_is_not_hidden_by_the_warning(
    sim, tmp_path, monkeypatch, caplog
) -> None:
    token_dir = nfs_table(tmp_path, monkeypatch)
    token_dir.mkdir()
    (token_dir / "token.txt").symlink_to(tmp_path / "elsewhere")
    with open_on(sim, token_dir) as session:
        assert "symbolic link" in session.error
        assert warnings_logged(caplog) == [f"webull-nb: {expected(token_dir)}"]


def test_a_local_token_dir_says_nothing(sim, tmp_path, caplog) -> None:
    mount = mounts.mount_of(tmp_path)
    if mount is not None and mounts.is_shared(mount.fstype):
        pytest.skip(f"the temp dir is on {mount.fstype} here")
    with open_on(sim, tmp_path / "tokens") as session:
        assert session.error == ""
        assert warnings_logged(caplog) == []


def test_a_redis_store_does_not_warn_about_the_token_dir(
    sim, redis_url, tmp_path, monkeypatch, caplog
) -> None:
    # The token directory only matters for moving a token in; the store is Redis.
    token_dir = nfs_table(tmp_path, monkeypatch)
    with open_on(sim, token_dir, store=redis_url) as session:
        assert session.error == ""
        assert warnings_logged(caplog) == []
