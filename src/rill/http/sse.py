"""An ASGI ``text/event-stream`` response for chat streams.

The body is a stream of already-encoded event bytes (encoded once by the
producer, shared by every reader). The request task writes them; a small
watcher task ends the response when the client goes away (uvicorn's ``send``
silently drops writes after a disconnect, so only ``receive`` tells us); the
shared ``Heartbeat`` pings the stream while it is idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, cast

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from rill import metrics
from rill.access_log import RAW_SEND
from rill.http.heartbeat import Abort, Heartbeat, Transport
from rill.sse.encoder import retry_line

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
    "Connection": "keep-alive",
}


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        *,
        heartbeat: Heartbeat,
        retry_ms: int | None = None,
        headers: dict[str, str] | None = None,
        ping: bytes | None = None,
    ) -> None:
        # Why not Response.__init__: it would add ``content-length: 0`` for the empty body.
        self.status_code = 200
        self.background = None
        self.raw_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1"))
            for k, v in {**SSE_HEADERS, **(headers or {}),
                         "Content-Type": "text/event-stream; charset=utf-8"}.items()
        ]
        self._chunks = chunks
        self._heartbeat = heartbeat
        self._retry_ms = retry_ms
        #: What an idle stream is pinged with, when not the heartbeat's own payload
        #: (a protocol whose clients choke on Rill's ``ping`` event gets a comment).
        self._ping = ping

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The start goes through the middleware stack (access log status, CORS
        # headers); the body goes straight to the server (access_log.RAW_SEND).
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})
        send = scope.get(RAW_SEND, send)

        async def write(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        task = asyncio.current_task()
        transport = _transport(send)
        beat = self._heartbeat.register(write, _aborter(transport, task), self._ping)
        metrics.CHAT_STREAMS.inc()
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()
            if task is not None:
                task.cancel()

        watcher = asyncio.create_task(watch())
        try:
            # Why with the first event, not alone: a bare ``retry:`` block is an empty
            # event to httpx-sse and the Anthropic SDK's decoder (issue 16); a field
            # line in front of an event's own lines sets the delay all the same.
            retry = b"" if self._retry_ms is None else retry_line(self._retry_ms)
            async for chunk in self._chunks:
                # Why the stamp before the write: a write still under way after
                # ``write_timeout`` means the client stopped reading (heartbeat.py).
                beat.last_write = time.monotonic()
                beat.sending = True
                await write(retry + chunk if retry else chunk)
                retry = b""
                beat.sending = False
            beat.last_write = time.monotonic()
            beat.sending = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not gone.is_set():
                raise
            if task is not None:
                task.uncancel()
        finally:
            self._heartbeat.unregister(beat)
            self._heartbeat.ended(transport)
            metrics.CHAT_STREAMS.dec()
            watcher.cancel()
            aclose = getattr(self._chunks, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()



def _transport(send: Send) -> Transport | None:
    """The client's socket, when the server exposes it (uvicorn: ``send`` is a bound
    method of its request cycle, which holds the transport)."""
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if callable(getattr(transport, "abort", None)) and callable(
        getattr(transport, "get_write_buffer_size", None)
    ):
        return cast(Transport, transport)
    return None


def _aborter(transport: Transport | None, task: asyncio.Task[Any] | None) -> Abort:
    """Drops the connection at once. Why abort, not close: ``close`` waits for the
    queued bytes to drain, which for a client that does not read is never. With a
    server that hides its transport, the stream's task is cancelled instead."""
    if transport is not None:
        return transport.abort
    return (lambda: None) if task is None else (lambda: None if task.cancel() else None)
