"""The official ``openai`` SDK against ``/v1/chat/completions`` and ``/v1/models`` on a
real server (issue 16): streaming, non-streaming, its streaming helper, stop, and
OpenAI-shaped errors; every chunk validates with the SDK's own types."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tests.conftest import RunningServer

ASK = [{"role": "user", "content": "one two three four five"}]


@pytest.fixture
def client(interop_server: RunningServer, token: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{interop_server.url}/v1", api_key=token, max_retries=0) as c:
        yield c


def test_models_are_the_chatbots(client) -> None:
    assert sorted(m.id for m in client.models.list()) == ["echo", "slow"]


def test_a_completion(client) -> None:
    completion = client.chat.completions.create(model="echo", messages=[
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi"}, *ASK])
    ChatCompletion.model_validate(completion.model_dump(), strict=True)
    choice = completion.choices[0]
    assert choice.message.content == "one two three four five"
    assert choice.finish_reason == "stop" and completion.usage.completion_tokens > 0


def test_a_streamed_completion_validates_chunk_by_chunk(client) -> None:
    chunks = list(client.chat.completions.create(
        model="echo", messages=ASK, stream=True, stream_options={"include_usage": True}))
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.model_dump(), strict=True)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four five"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_the_streaming_helper(client) -> None:
    with client.chat.completions.stream(model="echo", messages=ASK) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == final.choices[0].message.content == "one two three four five"


def test_stop_a_streamed_completion(client, rill) -> None:
    chunks = []
    for chunk in client.chat.completions.create(
            model="slow", messages=[{"role": "user", "content": "/lorem 400"}], stream=True):
        chunks.append(chunk)
        if len(chunks) == 4:
            assert rill.post(f"/api/chat/{chunk.id}/cancel").status_code == 202
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk.model_dump(), strict=True)
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop" and last.rill_stop_reason == "cancelled"  # type: ignore[attr-defined]
    assert len(chunks) < 400


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"model": "echo", "messages": []}, openai.BadRequestError),
    ({"model": "echo", "messages": [{"role": "assistant", "content": "x"}]},
     openai.BadRequestError),
    ({"model": "echo", "messages": [{"role": "tool", "content": "x", "tool_call_id": "t"}]},
     openai.BadRequestError),
    ({"model": "echo", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://x"}}]}]}, openai.BadRequestError),
    ({"model": "nope", "messages": ASK}, openai.NotFoundError),
])
def test_bad_requests_get_openai_errors(client, kwargs, error) -> None:
    with pytest.raises(error) as raised:
        client.chat.completions.create(**kwargs)
    body = raised.value.body
    assert isinstance(body, dict) and {"message", "type", "param", "code"} <= body.keys()
    assert raised.value.message and isinstance(body["message"], str)


def test_a_bad_key_is_an_authentication_error(interop_server) -> None:
    with openai.OpenAI(base_url=f"{interop_server.url}/v1", api_key="not-a-token",
                       max_retries=0) as bad, pytest.raises(openai.AuthenticationError):
        bad.models.list()
