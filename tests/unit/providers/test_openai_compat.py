"""The OpenAI-compatible adapter against a fake Chat Completions server over real HTTP."""

import asyncio

import pytest

from rill.errors import UpstreamError, UpstreamUnavailable
from rill.providers.base import CompletionRequest, PromptMessage, TextDelta
from rill.providers.openai_compat import OpenAIProvider
from tests.fakes import openai_stream as oa
from tests.fakes.providers import (
    KEY_ENV,
    SECRET_KEY,
    ask,
    collect,
    finish_of,
    openai_bot,
    text_of,
)
from tests.fakes.upstream import Cut, FakeUpstream, Pause, Reply, Stall, Step


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET_KEY)


async def test_streams_text_and_usage() -> None:
    async with FakeUpstream(oa.completion(["Hel", "lo", " there"], usage=(21, 3))) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        try:
            chunks = await collect(provider, ask("hi", max_tokens=50, temperature=0.2))
        finally:
            await provider.aclose()
    assert [c.text for c in chunks if isinstance(c, TextDelta)] == ["Hel", "lo", " there"]
    finish = finish_of(chunks)
    assert (finish.stop_reason, finish.input_tokens, finish.output_tokens) == ("end_turn", 21, 3)
    request = server.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {SECRET_KEY}"
    body = request.json()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["max_tokens"] == 50 and body["temperature"] == 0.2


async def test_system_prompt_and_history_are_sent_in_order() -> None:
    async with FakeUpstream(oa.completion(["ok"])) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        request = CompletionRequest(
            model="m",
            system="Be brief.",
            messages=[
                PromptMessage("user", "a"),
                PromptMessage("assistant", "b"),
                PromptMessage("user", "c"),
            ],
        )
        try:
            await collect(provider, request)
        finally:
            await provider.aclose()
    body = server.requests[0].json()
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]
    assert "temperature" not in body


async def test_length_maps_to_max_tokens_and_usage_is_optional() -> None:
    async with FakeUpstream(oa.completion(["cut"], finish_reason="length", usage=None)) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        try:
            chunks = await collect(provider, ask("hi"))
        finally:
            await provider.aclose()
    assert finish_of(chunks).stop_reason == "max_tokens"
    assert finish_of(chunks).output_tokens == 0


async def test_missing_key_uses_a_placeholder_for_local_servers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(KEY_ENV)
    async with FakeUpstream(oa.completion(["ok"])) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        try:
            await collect(provider, ask("hi"))
        finally:
            await provider.aclose()
    assert server.requests[0].headers["authorization"] == "Bearer not-needed"


@pytest.mark.parametrize(
    ("reply", "error_class", "words"),
    [
        (oa.error_body(429, "Rate limit reached", "requests"), UpstreamUnavailable, "rate-limit"),
        (oa.error_body(503, "overloaded", "server_error"), UpstreamUnavailable, "overloaded"),
        (oa.error_body(500, "boom", "server_error"), UpstreamError, "failed (500"),
        (
            oa.error_body(
                401, f"Incorrect API key provided: {SECRET_KEY}", "invalid_request_error"
            ),
            UpstreamError,
            "rejected the request (401",
        ),
        (oa.error_body(404, "model not found", "invalid_request_error"), UpstreamError, "404"),
    ],
)
async def test_http_errors_before_the_stream(
    reply: Reply, error_class: type[UpstreamError], words: str
) -> None:
    async with FakeUpstream(reply) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        try:
            with pytest.raises(UpstreamError) as caught:
                await collect(provider, ask("hi"))
        finally:
            await provider.aclose()
    assert type(caught.value) is error_class
    message = str(caught.value)
    assert words in message
    assert SECRET_KEY not in message and "Incorrect API key" not in message
    assert "boom" not in message


async def test_retries_before_the_first_token() -> None:
    failure = oa.error_body(500, "boom", "server_error")
    failure.headers["retry-after-ms"] = "10"
    async with FakeUpstream([failure, oa.completion(["fine"])]) as server:
        provider = OpenAIProvider(openai_bot(server.url, max_retries=1))
        try:
            chunks = await collect(provider, ask("hi"))
        finally:
            await provider.aclose()
    assert text_of(chunks) == "fine"
    assert len(server.requests) == 2


async def test_connection_refused_is_unavailable() -> None:
    async with FakeUpstream(oa.completion(["x"])) as server:
        url = server.url
    provider = OpenAIProvider(openai_bot(url))
    try:
        with pytest.raises(UpstreamUnavailable, match="could not reach"):
            await collect(provider, ask("hi"))
    finally:
        await provider.aclose()


async def test_error_object_mid_stream() -> None:
    error = b'data: {"error": {"message": "upstream exploded", "type": "server_error"}}\n\n'
    async with FakeUpstream(Reply.sse([*oa.opening(["partial "]), error])) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        seen: list[str] = []
        try:
            with pytest.raises(UpstreamError) as caught:
                async for chunk in provider.stream(ask("hi")):
                    assert isinstance(chunk, TextDelta)
                    seen.append(chunk.text)
        finally:
            await provider.aclose()
    assert seen == ["partial "]
    assert "exploded" not in str(caught.value)
    assert len(server.requests) == 1, "nothing is retried once text was sent"


