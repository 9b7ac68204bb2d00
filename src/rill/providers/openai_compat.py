"""``openai``: any OpenAI-compatible Chat Completions server (OpenAI, vLLM, Ollama,
llama.cpp, LM Studio), through the official SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx2
import openai

from rill.config import BotConfig
from rill.providers import _upstream
from rill.providers.base import (
    Chunk,
    CompletionRequest,
    Finish,
    Provider,
    flatten,
)
from rill.sse.event import ServerSentEvent

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _messages(request: CompletionRequest) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    for message in request.messages:
        if message.role == "user":
            messages.append({"role": "user", "content": message.content})
        else:
            messages.append({"role": "assistant", "content": message.content})
    return messages


class _Reply:
    """What the chunks of one reply add up to besides text: stop reason and usage."""

    def __init__(self) -> None:
        self.stop_reason: str | None = None
        self.input_tokens = 0
        self.output_tokens = 0

    def texts(self, chunk: dict[str, Any]) -> list[str]:
        """The text pieces of one decoded ``chat.completion.chunk``.

        Fields are read as the API documents them, and anything of another shape is
        skipped rather than trusted: servers that call themselves compatible differ
        (``usage`` null or absent, ``content`` null, chunks with no choices).
        """
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.input_tokens = _count(usage.get("prompt_tokens"), self.input_tokens)
            self.output_tokens = _count(usage.get("completion_tokens"), self.output_tokens)
        texts: list[str] = []
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                content = delta.get("content")
                if isinstance(content, str) and content:
                    texts.append(content)
            reason = choice.get("finish_reason")
            if isinstance(reason, str):
                self.stop_reason = _STOP_REASONS.get(reason, "end_turn")
        return texts


def _count(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


class OpenAIProvider(Provider):
    kind = "openai"

    def __init__(self, bot: BotConfig) -> None:
        self.service = "the OpenAI-compatible server" if bot.base_url else "OpenAI"
        timeout = _upstream.timeout()
        self._client = openai.AsyncOpenAI(
            base_url=bot.base_url,
            api_key=_upstream.api_key(bot.api_key_env, "OPENAI_API_KEY"),
            max_retries=bot.max_retries,
            timeout=timeout,
            # Why aiohttp (the SDK's ``aiohttp`` extra) and not its default httpx:
            # each network read through httpx's anyio backend costs a cancel scope
            # and an async-library lookup, and a streamed reply is one read per
            # token at a model's pace; measured 75 against 36 µs per paced token,
            # 100 streams side by side (docs/performance.md).
            http_client=openai.DefaultAioHttpClient(
                timeout=timeout, limits=_upstream.limits(bot.max_connections)
            ),
        )

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        return flatten(self.stream_batches(request))

    async def stream_batches(self, request: CompletionRequest) -> AsyncIterator[list[Chunk]]:
        reply = _Reply()

        def texts_of(event: ServerSentEvent) -> list[str] | None:
            # As the SDK's ``AsyncStream`` reads them: ``[DONE]`` ends the stream, an
            # ``error`` object fails it.
            if event.data.startswith("[DONE]"):
                return None
            chunk = _upstream.json_object(self.service, event.data)
            if chunk.get("error"):
                raise _upstream.from_status(self.service, 200, _upstream.error_type(chunk))
            return reply.texts(chunk)

        async with self._open(request) as response:
            async for batch in _upstream.text_batches(
                self.service, response.aiter_bytes(), texts_of
            ):
                yield batch
        if reply.stop_reason is None:
            raise _upstream.ended_early(self.service)
        yield [Finish(reply.stop_reason, reply.input_tokens, reply.output_tokens)]

    def _open(
        self, request: CompletionRequest
    ) -> AbstractAsyncContextManager[httpx2.Response]:
        """The upstream's streaming HTTP response, closed (connection and all) on exit."""
        body: dict[str, object] = {
            "model": request.model,
            "messages": _messages(request),
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        # Why the client's ``post`` (the SDK's documented call for any endpoint) and not
        # ``chat.completions.create``: ``create`` walks every parameter through the
        # SDK's TypedDict transform before sending (~150 µs a message, 3.3 ms for a
        # 21-message context; ~0.15 ms a request even with the messages passed around
        # it), all of it added to the time to first token (docs/performance.md).
        # The body is built here from plain strings, so there is nothing to transform;
        # ``post`` still sends it with the SDK's auth, headers, retries and errors.
        sent = _upstream.raw_post(self._client, "/chat/completions", body)
        return _upstream.opened(self.service, sent, openai)

    async def aclose(self) -> None:
        await self._client.close()
