"""Which filesystem holds a path, and whether it is one that several machines share.

The file backend's locks (``locks``) and its watcher (``watcher``, inotify) are only as good
as the filesystem under the token directory: on NFS, SMB, FUSE and cluster filesystems a
lock taken on one machine may not exclude a process on another, and inotify sees only this
machine's writes. Linux says which filesystem holds a path in ``/proc/self/mountinfo``; the
mount is the one whose device (field 3, ``major:minor``) is the path's ``st_dev``.
Elsewhere (macOS, Windows) there is no such table, and nothing is detected.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MOUNTINFO",
    "SHARED_TYPES",
    "Mount",
    "is_shared",
    "mount_of",
    "parse_mountinfo",
    "read_mounts",
    "shared_filesystem",
]

#: The mount table read when none is given (module level, so tests can point it elsewhere).
MOUNTINFO = Path("/proc/self/mountinfo")

# Filesystem types (as mountinfo spells them) that machines share. Besides the network
# filesystems (NFS, SMB, 9p), the cluster ones: their lock coherence across clients depends
# on mount options and lock daemons (Lustre's default is ``noflock``, for one), so the
# warning's "may not hold" is the honest word for them too. ``fuse`` and every ``fuse.*``
# (sshfs, s3fs, gcsfuse, rclone, glusterfs...) are matched by ``is_shared``.
SHARED_TYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        # A host's folder shared into a VM or container, like 9p.
        "virtiofs",
        "lustre",
        "ceph",
        "glusterfs",
        "gpfs",
        "afs",
        "beegfs",
        "ocfs2",
        "gfs2",
        "orangefs",
        "pvfs2",
        "coda",
        "davfs",
    }
)

_ESCAPE = re.compile(r"\\([0-7]{3})")


@dataclass(frozen=True)
class Mount:
    """One line of a mount table: the device, where it is mounted, its type and source."""

    device: tuple[int, int]
    mount_point: str
    fstype: str
    source: str


def _unescape(field: str) -> str:
    # The kernel writes space, tab, newline and backslash in paths as octal escapes (\040).
    return _ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts of a ``/proc/<pid>/mountinfo`` text; malformed lines are skipped."""
    mounts = []
    for line in text.splitlines():
        # "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue":
        # a variable number of optional fields ends at a lone "-".
        fields = line.split(" ")
        try:
            separator = fields.index("-", 6)
            major, minor = (int(part) for part in fields[2].split(":"))
            fstype, source = fields[separator + 1], fields[separator + 2]
        except (ValueError, IndexError):
            continue
        mounts.append(Mount((major, minor), _unescape(fields[4]), _unescape(fstype), source))
    return mounts


def read_mounts(table: str | os.PathLike[str] | None = None) -> list[Mount]:
    """The mounts in ``table`` (default ``MOUNTINFO``); none when it cannot be read."""
    try:
        raw = Path(MOUNTINFO if table is None else table).read_bytes()
    except OSError:
        return []
    # Paths are bytes to the kernel: decoded as the OS decodes file names.
    return parse_mountinfo(os.fsdecode(raw))


def _existing(path: Path) -> Path | None:
    """``path``, or its nearest existing parent (a token directory is made on first write)."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return None


def mount_of(
    path: str | os.PathLike[str], table: str | os.PathLike[str] | None = None
) -> Mount | None:
    """The mount that holds ``path``, or None where the OS does not say (not Linux)."""
    if not hasattr(os, "major"):
        return None  # Windows: no device numbers to match
    existing = _existing(Path(path).expanduser().absolute())
    if existing is None:
        return None
    try:
        device = os.stat(existing).st_dev
    except OSError:
        return None
    wanted = (os.major(device), os.minor(device))
    matches = [mount for mount in read_mounts(table) if mount.device == wanted]
    if not matches:
        return None
    # One filesystem mounted at several places (bind mounts) has one type: any line says it;
    # the last is the one mounted over the others.
    return matches[-1]


def is_shared(fstype: str) -> bool:
    """Whether a filesystem of this type may be shared by several machines."""
    fstype = fstype.lower()
    # Not "fuseblk" (no dot): FUSE on a local block device (ntfs-3g, exfat-fuse on a USB
    # disk). One machine mounts it, and FUSE without lock support of its own keeps locks in
    # this kernel, which is all one machine needs; warning there would only teach users to
    # ignore the warning. Nor "fusectl", FUSE's own control filesystem.
    return fstype in SHARED_TYPES or fstype == "fuse" or fstype.startswith("fuse.")


def shared_filesystem(
    path: str | os.PathLike[str], table: str | os.PathLike[str] | None = None
) -> str | None:
    """The type of the filesystem holding ``path`` if machines may share it, else None."""
    mount = mount_of(path, table)
    if mount is None or not is_shared(mount.fstype):
        return None
    return mount.fstype