async def test_connection_cut_mid_stream() -> None:
    async with FakeUpstream(Reply.sse([*oa.opening(["some ", "text"]), Cut()])) as server:
        provider = OpenAIProvider(openai_bot(server.url, max_retries=2))
        seen: list[str] = []
        try:
            with pytest.raises(UpstreamUnavailable, match="connection"):
                async for chunk in provider.stream(ask("hi")):
                    assert isinstance(chunk, TextDelta)
                    seen.append(chunk.text)
        finally:
            await provider.aclose()
    assert seen == ["some ", "text"]
    assert len(server.requests) == 1


async def test_stream_ending_without_finish_reason_is_an_error() -> None:
    async with FakeUpstream(Reply.sse(oa.opening(["half"]))) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        try:
            with pytest.raises(UpstreamError, match="before finishing"):
                await collect(provider, ask("hi"))
        finally:
            await provider.aclose()


async def test_stalled_upstream_times_out_at_the_caller_and_hangs_up() -> None:
    async with FakeUpstream(Reply.sse([*oa.opening(["wait"]), Stall()])) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        stream = provider.stream(ask("hi"))
        try:
            assert await anext(stream) == TextDelta("wait")
            with pytest.raises(TimeoutError):
                while True:
                    async with asyncio.timeout(0.2):
                        await anext(stream)
            await server.wait_client_closed(within=0.5)
        finally:
            await stream.aclose()
            await provider.aclose()


async def test_cancel_closes_the_upstream_connection_within_200ms() -> None:
    async with FakeUpstream(Reply.sse([*oa.opening(["one ", "two "]), Stall()])) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        received = asyncio.Event()

        async def consume() -> None:
            async for _ in provider.stream(ask("hi")):
                received.set()

        task = asyncio.create_task(consume())
        try:
            await asyncio.wait_for(received.wait(), 2)
            loop = asyncio.get_running_loop()
            cancelled_at = loop.time()
            task.cancel()
            closed_at = await server.wait_client_closed(within=1)
            assert closed_at - cancelled_at < 0.2
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            await provider.aclose()


async def test_cancel_while_waiting_for_headers_hangs_up() -> None:
    async with FakeUpstream(Reply.sse([Stall()])) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        task = asyncio.create_task(collect(provider, ask("hi")))
        try:
            await server.wait_streaming()
            await asyncio.sleep(0.05)
            cancelled_at = asyncio.get_running_loop().time()
            task.cancel()
            closed_at = await server.wait_client_closed(within=1)
            assert closed_at - cancelled_at < 0.2
        finally:
            await provider.aclose()


async def test_events_split_across_reads_and_crlf_line_ends() -> None:
    # The adapter parses the upstream's bytes itself: events cut mid-line and
    # mid-UTF-8 sequence, CRLF line ends and comments must all come out whole.
    steps = [*oa.opening(["안녕", " 세상"]), oa.chunk({}, "stop"), oa.usage_chunk(3, 2), oa.DONE]
    whole = b"".join(s for s in steps if isinstance(s, bytes)).replace(b"\n", b"\r\n")
    whole = b": keep-alive\r\n\r\n" + whole
    pieces: list[Step] = []
    for start in range(0, len(whole), 7):
        pieces += [whole[start : start + 7], Pause(0.001)]
    async with FakeUpstream(Reply.sse(pieces)) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        try:
            chunks = await collect(provider, ask("hi"))
        finally:
            await provider.aclose()
    assert text_of(chunks) == "안녕 세상"
    finish = finish_of(chunks)
    assert (finish.stop_reason, finish.input_tokens, finish.output_tokens) == ("end_turn", 3, 2)


async def test_chunks_of_unexpected_shape_are_skipped_not_trusted() -> None:
    odd = [
        b'data: {"choices": null, "usage": null}\n\n',
        b'data: {"choices": ["nonsense", {"delta": null}, {"delta": {"content": 7}}]}\n\n',
        b'data: {"choices": [{"delta": {"content": "kept"}}], "usage": {"prompt_tokens": "x"}}\n\n',
    ]
    reply = Reply.sse([*odd, oa.chunk({}, "length"), oa.DONE])
    async with FakeUpstream(reply) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        try:
            chunks = await collect(provider, ask("hi"))
        finally:
            await provider.aclose()
    assert text_of(chunks) == "kept"
    finish = finish_of(chunks)
    assert (finish.stop_reason, finish.input_tokens) == ("max_tokens", 0)


@pytest.mark.parametrize("data", [b"data: {not json\n\n", b"data: [1, 2]\n\n"])
async def test_unreadable_chunk_is_an_upstream_error(data: bytes) -> None:
    async with FakeUpstream(Reply.sse([*oa.opening(["a "]), data])) as server:
        provider = OpenAIProvider(openai_bot(server.url))
        try:
            with pytest.raises(UpstreamError, match="could not read"):
                await collect(provider, ask("hi"))
        finally:
            await provider.aclose()
