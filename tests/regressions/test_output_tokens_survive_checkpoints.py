"""Regression: when a provider reports no output-token count, the reply's usage fell
back to the number of stored text parts, which the checkpoint loop collapses into one
(reading ``Generation.text`` joins them); a long reply reported ~1 output token."""

from __future__ import annotations

from collections.abc import AsyncIterator

from rill.broker.memory import MemoryBroker
from rill.chat.generation import Generation
from rill.providers.base import Chunk, CompletionRequest, Finish, Provider, TextDelta
from rill.store.sqlite import SQLiteStore


class _Uncounted(Provider):
    kind = "test"

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        for word in ("a ", "b ", "c ", "d "):
            yield TextDelta(word)
        yield Finish(output_tokens=0)


class _CheckpointingBroker(MemoryBroker):
    """Reads the text after every append, as a checkpoint could between any two tokens."""

    generation: Generation | None = None

    async def append(self, stream, payload, **kwargs):  # type: ignore[no-untyped-def]
        if self.generation is not None:
            _ = self.generation.text
        return await super().append(stream, payload, **kwargs)


async def test_output_tokens_count_every_delta_even_after_checkpoints(tmp_path):
    store = SQLiteStore(tmp_path / "rill.db")
    await store.start()
    broker = _CheckpointingBroker()
    try:
        conv = await store.create_conversation("u", "bot")
        reply = (await store.start_turn(user_id="u", chatbot_id="bot", conversation_id=conv.id,
                                        user_text="q", max_concurrent=1, node_id="n")).reply
        generation = Generation(
            message_id=reply.id, stream="s", provider=_Uncounted(),
            request=CompletionRequest(model="m", messages=[]), store=store, broker=broker,
            first_token_timeout=5, idle_timeout=5, stream_ttl=5, seq=0,
        )
        broker.generation = generation
        await generation.run()
        stored = await store.get_message("u", reply.id)
        assert stored.content == "a b c d "
        assert stored.usage is not None and stored.usage.output_tokens == 4
    finally:
        await broker.close()
        await store.close()
