"""The one error hierarchy; ``api.py`` maps it to ``{error, code}`` in one handler."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal with a stable public code. Subclasses fix status and code."""

    status: int = 400
    code: str = "VALIDATION_ERROR"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.details:
            out["details"] = self.details
        return out


class ValidationFailed(DomainError):
    status, code = 400, "VALIDATION_ERROR"


class AuthRequired(DomainError):
    status, code = 401, "AUTH_REQUIRED"


class AuthInvalid(DomainError):
    status, code = 401, "AUTH_INVALID"


class InsufficientFunds(DomainError):
    status, code = 402, "INSUFFICIENT_FUNDS"


class Forbidden(DomainError):
    status, code = 403, "SCOPE_DENIED"


class TenantSuspended(DomainError):
    status, code = 403, "TENANT_SUSPENDED"


class PlayerBlocked(DomainError):
    status, code = 403, "PLAYER_BLOCKED"


class NotFound(DomainError):
    status, code = 404, "NOT_FOUND"


class Conflict(DomainError):
    status, code = 409, "CONFLICT"


class NotActive(DomainError):
    status, code = 409, "NOT_ACTIVE"


class IdempotencyInProgress(DomainError):
    status, code = 409, "IDEMPOTENCY_IN_PROGRESS"


class IdempotencyKeyReused(DomainError):
    status, code = 422, "IDEMPOTENCY_KEY_REUSED"


class UnsupportedMediaType(DomainError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class RateLimited(DomainError):
    status, code = 429, "RATE_LIMIT"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    status, code = 503, "SERVICE_UNAVAILABLE"


class LedgerInvariantViolated(Exception):
    """A bug, never a user error: postings that do not balance or name foreign accounts."""
