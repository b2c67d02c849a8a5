"""Why a request was refused, in words a student understands (class mode's ``last_error``)."""

from __future__ import annotations

from collections.abc import Mapping

from webull_nb.core.secrets import Secret
from webull_nb.simulator.replies import SimulatorError

__all__ = ["reason"]


def reason(
    refusal: SimulatorError,
    *,
    headers: Mapping[str, str],
    path: str,
    query: str,
    body: bytes,
    host: str,
    app_key: str,
    app_secret: Secret[str],
    now: float,
) -> str:
    """Say why ``refusal`` happened to this request, without any secret."""
    del headers, path, query, body, host, app_key, app_secret, now  # a first, plain answer
    return str(refusal)
