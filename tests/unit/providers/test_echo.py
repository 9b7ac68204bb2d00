import asyncio

import pytest

from rill.providers.base import CompletionRequest, Finish, PromptMessage, TextDelta
from rill.providers.echo import MAX_LOREM_WORDS, EchoProvider, lorem_chunks
from tests.fakes.providers import ask, collect, finish_of, text_of


@pytest.mark.parametrize(
    "message",
    ["Hello world", "  leading and trailing  ", "tabs\tand\nnew\n\nlines", "안녕하세요 세계", "x"],
)
async def test_echo_returns_the_message_exactly(message: str) -> None:
    chunks = await collect(EchoProvider(pace=0), ask(message))
    assert text_of(chunks) == message
    assert all(isinstance(c, TextDelta) for c in chunks[:-1])
    assert finish_of(chunks).stop_reason == "end_turn"


async def test_echo_streams_word_by_word_and_counts_chunks() -> None:
    chunks = await collect(EchoProvider(pace=0), ask("one two three"))
    assert [c.text for c in chunks if isinstance(c, TextDelta)] == ["one ", "two ", "three"]
    finish = finish_of(chunks)
    assert finish.output_tokens == 3
    assert finish.input_tokens == 3


async def test_echo_echoes_the_last_user_message() -> None:
    request = CompletionRequest(
        model="echo",
        messages=[
            PromptMessage("user", "first"),
            PromptMessage("assistant", "first"),
            PromptMessage("user", "second one"),
        ],
    )
    chunks = await collect(EchoProvider(pace=0), request)
    assert text_of(chunks) == "second one"
    assert finish_of(chunks).input_tokens == 4


async def test_echo_of_nothing_still_says_something() -> None:
    chunks = await collect(EchoProvider(pace=0), CompletionRequest(model="echo", messages=[]))
    assert text_of(chunks)
    assert isinstance(chunks[-1], Finish)


async def test_echo_stops_at_max_tokens() -> None:
    chunks = await collect(EchoProvider(pace=0), ask("a b c d e", max_tokens=2))
    assert text_of(chunks) == "a b "
    assert finish_of(chunks).stop_reason == "max_tokens"
    assert finish_of(chunks).output_tokens == 2


async def test_echo_exactly_max_tokens_is_a_normal_end() -> None:
    chunks = await collect(EchoProvider(pace=0), ask("a b", max_tokens=2))
    assert finish_of(chunks).stop_reason == "end_turn"


async def test_echo_waits_pace_between_chunks() -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    await collect(EchoProvider(pace=0.05), ask("a b c d"))
    assert loop.time() - started >= 0.15 - 0.01


async def test_lorem_directive_streams_that_many_words() -> None:
    chunks = await collect(EchoProvider(pace=0), ask("/lorem 250", max_tokens=10_000))
    text = text_of(chunks)
    assert len(text.split()) == 250
    assert finish_of(chunks).output_tokens == 250
    assert text == "".join(lorem_chunks(250))
    assert text.endswith(".")


async def test_lorem_is_deterministic_and_capped() -> None:
    assert list(lorem_chunks(40)) == list(lorem_chunks(40))
    chunks = await collect(EchoProvider(pace=0), ask("/lorem 999999", max_tokens=200_000))
    assert finish_of(chunks).output_tokens == MAX_LOREM_WORDS


async def test_lorem_respects_max_tokens() -> None:
    chunks = await collect(EchoProvider(pace=0), ask("/lorem 500", max_tokens=20))
    assert finish_of(chunks).stop_reason == "max_tokens"
    assert finish_of(chunks).output_tokens == 20


async def test_lorem_needs_the_directive_alone() -> None:
    chunks = await collect(EchoProvider(pace=0), ask("please /lorem 5"))
    assert text_of(chunks) == "please /lorem 5"
