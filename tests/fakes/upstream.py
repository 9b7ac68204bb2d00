"""A scriptable HTTP/1.1 server on 127.0.0.1 for provider tests.

Each request gets a ``Reply``: a status, headers and a body made of steps. Bytes are
sent as HTTP chunks; ``Pause`` waits; ``Cut`` aborts the TCP connection mid-body;
``Stall`` sends nothing more until the client goes away. The server records every
request and when each client closed its connection, so tests can check that a
cancelled provider really hung up.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Cut:
    """Abort the connection without finishing the body."""


@dataclass(frozen=True)
class Stall:
    """Send nothing more; keep the connection open until the client leaves."""


Step = bytes | Pause | Cut | Stall


@dataclass
class Reply:
    status: int = 200
    body: Sequence[Step] = ()
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: object, **headers: str) -> Reply:
        return cls(
            status, [json.dumps(payload).encode()], {"content-type": "application/json", **headers}
        )

    @classmethod
    def sse(cls, body: Sequence[Step]) -> Reply:
        return cls(200, body, {"content-type": "text/event-stream", "cache-control": "no-cache"})


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Connection:
    opened_at: float
    closed_by_client_at: float | None = None
    body_finished: bool = False


class FakeUpstream:
    """``async with FakeUpstream(script) as server:`` then point a client at ``server.url``."""

    def __init__(self, script: Callable[[Request], Reply] | Reply | Sequence[Reply]) -> None:
        self._script = script
        self._served = 0
        self.requests: list[Request] = []
        self.connections: list[Connection] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.url = ""

    async def __aenter__(self) -> FakeUpstream:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        # Why: closing the transports ends each handler through EOF; cancelling the
        # handler tasks instead makes asyncio log the cancellation as an error.
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        await self._server.wait_closed()

    def _reply_for(self, request: Request) -> Reply:
        script = self._script
        if isinstance(script, Reply):
            return script
        if callable(script):
            return script(request)
        reply = script[min(self._served, len(script) - 1)]
        self._served += 1
        return reply

    async def wait_client_closed(self, index: int = -1, within: float = 2.0) -> float:
        """Wait until the client closed connection ``index``; return the loop time it did."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if self.connections and (closed := self.connections[index].closed_by_client_at):
                return closed
            await asyncio.sleep(0.005)
        raise AssertionError("the client did not close its upstream connection")

    async def wait_streaming(self, count: int = 1, within: float = 2.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while len(self.connections) < count:
            if loop.time() > deadline:
                raise AssertionError("no request reached the fake upstream")
            await asyncio.sleep(0.005)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        request = await _read_request(reader)
        if request is None:
            return False
        self.requests.append(request)
        reply = self._reply_for(request)
        connection = Connection(asyncio.get_running_loop().time())
        self.connections.append(connection)
        head = [
            f"HTTP/1.1 {reply.status} Fake",
            "transfer-encoding: chunked",
            # Why close: the hang-up watch below reads ahead on the connection, which
            # would eat the first byte of a request that a keep-alive client sends next.
            "connection: close",
        ]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        # Why: a read that returns b"" (or fails) is how a server learns the client hung up.
        gone = asyncio.ensure_future(reader.read(1))
        gone.add_done_callback(lambda f: _record_close(f, connection))
        try:
            if await self._send_body(reply.body, writer, gone):
                writer.write(b"0\r\n\r\n")
                await writer.drain()
                connection.body_finished = True
                return False
            await asyncio.wait([gone])
            return False
        finally:
            gone.cancel()

    async def _send_body(
        self, steps: Sequence[Step], writer: asyncio.StreamWriter, gone: asyncio.Future[bytes]
    ) -> bool:
        """Send the body; True if it was sent whole, False if the client left or it was cut."""
        for step in steps:
            if gone.done():
                return False
            if isinstance(step, bytes):
                writer.write(b"%x\r\n%s\r\n" % (len(step), step))
                await writer.drain()
            elif isinstance(step, Pause):
                await asyncio.wait([gone], timeout=step.seconds)
            elif isinstance(step, Cut):
                writer.transport.abort()
                raise ConnectionError("cut by the script")
            elif isinstance(step, Stall):
                return False
        return not gone.done()


def _record_close(read: asyncio.Future[bytes], connection: Connection) -> None:
    if read.cancelled():
        return
    read.exception()  # retrieved, so asyncio does not log it as unhandled
    connection.closed_by_client_at = asyncio.get_running_loop().time()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Request(method, path, headers, body)
