"""Access log without query strings: they may carry tokens (the hub's ``authorization``)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("rill.access")

#: Scope key holding the server's own ``send``, from outside every middleware.
#: Why: a chat stream writes one body message per token batch, and passing each
#: through the middleware wrappers cost ~29% of the relay's CPU (py-spy, see
#: docs/performance.md). Middlewares here only look at ``http.response.start``,
#: so streams send that through the stack and their body straight to the server.
RAW_SEND = "rill.raw_send"


def log_request(method: str, path: str, status: int, started: float) -> None:
    """One access-log line; ``path`` without its query, ``started`` from ``perf_counter``.

    Shared with the hub, which is served outside this middleware (http/app.py).
    """
    log.info(
        "%s %s %s %.1fms", method, path, status or "-", (time.perf_counter() - started) * 1000,
        extra={"event": "request", "status": status, "path": path},
    )


class AccessLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        scope[RAW_SEND] = send

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            log_request(scope["method"], scope["path"], status, started)
