"""Every API error leaves Rill as RFC 9457 problem+json: FastAPI's handlers, mapped here.

The documents themselves are built by ``rill.problems``, shared with the hub.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from rill.errors import RillError, Unauthorized
from rill.problems import (
    CONTENT_TYPE,
    code_for,
    error_bytes,
    error_headers,
    problem_bytes,
    title_for,
)

log = logging.getLogger("rill.http")


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    return Response(
        problem_bytes(status, detail, code, title, **extra),
        status_code=status,
        media_type=CONTENT_TYPE,
        headers=headers,
    )


def from_error(exc: RillError) -> Response:
    headers = dict(error_headers(exc))
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="rill"'
    return Response(error_bytes(exc), status_code=exc.status, media_type=CONTENT_TYPE,
                    headers=headers or None)


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
        title = title_for(exc.status_code)
        return problem_response(
            exc.status_code, title, str(exc.detail), code=code_for(title),
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
