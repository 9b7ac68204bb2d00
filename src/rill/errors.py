"""Rill's exceptions.

Every error Rill raises on purpose is a ``RillError``; the HTTP layer maps each
class to an RFC 9457 problem+json response in one place (``rill.problems``),
so handlers raise, they never build error responses by hand.

    RillError
    ├── ClientError                 the request is at fault (4xx)
    │   ├── InvalidInput            400 / 422: malformed or semantically invalid
    │   ├── Unauthorized            401: no or bad credentials
    │   ├── Forbidden               403: authenticated, not allowed
    │   ├── NotFound                404: absent, or not yours (never tell which)
    │   ├── MethodNotAllowed        405: the resource does not answer this method
    │   ├── Conflict                409: state does not allow it
    │   ├── RequestTimeout          408: the request body arrived too slowly
    │   ├── PayloadTooLarge         413: body, topic or field over a limit
    │   └── TooManyRequests         429: a per-user limit is reached
    ├── UpstreamError               a model provider failed (5xx)
    │   ├── UpstreamTimeout         504: it stalled
    │   └── UpstreamUnavailable     503: it refused or is down
    ├── StorageError                the store failed (503)
    ├── BrokerError                 the broker failed (503)
    └── ServiceUnavailable          shutting down, or not ready (503)
"""

from __future__ import annotations

from typing import Any


class RillError(Exception):
    """Base of every error Rill raises on purpose."""

    status: int = 500
    #: A short, stable slug; becomes the problem ``type`` URI and the SSE error type.
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(self, detail: str | None = None, **context: Any) -> None:
        self.detail = detail or self.title
        #: Extra members for the problem document (e.g. ``retry_after``).
        self.context = context
        super().__init__(self.detail)


class ClientError(RillError):
    status = 400
    code = "invalid_request_error"
    title = "Bad request"


class InvalidInput(ClientError):
    status = 422
    code = "invalid_request_error"
    title = "Invalid input"


class Unauthorized(ClientError):
    status = 401
    code = "authentication_error"
    title = "Unauthorized"


class Forbidden(ClientError):
    status = 403
    code = "permission_error"
    title = "Forbidden"


class NotFound(ClientError):
    status = 404
    code = "not_found_error"
    title = "Not found"


class MethodNotAllowed(ClientError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"


class Conflict(ClientError):
    status = 409
    code = "conflict_error"
    title = "Conflict"


class RequestTimeout(ClientError):
    status = 408
    code = "request_timeout"
    title = "Request timeout"


class PayloadTooLarge(ClientError):
    status = 413
    code = "request_too_large"
    title = "Payload too large"


class TooManyRequests(ClientError):
    status = 429
    code = "rate_limit_error"
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: float = 1.0, **ctx: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **ctx)
        self.retry_after = retry_after


class UpstreamError(RillError):
    status = 502
    code = "api_error"
    title = "Model provider error"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "timeout_error"
    title = "Model provider timed out"


class UpstreamUnavailable(UpstreamError):
    status = 503
    code = "overloaded_error"
    title = "Model provider unavailable"


class StorageError(RillError):
    status = 503
    code = "storage_error"
    title = "Storage unavailable"


class BrokerError(RillError):
    status = 503
    code = "broker_error"
    title = "Broker unavailable"


class ServiceUnavailable(RillError):
    status = 503
    code = "overloaded_error"
    title = "Service unavailable"
