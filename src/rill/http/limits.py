"""Request bodies: bounded in size and in time, before any handler parses them.

Raw ASGI so an oversized or trickling body never reaches JSON parsing: the
body is read here up to the limit (64 KiB by default) and replayed to the app.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rill.problems import CONTENT_TYPE, problem_bytes


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _reject(send, 413, f"request body is larger than {self.max_bytes} bytes",
                          "request_too_large")
            return
        body = bytearray()
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    body += message.get("body", b"")
                    if len(body) > self.max_bytes:
                        await _reject(send, 413,
                                      f"request body is larger than {self.max_bytes} bytes",
                                      "request_too_large")
                        return
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await _reject(send, 408, "the request body arrived too slowly", "request_timeout")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reject(send: Send, status: int, detail: str, code: str) -> None:
    body = problem_bytes(status, detail, code)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": body})
