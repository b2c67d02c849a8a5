"""This host, as the processes sharing a token see it: its monotonic clock, its processes."""

from __future__ import annotations

import os
import socket
import time

__all__ = ["HOST", "PROCESS_TAG", "host_clock_id", "process_gone"]


def host_clock_id() -> str:
    """Names this host's monotonic clock: times in the ledger compare only under one name.

    The ledger keeps ``time.monotonic()`` times, which every process of one host shares and
    which no clock step (a laptop waking, NTP, a user) can move. On Linux the kernel's boot
    id names that clock; elsewhere the host name and boot moment do, approximately.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        booted = round((time.time() - time.monotonic()) / 60)
        return f"{socket.gethostname()}:{booted}"


#: This host's monotonic clock, by name.
HOST = host_clock_id()


def process_gone(pid: object) -> bool:
    """Whether ``pid`` names no running process of this host (a zombie counts as gone)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False  # unknown: assume alive, and let the lease run out by itself
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # exists, but belongs to another user
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rpartition(")")[2].split()[:1]
    except OSError:
        return False
    return state in (["Z"], ["X"])


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


#: Names this host's boot and this process's pid namespace: a pid means one process only
#: among names that carry the same tag (containers on one host share a boot, not pids).
PROCESS_TAG = f"{HOST.replace('-', '')[:12]}.{_pid_namespace()}"
