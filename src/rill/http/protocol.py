"""The HTTP/1.1 protocol ``rill serve`` runs: uvicorn's httptools protocol with the hub's
direct streams (``hub/direct.py``), plus bounds on request heads.

Why bounds here: httptools has no limit of its own, and uvicorn none on time.
A head (request line and headers) is refused with 431 once it passes
``max_header_bytes``, and with 408 when it is not complete within
``header_timeout_seconds`` of the connection opening or of the request's first
byte; either way the connection is closed. Both are answered before any ASGI
app runs, so the API and the hub are covered alike. Measured before this:
150 connections trickling a byte every 2 s stayed open for ever, and 20
unterminated 4 MiB headers were buffered whole (+80 MiB RSS) by the parser.

Cost: one ``call_later`` per request (cancelled when the head is complete) and
a length sum per ``data_received`` while a head is arriving; the bounds are
checked as data arrives, so an unterminated header costs at most one read past
the limit.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from uvicorn.middleware.message_logger import MessageLoggerMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.httptools_impl import RequestResponseCycle

from rill.config import Settings
from rill.http.app import RillApp, repeats_authorization
from rill.hub import Hub
from rill.hub.direct import HubStreamProtocol
from rill.problems import CONTENT_TYPE, problem_bytes, title_for

if TYPE_CHECKING:
    from uvicorn._types import ASGI3Application

#: Bytes a head may take beyond its fields: the request line's and each line's framing.
_LINE_OVERHEAD = 4
#: uvicorn's own wrappers around the app: they only touch the scope's client and scheme,
#: which a successful subscription does not read. Any other wrapper hides the app.
_TRANSPARENT = (ProxyHeadersMiddleware, MessageLoggerMiddleware)


class ServerProtocol(HubStreamProtocol):
    """uvicorn's httptools protocol, hub streams included, with bounded request heads."""

    # Why slots: see HubStreamProtocol (uvicorn's attribute dict must stay shared-key).
    __slots__ = ("_head_bytes", "_head_timer", "_refused")

    #: The bounds, read once per process from the served app's settings (the class,
    #: not an instance, is what uvicorn hands to worker processes).
    _bounds: tuple[int, float] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # Any: uvicorn's own signature
        super().__init__(*args, **kwargs)
        #: Bytes received since the current head began; -1 while no head is arriving.
        self._head_bytes = -1
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False

    @property
    def max_header_bytes(self) -> int:
        return self._read_bounds()[0]

    def _rill_app(self) -> RillApp | None:
        """The Rill app this server runs, unless a wrapper of the operator's hides it."""
        app: object = self.app
        while isinstance(app, _TRANSPARENT):
            app = app.app
        return app if isinstance(app, RillApp) else None

    def served_hub(self) -> Hub | None:
        app = self._rill_app()
        services = getattr(app.state, "services", None) if app is not None else None
        hub = getattr(services, "hub", None)
        return hub if isinstance(hub, Hub) else None

    def _read_bounds(self) -> tuple[int, float]:
        bounds = ServerProtocol._bounds
        if bounds is None:
            app = self._rill_app()
            settings = app.settings if app is not None else Settings()
            bounds = (settings.max_header_bytes, settings.header_timeout_seconds)
            ServerProtocol._bounds = bounds
        return bounds

    # -- the head's clock ----------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a byte is held to the same deadline.
        self._head_begins()

    def _head_begins(self) -> None:
        if self._head_bytes < 0:
            self._head_bytes = 0
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self._read_bounds()[1], self._head_too_slow)

    def _head_ends(self) -> None:
        self._head_bytes = -1
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        self._refuse(408, "the request headers arrived too slowly", "request_timeout")

    # -- uvicorn's callbacks ---------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._head_bytes >= 0:
            self._head_bytes += len(data)
        super().data_received(data)
        # Why on every read: httptools buffers an unfinished header value whole, so
        # a head is cut at most one read past the bound, complete or not.
        if self._head_bytes > self.max_header_bytes and not self._refused:
            self._refuse_large()

    def on_message_begin(self) -> None:
        if self._refused:  # a request pipelined behind a refused one: never served
            return
        self._head_begins()
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._refused:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._head_ends()
        size = len(self.url) + sum(len(n) + len(v) + _LINE_OVERHEAD for n, v in self.headers)
        if size > self.max_header_bytes:
            self._refuse_large()
            return
        super().on_headers_complete()

    def _hub_for(self, cycle: RequestResponseCycle, app: ASGI3Application) -> Hub | None:
        # A repeated Authorization header is refused by the app (RillApp), so such
        # a subscription takes the ASGI path to be answered there.
        if repeats_authorization(cycle.scope["headers"]):
            return None
        return super()._hub_for(cycle, app)

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_ends()
        super().connection_lost(exc)

    # -- refusing --------------------------------------------------------------

    def _refuse_large(self) -> None:
        self._refuse(431, f"the request headers are larger than {self.max_header_bytes} bytes",
                     "request_header_fields_too_large")

    def _refuse(self, status: int, detail: str, code: str) -> None:
        """Answer a problem document and close: no app has seen the request."""
        self._refused = True
        self._head_ends()
        transport = self.transport
        if transport.is_closing():
            return
        body = problem_bytes(status, detail, code)
        head = [f"HTTP/1.1 {status} {title_for(status)}".encode()]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value)
        head += [
            b"content-type: " + CONTENT_TYPE.encode(),
            b"content-length: " + str(len(body)).encode(),
            b"connection: close",
        ]
        transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        # Why close, not abort: the answer should reach the client; the kernel's
        # buffer takes it, and a peer that never reads is cut by the OS as usual.
        transport.close()
