"""Errors the services raise; the API, the pages and the socket map each to one answer."""

from __future__ import annotations


class ServiceError(Exception):
    """A rule refused the change. ``code`` is stable and machine-readable."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(ServiceError):
    """The input breaks a rule (HTTP 400)."""

    code = "invalid"


class NotAllowed(ServiceError):
    """The actor may not do this (HTTP 403)."""

    code = "forbidden"


class WrongStatus(ServiceError):
    """The broadcast's status does not allow this (HTTP 409)."""

    code = "conflict"


class RateLimited(ServiceError):
    """Too many attempts; try again after ``retry_after`` seconds (HTTP 429)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, round(retry_after + 0.49))
