"""Domain errors. Each has a stable machine-readable `code` and a human `message`; its class says
what kind of failure it is, and config/api.py maps that kind to an HTTP status once.

Every app raises these (or subclasses them) from its services; no service knows about HTTP.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    default_code = "error"

    def __init__(self, code: str | None = None, message: str = "", **details: Any) -> None:
        self.code = code or self.default_code
        self.message = message or self.code
        self.details = details
        super().__init__(self.message)


class InvalidInput(DomainError):
    """The request is well-formed but a value is not acceptable (→ 422)."""

    default_code = "invalid_input"

    def __init__(
        self, code: str, message: str, *, field: str | None = None, **details: Any
    ) -> None:
        if field is not None:
            details["field"] = field
        super().__init__(code, message, **details)


class NotFound(DomainError):
    """No such record, or none the caller may know of (→ 404)."""

    default_code = "not_found"


class Conflict(DomainError):
    """The change contradicts the current state: a duplicate, a transition not allowed (→ 409)."""

    default_code = "conflict"


class Forbidden(DomainError):
    """The caller is known but may not do this (→ 403)."""

    default_code = "forbidden"


class NotAuthenticated(DomainError):
    """No or bad credentials (→ 401)."""

    default_code = "not_authenticated"


class RateLimited(DomainError):
    """Too many attempts (→ 429)."""

    default_code = "rate_limited"
