"""Domain errors and the one place that maps them to HTTP statuses and stable codes.

Every error the API returns is an :class:`ApiError`: a status, a stable ``code`` and, where one input is
to blame, the ``field`` in the request's own (camelCase) names.
"""

from __future__ import annotations

from typing import ClassVar


class ApiError(Exception):
    """An error the API reports to its caller in the api-v1 error envelope."""

    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "BAD_REQUEST"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.headers = headers or {}


class BadRequest(ApiError):
    status = 400
    default_code = "BAD_REQUEST"


class Unauthorized(ApiError):
    status = 401
    default_code = "UNAUTHORIZED"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status = 403
    default_code = "FORBIDDEN"


class NotFound(ApiError):
    status = 404
    default_code = "NOT_FOUND"


class MethodNotAllowed(ApiError):
    status = 405
    default_code = "METHOD_NOT_ALLOWED"


class PayloadTooLarge(ApiError):
    status = 413
    default_code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ApiError):
    status = 415
    default_code = "UNSUPPORTED_MEDIA_TYPE"


class Conflict(ApiError):
    status = 409
    default_code = "CONFLICT"


class BusinessRuleViolation(ApiError):
    status = 422
    default_code = "BUSINESS_RULE_VIOLATION"


class RateLimited(ApiError):
    status = 429
    default_code = "RATE_LIMIT_EXCEEDED"


class InternalError(ApiError):
    status = 500
    default_code = "INTERNAL_ERROR"


class NotImplementedYet(ApiError):
    status = 501
    default_code = "NOT_IMPLEMENTED"


class UpstreamError(ApiError):
    status = 502
    default_code = "UPSTREAM_ERROR"


class ServiceUnavailable(ApiError):
    status = 503
    default_code = "SERVICE_UNAVAILABLE"


class ProviderNotConfigured(ServiceUnavailable):
    """No AI provider key is configured (neither ``OPENAI_API_KEY`` nor a readable secret)."""

    default_code = "AI_PROVIDER_NOT_CONFIGURED"


class ProviderFailed(UpstreamError):
    """The AI provider failed, refused or timed out, after its bounded retries. ``reason`` says how, in a
    few words fit for a log line and a handoff reason (``"timeout"``, ``"status 500"``, ``"connection"``)."""

    default_code = "AI_PROVIDER_ERROR"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ConfigurationError(RuntimeError):
    """The deployment is missing a setting or secret: an operator's problem, reported as a 500."""
