"""A fake OpenAI-compatible Chat Completions server that streams as fast as asked.

The requested ``model`` says what to stream: ``fake:<tokens>:<pace_ms>[:<gate>]``. Every
token's text is ``@T<microseconds> ``, the ``time.monotonic()`` at which the
server wrote it, so a client can tell how long each token took to reach it
(CLOCK_MONOTONIC is one clock for every process on the machine). With pace 0
all tokens are written at once, as fast as the socket takes them. With a gate
``N``, no stream starts until ``N`` requests for that gate have arrived, then all
start together: "N turns in flight at once", whatever their start-up costs.
Connections are kept alive unless the client says ``Connection: close``, as a
real provider's are: the SDKs reuse theirs, the benchmark's own client does not.

Raw uvloop protocol on purpose: the fake must cost much less than the server
it feeds. Run as ``python -m bench.anchors.fake_openai PORT``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import cast

import orjson
import uvloop

_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
         b"Cache-Control: no-cache\r\nConnection: close\r\n\r\n")
#: The head when the client keeps the connection (HTTP/1.1's default, as the SDKs do):
#: the stream is chunked, so its end is visible without closing the connection.
_KEEP_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
              b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
_CHUNK_A = (b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,'
            b'"model":"fake","choices":[{"index":0,"delta":{"content":"@T')
_CHUNK_B = b' "},"finish_reason":null}]}\n\n'
_END = (b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,'
        b'"model":"fake","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,'
        b'"model":"fake","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":%d,'
        b'"total_tokens":%d}}\n\ndata: [DONE]\n\n')
_BATCH = 64
#: Gate size → (requests waiting, the event that starts them).
_GATES: dict[int, tuple[list[int], asyncio.Event]] = {}


def _now_us() -> bytes:
    return str(int(time.monotonic() * 1_000_000)).encode()


class Completion(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.can_write: asyncio.Event = asyncio.Event()
        self.can_write.set()
        self.task: asyncio.Task[None] | None = None
        #: The client asked to close after this response (``Connection: close``).
        self.closing = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport; they behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head, sep, body = self.buffer.partition(b"\r\n\r\n")
        if not sep or self.task is not None:
            return
        length = 0
        self.closing = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                self.closing = True
        if len(body) < length:
            return
        self.buffer = body[length:]
        model = str(orjson.loads(body[:length]).get("model", "fake:100:0"))
        fields = model.split(":")[1:]
        tokens, pace, gate = fields + ["100", "0", "0"][len(fields):]
        self.task = asyncio.ensure_future(
            self.stream(int(tokens), float(pace) / 1000, int(gate)))

    def pause_writing(self) -> None:
        self.can_write.clear()

    def resume_writing(self) -> None:
        self.can_write.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.can_write.set()
        if self.task is not None:
            self.task.cancel()

    async def stream(self, tokens: int, pace: float, gate: int = 0) -> None:
        transport = self.transport
        assert transport is not None
        if gate:
            await _gate(gate)
        keep = not self.closing
        transport.write(_KEEP_HEAD if keep else _HEAD)
        frame = _chunked if keep else _plain
        sent = 0
        while sent < tokens and not transport.is_closing():
            step = 1 if pace else min(_BATCH, tokens - sent)
            transport.write(frame(b"".join(_CHUNK_A + _now_us() + _CHUNK_B for _ in range(step))))
            sent += step
            if pace:
                await asyncio.sleep(pace)
            elif not self.can_write.is_set():
                await self.can_write.wait()
            else:
                await asyncio.sleep(0)
        transport.write(frame(_END % (sent, sent + 5)))
        if not keep:
            transport.close()
            return
        transport.write(b"0\r\n\r\n")
        self.task = None
        if self.buffer:  # the next request arrived while this one streamed
            self.data_received(b"")


def _plain(data: bytes) -> bytes:
    return data


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _gate(size: int) -> None:
    """Wait until ``size`` requests reached this gate; the last one opens it for all."""
    waiting, opened = _GATES.setdefault(size, ([0], asyncio.Event()))
    waiting[0] += 1
    if waiting[0] >= size:
        del _GATES[size]
        opened.set()
    await opened.wait()


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Completion, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1])))
