"""A hub under a real uvicorn on a free port, in the test's event loop.

Until the application mounts the hub, these tests serve it from a tiny ASGI
app, so everything goes over real sockets through uvicorn's HTTP stack. As
under ``rill serve``, subscriptions are served by ``HubStreamProtocol`` (no
request task); ``hub_factory(direct=False)`` serves them through ASGI instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
import pytest
import uvicorn

from rill.auth.tokens import TokenIssuer, TokenVerifier
from rill.broker.memory import MemoryBroker
from rill.config import HubSettings, Settings
from rill.hub import Hub
from rill.hub.direct import HubStreamProtocol
from rill.hub.router import serve_discovery, serve_hub
from rill.sse.decoder import SSEDecoder
from rill.sse.event import ServerSentEvent
from tests.conftest import free_port

KEY = "test-secret-key-for-the-hub-0123456789"
SESSION_KEY = KEY


def hub_token(
    publish: list[str] | None = None,
    subscribe: list[str] | None = None,
    *,
    key: str = KEY,
    ttl: float | None = 3600,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    body: dict[str, Any] = dict(claims)
    if details is not None:
        body["authorization_details"] = details
    elif publish is not None or subscribe is not None:
        body["mercure"] = {"publish": publish or [], "subscribe": subscribe or []}
    if ttl is not None:
        body.setdefault("exp", int(time.time() + ttl))
    return jwt.encode(body, key, algorithm="HS256", headers=headers)


PUBLISHER = hub_token(publish=["*"])


@dataclass
class HubServer:
    url: str
    hub: Hub
    server: uvicorn.Server
    #: One client for publishing: creating an httpx client per request is slow.
    publisher: httpx.AsyncClient | None = None

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10, **kwargs)

    async def publish(
        self, topic: str | list[str], data: str = "x", token: str = PUBLISHER, **fields: Any
    ) -> httpx.Response:
        form: list[tuple[str, str]] = [
            ("topic", t) for t in ([topic] if isinstance(topic, str) else topic)
        ]
        form.append(("data", data))
        for name, value in fields.items():
            form.append((name, "on" if value is True else str(value)))
        if self.publisher is None:
            self.publisher = self.client()
        return await self.publisher.post(
            "/.well-known/mercure",
            content=urlencode(form),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )


class Stream:
    """An open subscription: read decoded events with a timeout.

    A reader task owns the byte iterator, so a timed-out wait does not cancel
    (and so end) the response stream itself.
    """

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._events: asyncio.Queue[ServerSentEvent | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        decoder = SSEDecoder()
        try:
            async for chunk in self.response.aiter_bytes():
                for event in decoder.feed(chunk):
                    self._events.put_nowait(event)
        except httpx.HTTPError:
            pass
        finally:
            self._events.put_nowait(None)

    async def next(self, within: float = 5) -> ServerSentEvent:
        async with asyncio.timeout(within):
            event = await self._events.get()
        if event is None:
            self._events.put_nowait(None)
            raise EOFError("the stream ended")
        return event

    async def take(self, count: int, within: float = 5) -> list[ServerSentEvent]:
        return [await self.next(within) for _ in range(count)]

    async def nothing(self, wait: float = 0.3) -> None:
        with pytest.raises(TimeoutError):
            event = await self.next(wait)
            raise AssertionError(f"unexpected event {event}")

    async def ended(self, within: float = 5) -> None:
        async with asyncio.timeout(within):
            while (await self._events.get()) is not None:
                pass

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def subscribe(
    client: httpx.AsyncClient, params: Any, headers: dict[str, str] | None = None
) -> AsyncIterator[Stream]:
    async with client.stream(
        "GET", "/.well-known/mercure", params=params, headers=headers or {}
    ) as response:
        stream = Stream(response)
        try:
            yield stream
        finally:
            await stream.close()


async def wait_until(condition: Callable[[], object], within: float = 5) -> None:
    """Poll a condition on server state that no event signals."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - nothing to wait on but the state itself
            await asyncio.sleep(0.01)


def _app(hub: Hub) -> Callable[..., Awaitable[None]]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        path = scope["path"]
        if path == "/.well-known/mercure" or path.startswith("/.well-known/mercure/"):
            await serve_hub(hub, scope, receive, send)
        elif path.startswith("/.well-known/oauth-protected-resource"):
            await serve_discovery(hub, scope, receive, send)
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    return app


def _protocol_for(hub: Hub) -> type[HubStreamProtocol]:
    """The production protocol, told which hub the test app routes to."""

    class Protocol(HubStreamProtocol):
        def served_hub(self) -> Hub | None:
            return hub

    return Protocol


@pytest.fixture
async def hub_factory(tmp_path: Any) -> AsyncIterator[Callable[..., Awaitable[HubServer]]]:
    started: list[HubServer] = []
    tasks: list[asyncio.Task[None]] = []

    async def factory(
        broker: MemoryBroker | None = None,
        *,
        direct: bool = True,
        cors_origins: list[str] | None = None,
        **hub_settings: Any,
    ) -> HubServer:
        settings = Settings(
            data_dir=tmp_path, hub=HubSettings(**hub_settings), cors_origins=cors_origins or []
        )
        hub = Hub(settings, broker or MemoryBroker(), TokenVerifier(secret=SESSION_KEY), KEY)
        await hub.start()
        port = free_port()
        config = uvicorn.Config(
            _app(hub),
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            http=_protocol_for(hub) if direct else "httptools",
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        tasks.append(asyncio.create_task(server.serve()))
        await wait_until(lambda: server.started)
        running = HubServer(f"http://127.0.0.1:{port}", hub, server)
        started.append(running)
        return running

    yield factory
    for running in started:
        if running.publisher is not None:
            await running.publisher.aclose()
        await running.hub.close(deadline=2)
        running.server.should_exit = True
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


@pytest.fixture
async def hub_server(hub_factory: Callable[..., Awaitable[HubServer]]) -> HubServer:
    return await hub_factory()


def session_token(subject: str) -> str:
    return TokenIssuer(SESSION_KEY).mint(subject, ttl=3600)
