"""The chat core in-process: a memory broker, SQLite in a temp dir, a scripted provider.

No server: ``ChatService`` is driven directly, so a rule's test takes milliseconds
and a failure points at the chat core, not at the HTTP wiring (the end-to-end
tests in tests/integration/chat cover that).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from rill.broker.base import Broker
from rill.broker.memory import MemoryBroker
from rill.chat import events
from rill.chat.service import ChatService
from rill.config import BotConfig, Settings
from rill.providers.base import Chunk, CompletionRequest, Finish, Provider, flatten
from rill.providers.registry import ProviderRegistry
from rill.sse import ServerSentEvent, SSEDecoder
from rill.store.sqlite import SQLiteStore

BOT = "scripted"
USER = "user-1"


class ScriptedProvider(Provider):
    """A provider the test feeds: each pushed item is one batch, an error to raise,
    or ``None`` to end the stream without a ``Finish``.

    It sends nothing until told to, so a test decides exactly when each token
    arrives (or that none ever does, for the stall timeout).
    """

    kind = "scripted"

    def __init__(self) -> None:
        self.script: asyncio.Queue[list[Chunk] | BaseException | None] = asyncio.Queue()
        self.requests: list[CompletionRequest] = []
        #: Set when a reply's upstream stream is closed (finished, failed or cancelled).
        self.closed = asyncio.Event()

    def push(self, *items: list[Chunk] | BaseException | None) -> None:
        for item in items:
            self.script.put_nowait(item)

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        return flatten(self.stream_batches(request))

    async def stream_batches(self, request: CompletionRequest) -> AsyncIterator[list[Chunk]]:
        self.requests.append(request)
        try:
            while True:
                item = await self.script.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item[-1], Finish):
                    return
        finally:
            self.closed.set()


class ScriptedRegistry(ProviderRegistry):
    """The configured bots, every one answered by the same scripted provider."""

    def __init__(self, bots: list[BotConfig], provider: Provider) -> None:
        super().__init__(bots)
        self.scripted = provider

    def get(self, bot_id: str) -> Provider:
        super().get(bot_id)  # unknown bots still fail as they do in production
        return self.scripted


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    bot = BotConfig(id=BOT, name="Scripted", provider="echo", model="scripted-model")
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "bots": [bot],
        "node_id": "node-a",
        "first_token_timeout": 5.0,
        "idle_timeout": 5.0,
        "stream_ttl_seconds": 60.0,
        "checkpoint_seconds": 60.0,
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


@dataclass
class Chat:
    """One in-process chat core and what a test needs to drive and observe it."""

    service: ChatService
    store: SQLiteStore
    broker: Broker
    provider: ScriptedProvider

    async def events_of(self, message_id: str) -> list[ServerSentEvent]:
        """Every event of the reply's broker stream so far."""
        entries = await self.broker.read(events.stream_name(message_id), None, 10_000)
        return decode(b"".join(e.payload for e in entries))

    def reader(self, message_id: str) -> Reader:
        """Follow the reply live, as the POST that started it does."""
        return Reader(self.service.relay(USER, message_id))

    async def follow_to_end(self, message_id: str) -> list[ServerSentEvent]:
        return await self.reader(message_id).to_end()


def decode(data: bytes) -> list[ServerSentEvent]:
    return SSEDecoder().feed(data)


class Reader:
    """Reads a relayed (or resumed) reply event by event, as a client would."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = aiter(chunks)
        self._decoder = SSEDecoder()
        self._ready: list[ServerSentEvent] = []
        #: Every event handed out so far.
        self.seen: list[ServerSentEvent] = []

    async def next(self) -> ServerSentEvent | None:
        """The next event, or None once the stream has ended."""
        async with asyncio.timeout(5):
            while not self._ready:
                chunk = await anext(self._chunks, None)
                if chunk is None:
                    return None
                self._ready += self._decoder.feed(chunk)
        event = self._ready.pop(0)
        self.seen.append(event)
        return event

    async def until(self, name: str) -> ServerSentEvent:
        """Read up to and including the next event called ``name``."""
        while (event := await self.next()) is not None:
            if event.event == name:
                return event
        raise AssertionError(f"the stream ended without a {name!r} event")

    async def to_end(self) -> list[ServerSentEvent]:
        while await self.next() is not None:
            pass
        return self.seen


ChatFactory = Callable[..., Awaitable[Chat]]


@pytest.fixture
async def chat_factory(tmp_path: Path) -> AsyncIterator[ChatFactory]:
    """Build chat cores over one SQLite file (several "processes" share the store)."""
    made: list[Chat] = []
    store = SQLiteStore(tmp_path / "rill.db")
    await store.start()

    async def make(broker: Broker | None = None, **overrides: object) -> Chat:
        """A chat core; pass another core's ``broker`` to make a second node of it."""
        settings = settings_for(tmp_path, **overrides)
        if broker is None:
            broker = MemoryBroker()
            await broker.start()
        provider = ScriptedProvider()
        service = ChatService(settings, store, broker, ScriptedRegistry(settings.bots, provider))
        await service.start()
        chat = Chat(service, store, broker, provider)
        made.append(chat)
        return chat

    yield make
    for chat in made:
        await chat.service.close(grace=0)
        await chat.broker.close()
    await store.close()


@pytest.fixture
async def chat(chat_factory: ChatFactory) -> Chat:
    return await chat_factory()
