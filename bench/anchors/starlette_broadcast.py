"""Anchor: the broadcast server a Python user writes today with sse-starlette.

One ``asyncio.Queue`` per subscriber; the publish endpoint puts the update in
every queue. Run as ``python -m bench.anchors.starlette_broadcast PORT``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import uvicorn
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

subscribers: set[asyncio.Queue[str]] = set()


async def events(request: Request) -> EventSourceResponse:
    queue: asyncio.Queue[str] = asyncio.Queue()
    subscribers.add(queue)

    async def stream() -> AsyncIterator[dict[str, str]]:
        try:
            while True:
                yield {"data": await queue.get()}
        finally:
            subscribers.discard(queue)

    return EventSourceResponse(stream())


async def publish(request: Request) -> PlainTextResponse:
    data = (await request.body()).decode()
    for queue in subscribers:
        queue.put_nowait(data)
    return PlainTextResponse(str(len(subscribers)))


app = Starlette(routes=[Route("/events", events), Route("/publish", publish, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                access_log=False, loop="uvloop", http="httptools")
