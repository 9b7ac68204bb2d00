"""A turn's context must not include a question sent after it.

Found by tests/reliability/test_crashes.py: two turns started at once in one
conversation; if the second was stored between the first's insert and its context
query, the first reply answered the *second* question. The context is now read in
the turn's own transaction and stops at the reply's id (ids are time ordered);
``tests/contract`` checks the store on every implementation, this checks what the
provider is asked through the service.
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
    settings = Settings(data_dir=tmp_path, bots=[bot], checkpoint_seconds=60,
                        max_concurrent_generations=20)
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
        provider = service.providers.get("echo")
        original = provider.stream_batches

        def record(request: CompletionRequest):
            seen.append(request)
            return original(request)

        monkeypatch.setattr(provider, "stream_batches", record)
        questions = [f"question {i}" for i in range(8)]
        await asyncio.gather(*(
            service.start_turn(TurnRequest("u", "echo", q, conv.id)) for q in questions
        ))
        async with asyncio.timeout(5):  # every generation asks its provider
            while len(seen) < len(questions):  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.01)
        # Each request ends with its own question (the others' replies are still
        # empty, so their questions merge into one user message before it).
        asked = sorted(r.messages[-1].content.split("\n\n")[-1] for r in seen)
        assert asked == sorted(questions), [[m.content for m in r.messages] for r in seen]
    finally:
        await service.close(grace=5)
        await broker.close()
        await store.close()
