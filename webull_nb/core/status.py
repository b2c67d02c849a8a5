"""The one vocabulary of token states: the service's four, plus NONE for "no token here"."""

from __future__ import annotations

import enum
import re
from datetime import datetime, timedelta, timezone

__all__ = [
    "IDLE_LIFETIME",
    "IDLE_WARNING_DAYS",
    "MAX_TOKEN_LENGTH",
    "RATE_LIMIT",
    "RATE_MARGIN",
    "RATE_PERIOD",
    "RATE_WINDOW",
    "SERVICE_STATUSES",
    "STATUSES",
    "VERIFICATION_WINDOW",
    "TokenStatus",
    "progress",
    "valid_token_text",
    "verification_deadline",
]


class TokenStatus(str, enum.Enum):
    """Lifecycle states of an access token; NONE is ours (no token yet), the rest the service's."""

    NONE = "NONE"
    PENDING = "PENDING"
    NORMAL = "NORMAL"
    INVALID = "INVALID"
    EXPIRED = "EXPIRED"


#: What the token API answers and what ``token.txt`` may hold, in the service's numeric order.
SERVICE_STATUSES: tuple[TokenStatus, ...] = (
    TokenStatus.PENDING,
    TokenStatus.NORMAL,
    TokenStatus.INVALID,
    TokenStatus.EXPIRED,
)
#: Every state as a plain string, for traits and synced widget state.
STATUSES: tuple[str, ...] = tuple(status.value for status in TokenStatus)

#: How long a PENDING token waits for approval in the Webull App.
VERIFICATION_WINDOW = 300.0
#: How long a NORMAL token lives unused.
IDLE_LIFETIME = timedelta(days=15)
#: Below this many days left on that idle clock, every view warns.
IDLE_WARNING_DAYS = 2
#: The service allows this many create, and as many check, requests per app key ...
RATE_LIMIT = 10
#: ... in any window of this many seconds.
RATE_PERIOD = 30.0
#: We count over a window this much longer: requests leave here earlier than they arrive
#: there, and the margin keeps network jitter from squeezing 11 arrivals into 30 s.
RATE_MARGIN = 0.5
RATE_WINDOW = RATE_PERIOD + RATE_MARGIN


# Real tokens are a few dozen characters; anything far longer is not a token, and putting
# it whole into every request header would be a memory and log hazard.
MAX_TOKEN_LENGTH = 1024
_TOKEN_TEXT = re.compile(rf"[\x21-\x7e]{{1,{MAX_TOKEN_LENGTH}}}")


def valid_token_text(token: object) -> bool:
    """Whether ``token`` can go into an HTTP header: printable ASCII, no spaces, sane length."""
    return isinstance(token, str) and _TOKEN_TEXT.fullmatch(token) is not None


_PROGRESS = {"NONE": -1, "PENDING": 0, "NORMAL": 1, "EXPIRED": 2, "INVALID": 2}


def progress(status: str) -> int:
    """How far along its life a token with this status is: a token never goes back.

    PENDING comes before NORMAL, and both before EXPIRED and INVALID, so an answer that
    arrives late (say, a PENDING check overtaken by a NORMAL one) is recognisably stale.
    """
    return _PROGRESS.get(str(status), -1)


def verification_deadline(start: float, expires: datetime | None) -> datetime:
    """End of the window to approve a token created at ``start``, never past its ``expires``."""
    end = start + VERIFICATION_WINDOW
    if expires is not None:
        end = min(end, expires.timestamp())
    return datetime.fromtimestamp(end, tz=timezone.utc)
