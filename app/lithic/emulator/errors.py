"""Lithic-shaped API errors: every error body is `{debugging_request_id, message}`."""

from __future__ import annotations


class LithicError(Exception):
    """An API error answered with `status` and a Lithic error body."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> LithicError:
    """Return a 400 error (validation)."""
    return LithicError(400, message)


def not_found(message: str = "The specified resource was not found.") -> LithicError:
    """Return a 404 error (unknown token)."""
    return LithicError(404, message)


def unprocessable(message: str) -> LithicError:
    """Return a 422 error (a request that is valid but breaks a business rule)."""
    return LithicError(422, message)


def error_body(request_id: str, message: str) -> dict[str, str]:
    """Build the JSON body Lithic sends with every error."""
    return {"debugging_request_id": request_id, "message": message}
