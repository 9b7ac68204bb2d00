"""``anthropic``: the Anthropic Messages API (or a compatible local server), streamed
through the official SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
from anthropic.types import MessageParam, RawMessageStreamEvent

from rill.config import BotConfig
from rill.errors import UpstreamError
from rill.providers import _upstream
from rill.providers.base import (
    Chunk,
    CompletionRequest,
    Finish,
    PromptMessage,
    Provider,
    TextDelta,
)


def _message(message: PromptMessage) -> MessageParam:
    if message.role == "user":
        return {"role": "user", "content": message.content}
    return {"role": "assistant", "content": message.content}


class _Reply:
    """Usage and stop reason as the events of one reply report them."""

    def __init__(self) -> None:
        self.stop_reason: str | None = None
        self.input_tokens = 0
        self.output_tokens = 0
        self.stopped = False

    def text(self, event: RawMessageStreamEvent) -> str:
        if event.type == "message_start":
            usage = event.message.usage
            self.input_tokens = usage.input_tokens
            self.output_tokens = usage.output_tokens
        elif event.type == "content_block_delta" and event.delta.type == "text_delta":
            return event.delta.text
        elif event.type == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            # Why: message_delta usage is cumulative, and newer API versions repeat
            # input_tokens there too.
            self.output_tokens = event.usage.output_tokens
            if event.usage.input_tokens is not None:
                self.input_tokens = event.usage.input_tokens
        elif event.type == "message_stop":
            self.stopped = True
        return ""


class AnthropicProvider(Provider):
    kind = "anthropic"

    def __init__(self, bot: BotConfig) -> None:
        self.service = "the Anthropic-compatible server" if bot.base_url else "Anthropic"
        self._client = anthropic.AsyncAnthropic(
            base_url=bot.base_url,
            api_key=_upstream.api_key(bot.api_key_env, "ANTHROPIC_API_KEY"),
            max_retries=bot.max_retries,
            timeout=anthropic.Timeout(
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
                    text = reply.text(event)
                    if text:
                        yield TextDelta(text)
            except anthropic.APIError as exc:
                raise self._translate(exc, streaming=True) from None
            except Exception as exc:
                translated = _upstream.from_transport(self.service, exc)
                if translated is None:
                    raise
                raise translated from None
        finally:
            await upstream.close()
        if not reply.stopped or reply.stop_reason is None:
            raise _upstream.ended_early(self.service)
        yield Finish(reply.stop_reason, reply.input_tokens, reply.output_tokens)

    async def _open(
        self, request: CompletionRequest
    ) -> anthropic.AsyncStream[RawMessageStreamEvent]:
        # Why: the Messages API takes no ``temperature`` field in current SDKs; a bot
        # that sets one passes it through as is.
        extra: dict[str, object] = {"messages": [_message(m) for m in request.messages]}
        if request.temperature is not None:
            extra["temperature"] = request.temperature
        try:
            return await self._client.messages.create(
                model=request.model,
                max_tokens=request.max_tokens,
                # Why the messages go in ``extra_body`` (merged over the body as is):
                # the SDK's TypedDict transform costs ~150 µs per message, milliseconds
                # for a long context, before the request is sent (docs/performance.md).
                messages=[],
                system=request.system or anthropic.omit,
                stream=True,
                extra_body=extra,
            )
        except anthropic.APIError as exc:
            raise self._translate(exc) from None

    def _translate(self, exc: anthropic.APIError, *, streaming: bool = False) -> UpstreamError:
        if isinstance(exc, anthropic.APITimeoutError):
            return _upstream.timed_out(self.service)
        if isinstance(exc, anthropic.APIConnectionError):
            if streaming:
                return _upstream.connection_lost(self.service)
            return _upstream.unreachable(self.service)
        status = exc.status_code if isinstance(exc, anthropic.APIStatusError) else 200
        # Why: an ``event: error`` mid-stream is raised with the stream's 200 status;
        # its body's error type ("overloaded_error", "api_error") says what happened.
        return _upstream.from_status(self.service, status, _upstream.error_type(exc.body))

    async def aclose(self) -> None:
        await self._client.close()
