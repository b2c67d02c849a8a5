"""What the simulator answers: a reply value, the refusal that carries one, and JSON bodies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = ["Reply", "SimulatorError", "error_body", "parse_json"]

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class Reply(NamedTuple):
    """One HTTP answer: status, JSON body and extra headers."""

    status: int
    body: Any
    headers: Mapping[str, str] = _NO_HEADERS


def error_body(code: str, message: str) -> dict[str, str]:
    """Return an error body in the service's shape."""
    return {"error_code": code, "message": message}


class SimulatorError(Exception):
    """A request the simulator refuses (wrong code, unknown token, bad signature, too many)."""

    def __init__(
        self,
        http_status: int,
        error_code: str,
        message: str,
        headers: Mapping[str, str] = _NO_HEADERS,
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.error_code = error_code
        self.headers = headers

    @property
    def reply(self) -> Reply:
        """The HTTP answer this refusal gives."""
        return Reply(self.http_status, error_body(self.error_code, str(self)), self.headers)


def parse_json(body: bytes) -> dict[str, Any]:
    """Return a request body's JSON object ({} for none), or refuse it with HTTP 400."""
    # Accepted whatever the Content-Type: the official SDK sends none.
    if not body:
        return {}
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        # RecursionError: "[[[[..." nested deeper than the parser's stack.
        raise SimulatorError(400, "INVALID_PARAMETER", "the body is not JSON") from None
    if not isinstance(value, dict):
        raise SimulatorError(400, "INVALID_PARAMETER", "the body must be a JSON object")
    return value
