"""A token as the service answers it (``TokenInfo``) and as every view shows it (``TokenState``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from webull_nb.core.errors import ProtocolError
from webull_nb.core.secrets import Secret, mask_token
from webull_nb.core.status import IDLE_LIFETIME, SERVICE_STATUSES, TokenStatus, valid_token_text

__all__ = ["NO_TOKEN", "TokenInfo", "TokenState", "idle_deadline"]


# The service has been seen to send numeric statuses too (0..3 in this order).
_NUMERIC_STATUS = dict(enumerate(SERVICE_STATUSES))


@dataclass(frozen=True, repr=False)
class TokenInfo:
    """One answer of the token API: the token, its status and its expiry."""

    token: str
    status: TokenStatus
    expires: datetime | None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __repr__(self) -> str:
        """Show the token masked: reprs end up in logs and saved notebooks."""
        expires = self.expires.isoformat() if self.expires else None
        return (
            f"TokenInfo(token={mask_token(self.token)!r}, status={self.status.value}, "
            f"expires={expires})"
        )

    @classmethod
    def from_response(cls, data: object) -> TokenInfo:
        """Validate a token API answer; anything off raises ``ProtocolError``."""
        problem = _token_answer_problem(data)
        if problem is not None:
            del data  # the answer holds the token: keep it out of this frame's locals
            raise ProtocolError(problem)
        assert isinstance(data, Mapping)
        status, expires = data["status"], data.get("expires")
        parsed = _NUMERIC_STATUS[status] if isinstance(status, int) else TokenStatus(status)
        when = None
        if expires not in (None, "", 0):
            when = datetime.fromtimestamp(int(expires) / 1000, tz=timezone.utc)
        return cls(token=data["token"], status=parsed, expires=when, raw=dict(data))


def _token_answer_problem(data: object) -> str | None:
    """What is wrong with a token API answer, or None (never raises: no traceback holds it)."""
    if not isinstance(data, Mapping):
        return "the token API answered something other than a JSON object"
    if not isinstance(data.get("token"), str) or not data["token"]:
        return "the token API answer has no token"
    if not valid_token_text(data["token"]):
        return "the token API answered a token that cannot go into a header"
    status = data.get("status")
    try:
        parsed = _NUMERIC_STATUS[status] if isinstance(status, int) else TokenStatus(status)
    except (KeyError, ValueError, TypeError):
        parsed = None
    if parsed not in SERVICE_STATUSES:  # NONE is ours, never the service's
        shown = status if isinstance(status, (int, str)) else type(status).__name__
        return f"the token API answered an unknown status {shown!r}; webull-nb may need an update"
    expires = data.get("expires")
    if expires not in (None, "", 0):
        try:
            datetime.fromtimestamp(int(expires) / 1000, tz=timezone.utc)
        except (TypeError, ValueError, OverflowError, OSError):
            return f"the token API answered an unreadable expiry {str(expires)[:40]!r}"
    return None


def idle_deadline(expires: datetime | None, last_used: datetime | None) -> datetime | None:
    """When a NORMAL token goes INVALID if unused: 15 days after its last known use."""
    if last_used is not None:
        return max(last_used + IDLE_LIFETIME, expires) if expires else last_used + IDLE_LIFETIME
    return expires


@dataclass(frozen=True)
class TokenState:
    """A snapshot of an account's token, as every view shows it (the token itself boxed)."""

    status: str = TokenStatus.NONE.value
    token: Secret | None = field(default=None, repr=False, compare=False)
    token_hint: str = ""
    created: datetime | None = None
    deadline: datetime | None = None
    expires: datetime | None = None
    last_used: datetime | None = None
    restored: bool = False
    error: str = ""
    checks_made: int = 0
    version: int = 0
    #: When the service last said NORMAL for this token (service time), from any process.
    confirmed: datetime | None = None
    #: The status is this machine's conclusion from its clock (say, INVALID after 15 idle
    #: days), not the service's word: it is confirmed with a check before anything acts on it.
    inferred: bool = False


#: The fields of a state with no token, for resetting one.
NO_TOKEN: dict[str, Any] = dict(
    status=TokenStatus.NONE.value,
    token=None,
    token_hint="",
    created=None,
    deadline=None,
    expires=None,
    last_used=None,
    restored=False,
    confirmed=None,
    inferred=False,
)
