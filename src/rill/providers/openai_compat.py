"""``openai``: any OpenAI-compatible Chat Completions server (OpenAI, vLLM, Ollama,
llama.cpp, LM Studio), through the official SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from rill.config import BotConfig
from rill.errors import UpstreamError
from rill.providers import _upstream
from rill.providers.base import Chunk, CompletionRequest, Finish, Provider, TextDelta

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _messages(request: CompletionRequest) -> list[ChatCompletionMessageParam]:
    messages: list[ChatCompletionMessageParam] = []
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

    def texts(self, event: ChatCompletionChunk) -> list[str]:
        if event.usage is not None:
            self.input_tokens = event.usage.prompt_tokens
            self.output_tokens = event.usage.completion_tokens
        texts: list[str] = []
        for choice in event.choices:
            if choice.delta.content:
                texts.append(choice.delta.content)
            if choice.finish_reason is not None:
                self.stop_reason = _STOP_REASONS.get(choice.finish_reason, "end_turn")
        return texts


class OpenAIProvider(Provider):
    kind = "openai"

    def __init__(self, bot: BotConfig) -> None:
        self.service = "the OpenAI-compatible server" if bot.base_url else "OpenAI"
        self._client = openai.AsyncOpenAI(
            base_url=bot.base_url,
            api_key=_upstream.api_key(bot.api_key_env, "OPENAI_API_KEY"),
            max_retries=bot.max_retries,
            timeout=openai.Timeout(
                connect=_upstream.CONNECT_TIMEOUT,
                read=_upstream.READ_TIMEOUT,
                write=_upstream.WRITE_TIMEOUT,
                pool=_upstream.CONNECT_TIMEOUT,
            ),
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Chunk]:
        upstream = await self._open(request)
        reply = _Reply()
        # Why: closing in ``finally`` is what makes a cancel or ``aclose()`` drop the
        # upstream connection at once instead of leaving the model generating.
        try:
            try:
                async for event in upstream:
                    for text in reply.texts(event):
                        yield TextDelta(text)
            except openai.APIError as exc:
                raise self._translate(exc, streaming=True) from None
            except Exception as exc:
                translated = _upstream.from_transport(self.service, exc)
                if translated is None:
                    raise
                raise translated from None
        finally:
            await upstream.close()
        if reply.stop_reason is None:
            raise _upstream.ended_early(self.service)
        yield Finish(reply.stop_reason, reply.input_tokens, reply.output_tokens)

    async def _open(self, request: CompletionRequest) -> openai.AsyncStream[ChatCompletionChunk]:
        temperature = request.temperature if request.temperature is not None else openai.omit
        try:
            return await self._client.chat.completions.create(
                model=request.model,
                messages=_messages(request),
                max_tokens=request.max_tokens,
                temperature=temperature,
                stream=True,
                stream_options={"include_usage": True},
            )
        except openai.APIError as exc:
            raise self._translate(exc) from None

    def _translate(self, exc: openai.APIError, *, streaming: bool = False) -> UpstreamError:
        if isinstance(exc, openai.APITimeoutError):
            return _upstream.timed_out(self.service)
        if isinstance(exc, openai.APIConnectionError):
            if streaming:
                return _upstream.connection_lost(self.service)
            return _upstream.unreachable(self.service)
        if isinstance(exc, openai.APIStatusError):
            error_type = _upstream.error_type(exc.body)
            return _upstream.from_status(self.service, exc.status_code, error_type)
        # Why: an ``error`` object inside the stream arrives as a bare APIError.
        return _upstream.from_status(self.service, 200, _upstream.error_type(exc.body))

    async def aclose(self) -> None:
        await self._client.close()
