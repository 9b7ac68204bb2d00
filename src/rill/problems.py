"""RFC 9457 problem documents: the one builder, below every layer that answers HTTP.

The API (``http/problems.py``, FastAPI responses), the hub (raw ASGI) and the
server protocol (``http/protocol.py``, answers written before any ASGI app runs)
all serialise their errors here, so the ``type`` URIs, titles and the
``Retry-After`` rule cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import orjson

from rill.errors import RillError, TooManyRequests

PROBLEM_BASE = "https://rill.dev/problems/"
CONTENT_TYPE = "application/problem+json"
#: Titles for statuses answered without a ``RillError`` (the framework's own errors).
HTTP_TITLES = {
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
    431: "Request header fields too large",
}


def title_for(status: int) -> str:
    return HTTP_TITLES.get(status, "Error")


def code_for(title: str) -> str:
    """The slug of a title, for statuses without a ``RillError`` class of their own."""
    return title.lower().replace(" ", "_")


def problem_bytes(
    status: int, detail: str, code: str | None = None, title: str | None = None, **extra: Any
) -> bytes:
    """A problem document; ``extra`` members are added as they are (Any: JSON values)."""
    title = title or title_for(status)
    return orjson.dumps({
        "type": PROBLEM_BASE + (code or code_for(title)),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    })


def error_bytes(error: RillError) -> bytes:
    """The problem document for a ``RillError`` (its context becomes extra members)."""
    extra = {k: v for k, v in error.context.items() if k != "retry_after"}
    return problem_bytes(error.status, error.detail, error.code, error.title, **extra)


def error_headers(error: RillError) -> list[tuple[str, str]]:
    """Headers every answer to ``error`` carries, whoever sends it."""
    if isinstance(error, TooManyRequests):
        return [("Retry-After", str(max(1, round(error.retry_after))))]
    return []
