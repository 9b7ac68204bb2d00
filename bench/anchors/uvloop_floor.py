"""Anchor: the Python floor, a bare uvloop protocol writing straight to sockets.

No framework, no HTTP parser beyond splitting the request line: it shows what
the interpreter and the event loop cost by themselves. ``GET`` subscribes (the
response has no length: the body runs until close); ``POST`` frames its body as
one SSE event once and writes the same bytes to every subscriber.
Run as ``python -m bench.anchors.uvloop_floor PORT``.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

import uvloop

_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
         b"Cache-Control: no-cache\r\n\r\n")
_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
subscribers: set[asyncio.Transport] = set()


class Handler(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head, sep, body = self.buffer.partition(b"\r\n\r\n")
        if not sep or self.transport is None:
            return
        if head.startswith(b"GET"):
            self.transport.write(_HEAD)
            subscribers.add(self.transport)
            return
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(body) < length:
            return
        event = b"data: " + body[:length] + b"\n\n"
        for transport in subscribers:
            transport.write(event)
        self.transport.write(_OK)
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            subscribers.discard(self.transport)


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Handler, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
