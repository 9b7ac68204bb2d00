"""A reply that fails upstream, seen through each SDK (issue 16): the events before the
failure validate with the SDK's types, and the failure arrives as the protocol's error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anthropic
import openai
import pytest
from anthropic.types import ErrorResponse, RawMessageStreamEvent
from pydantic import TypeAdapter

from tests.conftest import RunningServer
from tests.fakes.openai_stream import opening
from tests.fakes.upstream import FakeUpstream, Reply, Stall

STREAM_EVENT = TypeAdapter(RawMessageStreamEvent)
ASK = [{"role": "user", "content": "stall please"}]


@pytest.fixture
async def server(server_factory) -> AsyncIterator[RunningServer]:
    # Every upstream reply sends some text, then stalls past the idle timeout.
    async with FakeUpstream(lambda request: Reply.sse([*opening(["partial ", "text"]), Stall()])) as up:
        yield await asyncio.to_thread(server_factory, config=f"""
[[bots]]
id = "gpt"
name = "GPT"
provider = "openai"
model = "fake-model"
base_url = "{up.url}/v1"
max_retries = 0
""", env={"RILL_FIRST_TOKEN_TIMEOUT": "1", "RILL_IDLE_TIMEOUT": "1",
          "RILL_CHAT_TURNS_PER_MINUTE": "0", "OPENAI_API_KEY": "sk-fake"})


async def test_anthropic_sdk_stream_raises_the_error_event(server) -> None:
    token = await asyncio.to_thread(server.session_token)
    async with anthropic.AsyncAnthropic(base_url=server.url, api_key=token, max_retries=0) as c:
        seen = []
        with pytest.raises(anthropic.APIStatusError) as raised:
            async for event in await c.messages.create(model="gpt", max_tokens=10,
                                                       messages=ASK, stream=True):
                seen.append(STREAM_EVENT.validate_python(event.to_dict()))
        assert [e.type for e in seen][:2] == ["message_start", "content_block_start"]
        assert ErrorResponse.model_validate(raised.value.body).error.type == "timeout_error"
        with pytest.raises(anthropic.APIStatusError) as raised:
            await c.messages.create(model="gpt", max_tokens=10, messages=ASK)
        assert raised.value.status_code == 504
        assert ErrorResponse.model_validate(raised.value.body).error.type == "timeout_error"


async def test_openai_sdk_stream_raises_the_in_stream_error(server) -> None:
    token = await asyncio.to_thread(server.session_token)
    async with openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=token,
                                  max_retries=0) as c:
        text = []
        with pytest.raises(openai.APIError) as raised:
            async for chunk in await c.chat.completions.create(model="gpt", messages=ASK,
                                                               stream=True):
                text.append(chunk.choices[0].delta.content or "")
        assert "".join(text) == "partial text"
        assert raised.value.body["type"] == "server_error"  # type: ignore[index]
        with pytest.raises(openai.InternalServerError):
            await c.chat.completions.create(model="gpt", messages=ASK)
