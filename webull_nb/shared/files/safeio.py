"""Small private files, read and written safely whatever another program put in their place."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

__all__ = [
    "TEMP_PREFIX",
    "UnsafeFileError",
    "make_private_directory",
    "read_small_file",
    "remove_temp_files",
    "write_atomic",
]

#: Interrupted writes leave files named so: ``remove_temp_files`` sweeps them.
TEMP_PREFIX = ".tmp-"


class UnsafeFileError(OSError):
    """A store file that is not a small regular file: ``kind`` is link, special or size."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


_SAFE_OPEN = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)  # a link could point at /dev/zero or another user's file
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO would otherwise block the open forever
    | getattr(os, "O_CLOEXEC", 0)
)


def read_small_file(path: Path, limit: int) -> tuple[bytes, os.stat_result] | None:
    """Read a regular file of at most ``limit`` bytes; None when it does not exist.

    Never follows a symbolic link, never blocks on a FIFO and never reads more than
    ``limit + 1`` bytes, whatever was put in its place: anything else raises
    ``UnsafeFileError`` saying what it is (other failures raise ``OSError``).
    """
    try:
        fd = os.open(path, _SAFE_OPEN)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if os.path.islink(path):
            raise UnsafeFileError("link", "it is a symbolic link") from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFileError("special", "it is not a regular file")
        if info.st_size > limit:
            raise UnsafeFileError("size", f"it is {info.st_size} bytes, far too large")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:
            raise UnsafeFileError("size", "it grew past its size limit while being read")
        return data, info
    finally:
        os.close(fd)


def make_private_directory(directory: Path) -> None:
    """Create ``directory`` 0700 if missing; one the user made keeps the mode they chose."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Replace ``path`` whole with ``data`` (0600): readers see the old file or the new one."""
    make_private_directory(path.parent)
    # mkstemp creates the file 0600 and in the same directory, so os.replace is atomic.
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_temp_files(directory: Path) -> int:
    """Remove what interrupted writes left in ``directory``; return how many (needs the lock)."""
    removed = 0
    with contextlib.suppress(OSError):
        for entry in list(directory.glob(TEMP_PREFIX + "*")):
            with contextlib.suppress(OSError):
                entry.unlink()
                removed += 1
    return removed
