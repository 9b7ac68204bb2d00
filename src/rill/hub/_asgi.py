"""Small raw-ASGI helpers: read a request, answer with a body or a problem.

The hub is raw ASGI for speed on the subscribe path; these are the few pieces
of a framework it needs, nothing more.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl

import orjson

from rill.errors import PayloadTooLarge, RillError
from rill.hub.limits import BadRequest
from rill.problems import CONTENT_TYPE, error_bytes, error_headers

PROBLEM_TYPE = CONTENT_TYPE.encode()

# Any: ASGI messages and scopes are untyped dicts at this boundary.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Reply:
    """The answering side of one hub request: a ``send`` that adds the request's
    CORS headers to the response head and notes its status (for the access log).

    A subscription keeps the server's own ``send`` (``raw``) for its stream, so
    that each body message skips a wrapper, and for its transport's ``abort``
    (``subscribe._aborter``); it adds ``cors`` and sets ``status`` itself.
    """

    __slots__ = ("raw", "cors", "status")

    def __init__(self, raw: Send, cors: Sequence[tuple[bytes, bytes]]) -> None:
        self.raw = raw
        self.cors = cors
        #: The response status once sent (0 before: the log shows ``-``).
        self.status = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            if self.cors:
                message["headers"] = [*message.get("headers", ()), *self.cors]
        await self.raw(message)


def header_map(scope: Scope) -> dict[bytes, bytes]:
    """Lower-cased header names; a repeated header keeps its first value."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope.get("headers", ()):
        headers.setdefault(name.lower(), value)
    return headers


def cookies(headers: dict[bytes, bytes]) -> dict[str, str]:
    raw = headers.get(b"cookie")
    if not raw:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def parse_form(raw: bytes, max_fields: int) -> list[tuple[str, str]]:
    """``application/x-www-form-urlencoded`` and query strings; UTF-8 strictly."""
    try:
        text = raw.decode("ascii")
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=max_fields,
        )
    except UnicodeDecodeError:
        raise BadRequest("the request must be valid UTF-8 (percent-encoded)") from None
    except ValueError:
        raise BadRequest(f"too many fields (at most {max_fields})") from None


def query(scope: Scope, max_fields: int) -> list[tuple[str, str]]:
    return parse_form(scope.get("query_string", b""), max_fields)


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest("the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    headers: Sequence[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def respond_json(
    send: Send,
    status: int,
    document: object,
    content_type: bytes = b"application/json",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await respond(send, status, orjson.dumps(document), content_type, headers)


async def respond_problem(
    send: Send, error: RillError, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """RFC 9457 problem details, from a ``RillError`` (built by ``rill.problems``)."""
    common = [(k.lower().encode(), v.encode()) for k, v in error_headers(error)]
    await respond(send, error.status, error_bytes(error), PROBLEM_TYPE, [*common, *(headers or [])])
