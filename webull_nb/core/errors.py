"""Typed errors: one base, a class per kind of failure, each message saying what to do next."""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ClockSkewError",
    "CredentialsError",
    "EndpointError",
    "InvalidTokenError",
    "NoDeviceError",
    "ParameterError",
    "ProtocolError",
    "RateLimitError",
    "RequestError",
    "ServerError",
    "StoreError",
    "StoreLockError",
    "StoreUnavailableError",
    "TokenStateError",
    "TransportError",
    "VerificationLockedError",
    "WebullError",
]


class WebullError(Exception):
    """Base of every error webull-nb raises; carries what the server said, if anything."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        error_code: str | None = None,
        server_message: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.error_code = error_code
        self.server_message = server_message
        self.request_id = request_id

    def __str__(self) -> str:
        """Return the message, with the request id when there is one (for support tickets)."""
        if self.request_id:
            return f"{self.message} (request id {self.request_id})"
        return self.message


class CredentialsError(WebullError):
    """No app key / secret could be found, or they are malformed."""


class StoreError(WebullError):
    """The token store cannot keep a token (say, its directory is not writable)."""


class StoreLockError(StoreError):
    """The token directory's lock stayed taken too long (another process may be stuck)."""


class StoreUnavailableError(StoreError, ConnectionError):
    """A shared store (Redis) cannot be reached or refuses us: wrong password, ACL, timeout."""


class EndpointError(WebullError, ValueError):
    """An unknown region, environment or profile, or an unusable base URL (also a ValueError)."""


class ParameterError(WebullError, ValueError):
    """A request names a parameter its endpoint does not take, or lacks a required one."""


class AuthenticationError(WebullError):
    """The service rejected who we are or how the request was signed."""


class InvalidTokenError(AuthenticationError):
    """The access token is unknown, unverified, expired or idle for too long."""


class NoDeviceError(AuthenticationError):
    """No device can receive the verification (``NO_AVAILABLE_DEVICE``): no token was created."""


class VerificationLockedError(AuthenticationError):
    """Too many verification attempts (``VERIFY_FAILURE_EXCEED_LIMIT``): wait, then create again."""


class RateLimitError(WebullError):
    """Too many requests: ``retry_after`` says how many seconds until the next slot."""

    def __init__(self, message: str, *, retry_after: float, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ClockSkewError(WebullError):
    """The local clock is too far from the server's; ``skew_seconds`` > 0 means ahead."""

    def __init__(self, message: str, *, skew_seconds: float | None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.skew_seconds = skew_seconds


class ServerError(WebullError):
    """The service failed (HTTP 5xx)."""


class TransportError(WebullError):
    """The request did not complete: timeout, refused connection, TLS or DNS failure."""


class ProtocolError(WebullError):
    """The answer was not what the API promises: not JSON, an HTML page, fields missing."""


class RequestError(WebullError):
    """The service refused the request for another reason (HTTP 4xx)."""


class TokenStateError(WebullError):
    """The operation needs a verified (NORMAL) token and there is none."""
