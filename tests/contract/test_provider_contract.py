"""Every provider keeps the same contract: text deltas, then exactly one ``Finish``.

Upstream providers run against fake servers that speak their real wire format.
"""

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from rill.providers import Provider
from rill.providers.anthropic import AnthropicProvider
from rill.providers.base import Finish, TextDelta
from rill.providers.echo import EchoProvider
from rill.providers.guide import GuideProvider
from rill.providers.openai_compat import OpenAIProvider
from tests.fakes import anthropic_stream as an
from tests.fakes import openai_stream as oa
from tests.fakes.providers import KEY_ENV, SECRET_KEY, anthropic_bot, ask, collect, openai_bot
from tests.fakes.upstream import FakeUpstream, Reply

PIECES = ["Server-Sent ", "Events ", "are ", "plain ", "HTTP."]
SLOW = 0.02
#: Builtin bots stream long answers; a short pace keeps the suite fast but still paced.
BUILTIN_PACE = 0.003


def _echo_reply(reply_for_text: Callable[[list[str]], Reply]) -> Callable[..., Reply]:
    """A fake upstream that answers each request with its own last message, word by word."""

    def script(request) -> Reply:
        body = request.json()
        text = body["messages"][-1]["content"]
        return reply_for_text(text.split(" "))

    return script


@pytest.fixture(params=["echo", "guide", "openai", "anthropic"])
async def provider(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Provider]:
    monkeypatch.setenv(KEY_ENV, SECRET_KEY)
    kind = request.param
    if kind == "echo":
        yield EchoProvider(pace=BUILTIN_PACE)
        return
    if kind == "guide":
        yield GuideProvider(pace=BUILTIN_PACE)
        return
    if kind == "openai":
        script = _echo_reply(lambda words: oa.completion([w + " " for w in words], pace=SLOW))
        async with FakeUpstream(script) as server:
            upstream: Provider = OpenAIProvider(openai_bot(server.url))
            yield upstream
            await upstream.aclose()
        return
    script = _echo_reply(lambda words: an.message([w + " " for w in words], pace=SLOW))
    async with FakeUpstream(script) as server:
        upstream = AnthropicProvider(anthropic_bot(server.url))
        yield upstream
        await upstream.aclose()


async def test_text_deltas_then_exactly_one_finish(provider: Provider) -> None:
    chunks = await collect(provider, ask("What is SSE?"))
    assert isinstance(chunks[-1], Finish)
    assert sum(isinstance(c, Finish) for c in chunks) == 1
    deltas = chunks[:-1]
    assert deltas and all(isinstance(c, TextDelta) for c in deltas)
    assert "".join(c.text for c in deltas).strip()


async def test_nothing_after_finish(provider: Provider) -> None:
    stream = provider.stream(ask("What is SSE?"))
    async for chunk in stream:
        if isinstance(chunk, Finish):
            break
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_concurrent_streams_are_independent(provider: Provider) -> None:
    first, second = await asyncio.gather(
        collect(provider, ask("What is SSE?")),
        collect(provider, ask("SSE와 웹소켓의 차이는?")),
    )
    text = [
        "".join(c.text for c in chunks if isinstance(c, TextDelta)) for chunks in (first, second)
    ]
    assert text[0] and text[1] and text[0] != text[1]
    solo = await collect(provider, ask("What is SSE?"))
    assert text[0] == "".join(c.text for c in solo if isinstance(c, TextDelta))


async def test_aclose_mid_stream_stops_it(provider: Provider) -> None:
    stream = provider.stream(ask("What is SSE?"))
    first = await anext(stream)
    assert isinstance(first, TextDelta)
    await stream.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(stream)


async def test_cancelling_the_consumer_stops_promptly(provider: Provider) -> None:
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in provider.stream(ask("What is SSE? " * 5)):
            started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 2)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=0.2)
    assert task in done and task.cancelled()


async def test_batches_hold_the_same_chunks_as_the_stream(provider: Provider) -> None:
    batches = [batch async for batch in provider.stream_batches(ask("What is SSE?"))]
    assert batches and all(batches), "a batch is never empty"
    chunks = await collect(provider, ask("What is SSE?"))
    assert [c for batch in batches for c in batch] == chunks
    assert sum(isinstance(c, Finish) for batch in batches for c in batch) == 1


async def test_closing_batches_mid_stream_stops_them(provider: Provider) -> None:
    batches = provider.stream_batches(ask("What is SSE?"))
    first = await anext(batches)
    assert first and isinstance(first[0], TextDelta)
    await batches.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(batches)


async def test_unpaced_builtin_bots_hand_over_several_chunks_at_once() -> None:
    batches = [b async for b in EchoProvider(pace=0).stream_batches(ask("/lorem 40"))]
    assert [len(b) for b in batches] == [16, 16, 9]  # the last holds 8 words and Finish
