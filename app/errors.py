"""Domain errors: each becomes a clear GraphQL error with a code, and a permanent actor failure."""

from __future__ import annotations

from app.messaging.errors import PermanentError


class DomainError(PermanentError):
    """A request that cannot succeed as asked; the message is safe to show the client."""

    code = "BAD_REQUEST"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class ValidationError(DomainError):
    code = "BAD_INPUT"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class InvalidState(DomainError):
    code = "INVALID_STATE"


class UpstreamError(DomainError):
    """Lithic refused or failed a call made on the request path."""

    code = "UPSTREAM_ERROR"
