"""Every error leaves Rill as RFC 9457 problem+json, mapped here and only here."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from rill.errors import RillError, TooManyRequests, Unauthorized

log = logging.getLogger("rill.http")
PROBLEM_BASE = "https://rill.dev/problems/"
_HTTP_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    408: "Request timeout",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
}


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = {
        "type": PROBLEM_BASE + (code or title.lower().replace(" ", "_")),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def problem_bytes(status: int, detail: str, code: str) -> bytes:
    """For raw ASGI paths that answer before FastAPI is involved."""
    title = _HTTP_TITLES.get(status, "Error")
    return orjson.dumps(
        {"type": PROBLEM_BASE + code, "title": title, "status": status, "detail": detail}
    )


def from_error(exc: RillError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="rill"'
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    extra = {k: v for k, v in exc.context.items() if k != "retry_after"}
    return problem_response(
        exc.status, exc.title, exc.detail, code=exc.code, headers=headers or None, **extra
    )


def answer(exc: RillError) -> Response:
    """The response for a ``RillError`` a handler raised (server-side ones are logged)."""
    if exc.status >= 500:
        log.warning("request failed", extra={"event": "request_failed", "error": exc.code})
    return from_error(exc)


def install(app: FastAPI) -> None:
    async def rill_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RillError)
        return answer(exc)

    async def validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(400, "Bad request", "the request body is not valid JSON",
                                    code="invalid_json")
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors) or "invalid input"
        return problem_response(422, "Invalid input", detail, code="invalid_request_error",
                                errors=errors)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        title = _HTTP_TITLES.get(exc.status_code, "Error")
        return problem_response(
            exc.status_code, title, str(exc.detail), code=title.lower().replace(" ", "_"),
            headers=dict(exc.headers) if exc.headers else None,
        )

    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"event": "unhandled_error"})
        # Why close: Starlette re-raises after this response and the server then drops
        # the connection; saying so lets the client open a new one instead of failing
        # its next request on this one (issue 13).
        return problem_response(500, "Internal error", "an unexpected error occurred",
                                code="internal_error", headers={"Connection": "close"})

    app.add_exception_handler(RillError, rill_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
