"""A turn's context must not include a question sent after it.

Found by tests/reliability/test_crashes.py: two turns started at once in one
conversation; if the second was stored between the first's insert and its context
query, the first reply answered the *second* question (ids are time ordered, so the
context now stops at the reply's own id).
"""

from __future__ import annotations

import asyncio

from rill.broker.memory import MemoryBroker
from rill.chat.service import ChatService, TurnRequest
from rill.config import BotConfig, Settings
from rill.providers.base import CompletionRequest
from rill.providers.registry import ProviderRegistry
from rill.store.factory import open_store


async def test_a_later_concurrent_question_is_not_in_the_context(tmp_path, monkeypatch) -> None:
    bot = BotConfig(id="echo", name="Echo", provider="echo", pace=0)
    settings = Settings(data_dir=tmp_path, bots=[bot], checkpoint_seconds=60)
    store = open_store(f"sqlite:///{tmp_path / 'rill.db'}")
    await store.start()
    broker = MemoryBroker()
    await broker.start()
    service = ChatService(settings, store, broker, ProviderRegistry([bot]))
    await service.start()
    try:
        await store.ensure_user("u")
        conv = await store.create_conversation("u", "echo")
        seen: list[CompletionRequest] = []
        recent = store.recent_messages
        interleaved = False

        async def race(conversation_id: str, limit: int):
            # The second turn lands between the first's insert and its context read.
            nonlocal interleaved
            if not interleaved:
                interleaved = True
                await service.start_turn(TurnRequest("u", "echo", "second", conv.id))
            return await recent(conversation_id, limit)

        monkeypatch.setattr(store, "recent_messages", race)
        provider = service.providers.get("echo")
        original = provider.stream_batches

        def record(request: CompletionRequest):
            seen.append(request)
            return original(request)

        monkeypatch.setattr(provider, "stream_batches", record)
        await service.start_turn(TurnRequest("u", "echo", "first", conv.id))
        async with asyncio.timeout(5):  # both generations ask their provider
            while len(seen) < 2:  # noqa: ASYNC110 - no event to wait on in the service
                await asyncio.sleep(0.01)
        contexts = [[m.content for m in r.messages] for r in seen]
        assert ["first"] in contexts, contexts
    finally:
        await service.close(grace=5)
        await broker.close()
        await store.close()
