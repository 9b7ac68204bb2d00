"""Hub subscriptions served by uvicorn's HTTP/1.1 protocol itself: no task per subscriber.

Why: idle memory per subscriber is a target (≤ 8 KiB, issue 6; docs/performance.md,
"Idle memory"). Served through ASGI, every open subscription keeps a request task
with five suspended coroutine frames, uvicorn's request cycle (scope, headers, an
``asyncio.Event``) and its httptools parser: most of the 10.9 KiB measured per
subscriber. Here a ``GET /.well-known/mercure`` is set up by a short-lived task
(the same validation, authorisation and replay position as the ASGI path,
``subscribe.open_subscription``), the response head is written to the transport
as uvicorn's ``send`` would write it, the per-request state is dropped, and the
task ends. What stays is this protocol object, its transport and the hub's
``Connection``.

Who writes afterwards, and when the stream ends:

- live updates and heartbeats: the fan-out's ``flush`` (``fanout.py``, direct mode);
- a replay (``Last-Event-ID``): ``_pump``, one bounded chunk per loop iteration;
- a paused socket: nothing until the transport calls ``resume_writing``, which
  writes what piled up. Meanwhile the fan-out drops the connection once that
  passes ``hub.max_buffer_bytes``, and the heartbeat tick once it has been paused
  for ``hub.write_timeout_seconds``, as for an ASGI writer;
- dropped by the hub (slow, stalled, token expired, replay window lost, shutdown):
  ``dropped`` writes the terminating chunk and closes the connection (aborts it
  if its socket is full); the peer going away: ``connection_lost``. A keep-alive
  or pipelined connection is closed when its stream ends.

Everything else takes uvicorn's ordinary ASGI path: other paths and methods,
HTTP/1.0, an app wrapped in middleware of its own, a server at its concurrency
limit, and setup errors (the ASGI path answers them, so problem+json and
RFC 6750 challenges stay exactly as before; nothing was registered). HTTP/2
under granian never sees this class. The uvicorn internals used here are private
API: ``SUPPORTED`` checks them, and the uvicorn release (``TESTED_UVICORN``), once;
without them every request takes the ASGI path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import uvicorn
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from rill.access_log import log_request
from rill.hub._asgi import Scope
from rill.hub.cors import Header
from rill.hub.fanout import Connection, chunk
from rill.hub.hub import HUB_PATH, Hub
from rill.hub.subscribe import open_subscription, replay_chunk, stream_headers
from rill.sse.encoder import retry_field

if TYPE_CHECKING:
    from uvicorn._types import ASGI3Application
    from uvicorn.config import Config
    from uvicorn.server import ServerState

log = logging.getLogger("rill.hub")

_PATHS = (HUB_PATH, HUB_PATH + "/")
_END = b"0\r\n\r\n"
_STATUS_LINE: dict[int, bytes] | None = getattr(httptools_impl, "STATUS_LINE", None)
_HEADER_VALUE_RE = getattr(httptools_impl, "HEADER_VALUE_RE", None)
#: The uvicorn releases this module is tested with, ``[first, end)``: it subclasses
#: private classes, which any other release may change. pyproject.toml caps uvicorn
#: at the same end; older releases (down to its floor) serve through the ASGI path.
TESTED_UVICORN = ((0, 55), (0, 56))


def _tested(version: str) -> bool:
    try:
        release = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        return False
    return TESTED_UVICORN[0] <= release < TESTED_UVICORN[1]


#: Whether subscriptions may be served here; if not, every request takes the ASGI path.
SUPPORTED = (
    _tested(uvicorn.__version__)
    and callable(getattr(HttpToolsProtocol, "_start_asgi_task", None))
    and callable(getattr(RequestResponseCycle, "run_asgi", None))
    and isinstance(_STATUS_LINE, dict)
    and _HEADER_VALUE_RE is not None
)


def log_support() -> None:
    """Say so in the log when subscriptions take the ASGI path for want of a tested uvicorn."""
    if not SUPPORTED:
        log.warning(
            "uvicorn %s is not a release hub/direct.py is tested with: hub subscriptions "
            "are served through ASGI (a writer task each)",
            uvicorn.__version__,
            extra={"event": "hub.direct_off"},
        )


class _StreamFlow:
    """uvicorn's ``FlowControl`` for a stream: the same flags, without its ``asyncio.Event``.

    Why: nothing awaits a drain here (``resume_writing`` is the signal), and the
    event with its deque was ~900 bytes per subscriber.
    """

    __slots__ = ("_transport", "read_paused", "write_paused")

    def __init__(self, transport: asyncio.Transport, write_paused: bool) -> None:
        self._transport = transport
        self.read_paused = False
        self.write_paused = write_paused

    def pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self._transport.resume_reading()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False


class HubStreamProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, serving hub subscriptions without a request task."""

    # Why slots: the instance dict of uvicorn's ~28 attributes shares its keys
    # between instances; two more keys there pushed it past CPython's limit for
    # shared keys (30), and every connection then had a 1.5 KB dict of its own.
    __slots__ = ("_stream", "_hub", "_path", "_started")

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],  # Any: the ASGI lifespan state, opaque here
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._stream: Connection | None = None
        self._hub: Hub | None = None
        #: For the access-log line written when the stream ends: one of ``_PATHS``
        #: (not the request's own string, so it holds no memory) and its start.
        self._path = HUB_PATH
        self._started = 0.0

    # -- choosing the path -------------------------------------------------

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        hub = self._hub_for(cycle, app)
        if hub is None:
            super()._start_asgi_task(cycle, app)
            return
        task = self.loop.create_task(self._open_stream(hub, cycle, app))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    def _hub_for(self, cycle: RequestResponseCycle, app: ASGI3Application) -> Hub | None:
        scope = cycle.scope
        if (
            not SUPPORTED
            or scope["method"] != "GET"
            or scope["path"] not in _PATHS
            or scope["http_version"] != "1.1"
            or app is not self.app  # uvicorn's 503 app: over its concurrency limit
            or getattr(self.config, "reset_contextvars", False)
        ):
            return None
        hub = self.served_hub()
        return None if hub is None or hub.closing else hub

    def served_hub(self) -> Hub | None:
        """The hub the app routes ``GET /.well-known/mercure`` to, with nothing in between.

        Only the server knows its app: ``rill serve``'s protocol (http/protocol.py)
        says; here, knowing none, every request takes the ASGI path.
        """
        return None

    # -- setup: the one short-lived task -----------------------------------

    async def _open_stream(
        self, hub: Hub, cycle: RequestResponseCycle, app: ASGI3Application
    ) -> None:
        started = time.perf_counter()
        # cast: uvicorn's TypedDict scope is the ASGI scope the hub reads.
        scope = cast(Scope, cycle.scope)
        hub.enter()
        try:
            conn, last_event_id = await open_subscription(hub, scope)
        except Exception:
            # Nothing was registered: the ASGI path answers the same request
            # exactly as it always has (problem+json, WWW-Authenticate, 500).
            hub.leave()
            await cycle.run_asgi(app)
            return
        except BaseException:
            hub.leave()
            raise
        head = self._head(cycle, last_event_id, hub.cors.headers_for(scope))
        if head is None or cycle.disconnected or self.transport.is_closing():
            # Gone during setup, or an id uvicorn would refuse as a header value
            # (it would close the connection without a response).
            hub.registry.remove(conn)
            hub.leave()
            if head is None:
                self.transport.close()
            log_request("GET", scope["path"], 0, started)
            return
        self._path = _PATHS[_PATHS.index(scope["path"])]
        self._started = started
        self._start_stream(hub, conn, head)
        if hub.settings.hub.subscriptions:
            await hub.announce(conn, active=True)
        self._pump()

    def _head(
        self, cycle: RequestResponseCycle, last_event_id: str | None, cors: Sequence[Header]
    ) -> bytes | None:
        """Status line and headers as uvicorn's ``send`` writes them for this response."""
        assert _STATUS_LINE is not None and _HEADER_VALUE_RE is not None
        parts = [_STATUS_LINE[200]]
        headers = stream_headers(last_event_id, cors)
        for name, value in [*self.server_state.default_headers, *headers]:
            if _HEADER_VALUE_RE.search(value):
                return None
            parts += (name.lower(), b": ", value, b"\r\n")
        if not cycle.keep_alive:
            parts.append(b"connection: close\r\n")
        parts.append(b"transfer-encoding: chunked\r\n\r\n")
        return b"".join(parts)

    def _start_stream(self, hub: Hub, conn: Connection, head: bytes) -> None:
        """Write the head and the retry field, hand the socket to the fan-out (no await)."""
        hub.stream_started()
        self.transport.write(head + chunk(retry_field(hub.settings.retry_ms)))
        self.flow.resume_reading()  # paused by a pipelined request: still see the peer's EOF
        # Both ignores: uvicorn's types; nothing reads these as deque/FlowControl
        # once the parser is gone (no new request, no drain is ever awaited).
        self.flow = _StreamFlow(self.transport, self.flow.write_paused)  # type: ignore[assignment]
        self.pipeline = None  # type: ignore[assignment]
        if self.flow.write_paused:  # the fan-out leaves a full socket to ``resume_writing``
            conn.blocked_since = time.monotonic()
        conn.transport = self.transport
        conn.owner = self
        self._stream = conn
        self._hub = hub
        # Why: the request is answered for good; what it held is per-subscriber
        # memory for the life of the stream. Later bytes are ignored (data_received).
        self.cycle = None  # type: ignore[assignment]
        self.scope = None  # type: ignore[assignment]
        self.headers = None  # type: ignore[assignment]
        self.parser = None  # type: ignore[assignment]
        self.url = b""
        if hub.closing:  # closed while this one was being set up
            hub.registry.drop(conn, "shutdown")

    # -- the stream, driven by callbacks -----------------------------------

    def _pump(self) -> None:
        """Write what the stream owes while the socket takes it: replay, then pending."""
        conn, hub = self._stream, self._hub
        if conn is None or hub is None or conn.closed is not None or self.flow.write_paused:
            return
        if conn.cursor is not None:
            data = replay_chunk(hub, conn)  # may drop the connection ("lost")
            if conn.closed is not None:
                return
            if data:
                self.transport.write(chunk(data))
                conn.wrote = True
            # One chunk per loop iteration, so a long replay does not hold the loop.
            self.loop.call_soon(self._pump)
            return
        pending = conn.take()
        if pending:
            self.transport.write(pending)
            conn.wrote = True

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._stream is not None:
            # The hub's stall check and ``flush`` read this as "the writer is stuck".
            self._stream.blocked_since = time.monotonic()

    def resume_writing(self) -> None:
        super().resume_writing()
        conn = self._stream
        if conn is not None:
            conn.blocked_since = 0.0
            self._pump()

    def dropped(self) -> None:
        """The hub ended the stream (``fanout.StreamOwner``): end the response, close."""
        conn, hub = self._stream, self._hub
        if conn is None or hub is None:
            return
        self._stream = None
        self._hub = None
        transport = self.transport
        if not transport.is_closing():
            if conn.blocked_since or self.flow.write_paused:
                transport.abort()  # its socket is full: a clean end would wait for ever
            else:
                transport.write(_END)
                transport.close()
        hub.stream_ended(conn)
        # Why at the end: as the ASGI path (and chat streams), the line says how long it lasted.
        log_request("GET", self._path, 200, self._started)
        if hub.settings.hub.subscriptions:
            task = self.loop.create_task(self._announce_end(hub, conn))
            task.add_done_callback(self.tasks.discard)
            self.tasks.add(task)
        else:
            hub.leave()

    @staticmethod
    async def _announce_end(hub: Hub, conn: Connection) -> None:
        try:
            await hub.announce(conn, active=False)
        finally:
            hub.leave()

    # -- uvicorn's connection callbacks ------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.parser is not None:  # None once the request became a stream
            super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        conn, hub = self._stream, self._hub
        if conn is not None and hub is not None:
            hub.registry.drop(conn, "gone")  # calls ``dropped``

    def shutdown(self) -> None:
        conn, hub = self._stream, self._hub
        if conn is not None and hub is not None:
            hub.registry.drop(conn, "shutdown")
        else:
            super().shutdown()
