"""A bot's ``max_connections`` is its upstream pool: every streaming reply holds one.

Why a test: the SDKs' default pool is 1,000 connections, which would silently queue
the 1,001st concurrent reply of a busy bot; the setting must reach the transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from rill.config import BotConfig
from rill.providers.anthropic import AnthropicProvider
from rill.providers.base import Chunk, Provider, TextDelta, aclose
from rill.providers.openai_compat import OpenAIProvider
from tests.fakes import anthropic_stream as an
from tests.fakes import openai_stream as oa
from tests.fakes.providers import KEY_ENV, SECRET_KEY, anthropic_bot, ask, openai_bot
from tests.fakes.upstream import FakeUpstream, Reply, Stall, Step

Kind = tuple[
    Callable[..., BotConfig], Callable[[list[str]], list[Step]], Callable[[BotConfig], Provider]
]
KINDS: dict[str, Kind] = {
    "openai": (openai_bot, oa.opening, OpenAIProvider),
    "anthropic": (anthropic_bot, an.opening, AnthropicProvider),
}


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET_KEY)


def _provider(kind: str, url: str, **overrides: object) -> Provider:
    make_bot, _, cls = KINDS[kind]
    return cls(make_bot(url, **overrides))


async def _first_batch(stream: AsyncIterator[list[Chunk]]) -> list[Chunk]:
    return await anext(stream)


def test_the_default_is_far_above_the_sdks_own() -> None:
    assert openai_bot("http://x").max_connections >= 10_000


@pytest.mark.parametrize("kind", KINDS)
async def test_replies_past_the_limit_wait_for_a_connection(kind: str) -> None:
    _, opening, _ = KINDS[kind]
    async with FakeUpstream(Reply.sse([*opening(["held"]), Stall()])) as server:
        provider = _provider(kind, server.url, max_connections=2)
        streams = [provider.stream_batches(ask(f"q{i}")) for i in range(3)]
        try:
            first = [asyncio.create_task(_first_batch(s)) for s in streams]
            await server.wait_streaming(2)
            done, _ = await asyncio.wait(first, timeout=0.3)
            assert len(done) == 2 and len(server.connections) == 2  # the third waits
            held = next(s for s, task in zip(streams, first, strict=True) if task in done)
            await aclose(held)  # a reply ends: its connection is closed, a slot frees up
            await server.wait_streaming(3)
            batch = await asyncio.wait_for(asyncio.gather(*first), 2)
            assert all(isinstance(b[0], TextDelta) for b in batch)
        finally:
            for s in streams:
                await aclose(s)
            await provider.aclose()
