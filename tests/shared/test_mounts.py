"""Which filesystem holds the token directory, from a mount table (real or made up)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from webull_nb.shared.files import mounts
from webull_nb.shared.files.backend import FileStorage
from webull_nb.shared.files.mounts import (
    Mount,
    is_shared,
    mount_of,
    parse_mountinfo,
    read_mounts,
    shared_filesystem,
)
from webull_nb.shared.memory import MemoryStorage

linux_only = pytest.mark.skipif(
    not hasattr(os, "major") or not Path("/proc/self/mountinfo").exists(),
    reason="needs device numbers and /proc/self/mountinfo (Linux)",
)

TABLE = (
    "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
    "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard\n"
    # Two optional fields before the separator, a space and a backslash in the mount point.
    r"88 27 0:52 / /mnt/team\040share rw,relatime shared:7 master:3 - nfs4 srv:/export rw,vers=4.2"
    "\n"
    r"89 27 0:53 /sub /mnt/back\134slash rw - cifs //host/share rw" + "\n"
    "not a mount line at all\n"
    "90 27 x:y / /bad rw - ext4 /dev/x rw\n"
    "91 27 0:54 / /no-separator rw shared:9 ext4 /dev/y rw\n"
)


def table_for(directory: Path, fstype: str, tmp_path: Path, name: str = "mountinfo") -> Path:
    """A mount table whose one line is the real device of ``directory``, typed ``fstype``."""
    device = os.stat(directory).st_dev
    table = tmp_path / name
    table.write_text(
        "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
        f"120 27 {os.major(device)}:{os.minor(device)} / {directory} rw,relatime - "
        f"{fstype} fileserver:/home rw\n"
    )
    return table


def test_mountinfo_lines_are_parsed_with_optional_fields_and_escapes() -> None:
    parsed = parse_mountinfo(TABLE)
    assert parsed == [
        Mount((0, 21), "/proc", "proc", "proc"),
        Mount((254, 0), "/", "ext4", "/dev/vda"),
        Mount((0, 52), "/mnt/team share", "nfs4", "srv:/export"),
        Mount((0, 53), "/mnt/back\\slash", "cifs", "//host/share"),
    ]


@pytest.mark.parametrize(
    ("fstype", "shared"),
    [
        ("nfs", True),
        ("nfs4", True),
        ("cifs", True),
        ("smb3", True),
        ("smbfs", True),
        ("fuse", True),
        ("fuse.sshfs", True),
        ("fuse.s3fs", True),
        ("fuse.gcsfuse", True),
        ("fuse.rclone", True),
        ("fuse.glusterfs", True),
        ("lustre", True),
        ("9p", True),
        ("virtiofs", True),
        ("ceph", True),
        ("glusterfs", True),
        ("gpfs", True),
        ("afs", True),
        ("beegfs", True),
        ("ocfs2", True),
        ("gfs2", True),
        ("NFS4", True),
        # Local disks, including FUSE on one (ntfs-3g on a USB disk).
        ("fuseblk", False),
        ("ext4", False),
        ("xfs", False),
        ("btrfs", False),
        ("zfs", False),
        ("tmpfs", False),
        ("overlay", False),
        ("apfs", False),
        ("fusectl", False),
    ],
)
def test_which_filesystem_types_machines_share(fstype: str, shared: bool) -> None:
    assert is_shared(fstype) is shared


@linux_only
def test_a_directory_on_nfs4_is_found_by_its_device(tmp_path: Path) -> None:
    table = table_for(tmp_path, "nfs4", tmp_path)
    assert shared_filesystem(tmp_path, table) == "nfs4"
    # A token directory not made yet is where it will be made: under its nearest parent.
    assert shared_filesystem(tmp_path / "not" / "yet", table) == "nfs4"
    mount = mount_of(tmp_path, table)
    assert mount is not None and mount.mount_point == str(tmp_path)


@linux_only
def test_a_local_filesystem_or_another_device_gives_none(tmp_path: Path) -> None:
    assert shared_filesystem(tmp_path, table_for(tmp_path, "ext4", tmp_path)) is None
    assert shared_filesystem(tmp_path, table_for(tmp_path, "fuseblk", tmp_path, "t2")) is None
    # Only some other device is on NFS.
    device = os.stat(tmp_path).st_dev
    other = tmp_path / "other"
    other.write_text(
        f"5 1 {os.major(device)}:{os.minor(device) + 1} / {tmp_path} rw - nfs4 srv:/e rw\n"
    )
    assert mount_of(tmp_path, other) is None
    assert shared_filesystem(tmp_path, other) is None


@linux_only
def test_the_last_of_several_mounts_of_one_device_counts(tmp_path: Path) -> None:
    device = os.stat(tmp_path).st_dev
    dev = f"{os.major(device)}:{os.minor(device)}"
    table = tmp_path / "mountinfo"
    table.write_text(f"1 0 {dev} / / rw - ext4 /dev/a rw\n2 1 {dev} / /over rw - nfs s:/e rw\n")
    assert shared_filesystem(tmp_path, table) == "nfs"


def test_an_unreadable_table_means_nothing_detected(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-mountinfo"
    assert read_mounts(missing) == []
    assert read_mounts(tmp_path) == []  # a directory, not a file
    assert mount_of(tmp_path, missing) is None
    assert shared_filesystem(tmp_path, missing) is None


def test_no_os_device_numbers_means_nothing_detected(tmp_path, monkeypatch) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(TABLE)
    monkeypatch.delattr(os, "major", raising=False)  # as on Windows
    assert mount_of(tmp_path, table) is None


@linux_only
def test_the_real_temp_dir_is_found_and_is_local(tmp_path: Path) -> None:
    mount = mount_of(tmp_path)
    assert mount is not None, "the real mount table has no line for the temp dir's device"
    if is_shared(mount.fstype):
        pytest.skip(f"the temp dir is on {mount.fstype} here")
    assert shared_filesystem(tmp_path) is None
    assert FileStorage(tmp_path / "tokens").warning is None


@linux_only
def test_the_file_backend_warns_once_per_storage(tmp_path: Path, monkeypatch) -> None:
    token_dir = tmp_path / "tokens"
    monkeypatch.setattr(mounts, "MOUNTINFO", table_for(tmp_path, "nfs4", tmp_path))
    storage = FileStorage(token_dir)
    warning = storage.warning
    assert warning == (
        f"the token directory {token_dir} is on nfs4: file locks may not hold across machines, "
        "so two hosts could each send an SMS; use a Redis store: "
        'store="redis://host:6379/0" or WEBULL_NB_STORE'
    )
    # Computed once: the table is not read again for this storage.
    monkeypatch.setattr(mounts, "MOUNTINFO", tmp_path / "gone")
    assert storage.warning == warning
    assert FileStorage(token_dir).warning is None


def test_memory_and_redis_storage_have_no_warning() -> None:
    assert MemoryStorage().warning is None
    pytest.importorskip("redis")
    from webull_nb.shared.redisstore.backend import RedisStorage

    assert RedisStorage.warning is None
