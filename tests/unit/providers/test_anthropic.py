"""The Anthropic adapter against a fake Messages API server over real HTTP."""

import asyncio

import pytest

from rill.errors import UpstreamError, UpstreamUnavailable
from rill.providers.anthropic import AnthropicProvider
from rill.providers.base import CompletionRequest, PromptMessage, TextDelta
from tests.fakes import anthropic_stream as an
from tests.fakes.providers import (
    KEY_ENV,
    SECRET_KEY,
    anthropic_bot,
    ask,
    collect,
    finish_of,
    text_of,
)
from tests.fakes.upstream import Cut, FakeUpstream, Pause, Reply, Stall, Step


@pytest.fixture(autouse=True)
def _api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SECRET_KEY)


async def run(reply: Reply | list[Reply], request: CompletionRequest, **overrides: object):
    async with FakeUpstream(reply) as server:
        provider = AnthropicProvider(anthropic_bot(server.url, **overrides))
        try:
            return await collect(provider, request), server
        finally:
            await provider.aclose()


async def test_streams_text_usage_and_stop_reason() -> None:
    chunks, server = await run(
        an.message(["Hello", ", ", "world"], input_tokens=30, output_tokens=4), ask("hi")
    )
    assert [c.text for c in chunks if isinstance(c, TextDelta)] == ["Hello", ", ", "world"]
    finish = finish_of(chunks)
    assert (finish.stop_reason, finish.input_tokens, finish.output_tokens) == ("end_turn", 30, 4)
    request = server.requests[0]
    assert request.path == "/v1/messages"
    # Why: SDK versions differ in which header carries the key.
    sent_key = request.headers.get("x-api-key") or request.headers["authorization"][7:]
    assert sent_key == SECRET_KEY
    body = request.json()
    assert body["stream"] is True and body["max_tokens"] == 1024
    assert "system" not in body


async def test_system_prompt_history_and_temperature_are_sent() -> None:
    request = CompletionRequest(
        model="claude-fake",
        system="Be brief.",
        temperature=0.5,
        max_tokens=77,
        messages=[
            PromptMessage("user", "a"),
            PromptMessage("assistant", "b"),
            PromptMessage("user", "c"),
        ],
    )
    _, server = await run(an.message(["ok"]), request)
    body = server.requests[0].json()
    assert body["system"] == "Be brief."
    assert body["temperature"] == 0.5 and body["max_tokens"] == 77
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


async def test_max_tokens_stop_reason_passes_through() -> None:
    chunks, _ = await run(an.message(["abc"], stop_reason="max_tokens"), ask("hi"))
    assert finish_of(chunks).stop_reason == "max_tokens"


@pytest.mark.parametrize(
    ("reply", "error_class", "words"),
    [
        (
            an.error_body(429, "rate_limit_error", "Number of requests"),
            UpstreamUnavailable,
            "rate-limit",
        ),
        (an.error_body(529, "overloaded_error", "Overloaded"), UpstreamUnavailable, "overloaded"),
        (an.error_body(500, "api_error", "Internal boom"), UpstreamError, "failed (500"),
        (
            an.error_body(401, "authentication_error", f"invalid x-api-key {SECRET_KEY}"),
            UpstreamError,
            "rejected the request (401",
        ),
    ],
)
async def test_http_errors_before_the_stream(
    reply: Reply, error_class: type[UpstreamError], words: str
) -> None:
    with pytest.raises(UpstreamError) as caught:
        await run(reply, ask("hi"))
    assert type(caught.value) is error_class
    message = str(caught.value)
    assert words in message
    assert SECRET_KEY not in message and "boom" not in message and "x-api-key" not in message


