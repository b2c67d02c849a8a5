"""The names of one account's keys in Redis, all under one hash tag.

``webull-nb:{<environment>:<endpoint>:<hash of the app key>}:<what>``: the braces make every
key of an account hash to one Cluster slot, so the multi-key scripts run there too. Neither
the app key nor anything secret is in a name.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Keys"]


@dataclass(frozen=True)
class Keys:
    """Key and channel names of one account, and ``where`` for messages."""

    account: str  # "<environment>:<endpoint>:<hash of the app key>"
    server: str  # describe(url): no password

    @property
    def prefix(self) -> str:
        """The common prefix, hash tag included."""
        return f"webull-nb:{{{self.account}}}:"

    @property
    def where(self) -> str:
        """Where the account lives, for messages and for telling storages apart."""
        return f"{self.server} {self.prefix}*"

    @property
    def record(self) -> str:
        """The token record (a hash)."""
        return self.prefix + "token"

    @property
    def epoch(self) -> str:
        """The poll lease's fencing epoch (a counter)."""
        return self.prefix + "epoch"

    @property
    def lease(self) -> str:
        """The poll lease (the holder's name, with a TTL)."""
        return self.prefix + "lease"

    @property
    def create_lock(self) -> str:
        """The single-flight lock of a create."""
        return self.prefix + "create-lock"

    @property
    def offsets(self) -> str:
        """The service's clock offset as each host learned it (a hash by host clock id)."""
        return self.prefix + "clock-offsets"

    @property
    def channel(self) -> str:
        """Where every write of the record is announced."""
        return self.prefix + "changed"

    def ledger(self, kind: str) -> list[str]:
        """The budget, the line and the line's deadlines of one kind of request."""
        return [self.prefix + f"{kind}:{part}" for part in ("slots", "line", "line-until")]
