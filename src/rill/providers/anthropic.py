"""``anthropic``: the Anthropic Messages API (or a compatible local server), streamed
through the official SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

import anthropic
import httpx2
from anthropic.types import MessageParam

from rill.config import BotConfig
from rill.providers import _upstream
from rill.providers.base import (
    Chunk,
    CompletionRequest,
    Finish,
    PromptMessage,
    Provider,
    flatten,
)
from rill.sse.event import ServerSentEvent


def _message(message: PromptMessage) -> MessageParam:
    if message.role == "user":
        return {"role": "user", "content": message.content}
    return {"role": "assistant", "content": message.content}


class _Reply:
    """Usage and stop reason as the events of one reply report them."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.stop_reason: str | None = None
        self.input_tokens = 0
        self.output_tokens = 0
        self.stopped = False

    def texts(self, event: ServerSentEvent) -> list[str]:
        """The text one event carries; fields are read as documented, others skipped."""
        data = _upstream.json_object(self.service, event.data)
        kind = data.get("type")
        if event.event == "error" or kind == "error":
            # Why status 200: the error arrives inside a streaming 200 response; its
            # type ("overloaded_error", "api_error") says what happened.
            raise _upstream.from_status(self.service, 200, _upstream.error_type(data))
        if kind == "content_block_delta":
            delta = data.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "text_delta":
                text = delta.get("text")
                if isinstance(text, str) and text:
                    return [text]
        elif kind == "message_start":
            message = data.get("message")
            usage = message.get("usage") if isinstance(message, dict) else None
            self._count(usage)
        elif kind == "message_delta":
            delta = data.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                self.stop_reason = delta["stop_reason"]
            # Why: message_delta usage is cumulative, and newer API versions repeat
            # input_tokens there too.
            self._count(data.get("usage"))
        elif kind == "message_stop":
            self.stopped = True
        return []

    def _count(self, usage: object) -> None:
        if not isinstance(usage, dict):
            return
        for key, attr in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens")):
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                setattr(self, attr, value)


class AnthropicProvider(Provider):
    kind = "anthropic"

    def __init__(self, bot: BotConfig) -> None:
        self.service = "the Anthropic-compatible server" if bot.base_url else "Anthropic"
        timeout = _upstream.timeout()
        self._client = anthropic.AsyncAnthropic(
            base_url=bot.base_url,
            api_key=_upstream.api_key(bot.api_key_env, "ANTHROPIC_API_KEY"),
            max_retries=bot.max_retries,
            timeout=timeout,
            # Why aiohttp: see the OpenAI adapter (a streamed reply is a network read
            # per token at a model's pace, and httpx's costs twice as much per read).
            http_client=anthropic.DefaultAioHttpClient(
                timeout=timeout, limits=_upstream.limits(bot.max_connections)
            ),
        )

    def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        return flatten(self.stream_batches(request))

    async def stream_batches(self, request: CompletionRequest) -> AsyncIterator[list[Chunk]]:
        reply = _Reply(self.service)
        async with self._open(request) as response:
            async for batch in _upstream.text_batches(
                self.service, response.aiter_bytes(), reply.texts
            ):
                yield batch
        if not reply.stopped or reply.stop_reason is None:
            raise _upstream.ended_early(self.service)
        yield [Finish(reply.stop_reason, reply.input_tokens, reply.output_tokens)]

    def _open(
        self, request: CompletionRequest
    ) -> AbstractAsyncContextManager[httpx2.Response]:
        """The upstream's streaming HTTP response, closed (connection and all) on exit."""
        body: dict[str, object] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": [_message(m) for m in request.messages],
            "stream": True,
        }
        if request.system:
            body["system"] = request.system
        # Why: the Messages API takes no ``temperature`` field in current SDKs' typed
        # parameters; a bot that sets one passes it through as is.
        if request.temperature is not None:
            body["temperature"] = request.temperature
        # Why ``post`` and not ``messages.create``: see the OpenAI adapter (the SDK's
        # parameter transform adds to every turn's time to first token; ``post``
        # keeps the SDK's auth, headers, retries and errors).
        sent = _upstream.raw_post(self._client, "/v1/messages", body)
        return _upstream.opened(self.service, sent, anthropic)

    async def aclose(self) -> None:
        await self._client.close()