async def test_overloaded_error_event_mid_stream() -> None:
    body = [*an.opening(["partial"]), an.PING, an.error_event("overloaded_error", "Overloaded")]
    async with FakeUpstream(Reply.sse(body)) as server:
        provider = AnthropicProvider(anthropic_bot(server.url, max_retries=2))
        seen: list[str] = []
        try:
            with pytest.raises(UpstreamUnavailable, match="overloaded"):
                async for chunk in provider.stream(ask("hi")):
                    assert isinstance(chunk, TextDelta)
                    seen.append(chunk.text)
        finally:
            await provider.aclose()
    assert seen == ["partial"]
    assert len(server.requests) == 1, "nothing is retried once text was sent"


async def test_api_error_event_mid_stream() -> None:
    body = [*an.opening(["partial"]), an.error_event("api_error", "Internal secret detail")]
    with pytest.raises(UpstreamError) as caught:
        await run(Reply.sse(body), ask("hi"))
    assert type(caught.value) is UpstreamError
    assert "secret detail" not in str(caught.value)


async def test_connection_cut_mid_stream() -> None:
    with pytest.raises(UpstreamUnavailable, match="connection"):
        await run(Reply.sse([*an.opening(["some text"]), Cut()]), ask("hi"))


async def test_stream_without_message_stop_is_an_error() -> None:
    with pytest.raises(UpstreamError, match="before finishing"):
        await run(Reply.sse(an.opening(["half"])), ask("hi"))


async def test_retries_an_overload_before_the_first_token() -> None:
    busy = an.error_body(529, "overloaded_error", "Overloaded")
    busy.headers["retry-after-ms"] = "10"
    chunks, server = await run([busy, an.message(["fine"])], ask("hi"), max_retries=1)
    assert text_of(chunks) == "fine"
    assert len(server.requests) == 2


async def test_stalled_upstream_times_out_at_the_caller_and_hangs_up() -> None:
    async with FakeUpstream(Reply.sse([*an.opening(["wait"]), Stall()])) as server:
        provider = AnthropicProvider(anthropic_bot(server.url))
        stream = provider.stream(ask("hi"))
        try:
            assert await anext(stream) == TextDelta("wait")
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.2):
                    await anext(stream)
            await server.wait_client_closed(within=0.5)
        finally:
            await stream.aclose()
            await provider.aclose()


async def test_cancel_closes_the_upstream_connection_within_200ms() -> None:
    async with FakeUpstream(Reply.sse([*an.opening(["one ", "two "]), Stall()])) as server:
        provider = AnthropicProvider(anthropic_bot(server.url))
        received = asyncio.Event()

        async def consume() -> None:
            async for _ in provider.stream(ask("hi")):
                received.set()

        task = asyncio.create_task(consume())
        try:
            await asyncio.wait_for(received.wait(), 2)
            cancelled_at = asyncio.get_running_loop().time()
            task.cancel()
            closed_at = await server.wait_client_closed(within=1)
            assert closed_at - cancelled_at < 0.2
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            await provider.aclose()


async def test_events_split_across_reads_with_crlf_and_unknown_events() -> None:
    # The adapter parses the upstream's bytes itself: events cut anywhere (inside a
    # UTF-8 sequence too), CRLF line ends and events it does not know must all work.
    steps = [*an.opening(["안녕", " 세상"], input_tokens=7), an.event("future", {"type": "x"}),
             *an.closing("max_tokens", 3)]
    whole = b"".join(s for s in steps if isinstance(s, bytes)).replace(b"\n", b"\r\n")
    pieces: list[Step] = []
    for start in range(0, len(whole), 5):
        pieces += [whole[start : start + 5], Pause(0.001)]
    chunks, _ = await run(Reply.sse(pieces), ask("hi"))
    assert text_of(chunks) == "안녕 세상"
    finish = finish_of(chunks)
    assert (finish.stop_reason, finish.input_tokens, finish.output_tokens) == ("max_tokens", 7, 3)


async def test_an_unreadable_event_is_an_upstream_error() -> None:
    reply = Reply.sse([*an.opening(["a "]), b"event: content_block_delta\ndata: {oops\n\n"])
    with pytest.raises(UpstreamError, match="could not read"):
        await run(reply, ask("hi"))
