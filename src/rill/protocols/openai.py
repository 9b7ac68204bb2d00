"""OpenAI Chat Completions (``POST /v1/chat/completions``, ``GET /v1/models``).

Translates Rill's chat events (the Anthropic stream) into ``chat.completion.chunk``
objects, or sums them into one ``chat.completion``; errors are OpenAI's
``{"error": {"message", "type", "param", "code"}}``. Rill's own stop reason
rides beside ``finish_reason`` as ``rill_stop_reason`` (docs/api.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rill.errors import InvalidInput
from rill.fields import Text
from rill.protocols.anthropic import prompt_of
from rill.protocols.stream import ChatEvent, Reply
from rill.providers.base import PromptMessage

_FINISH_REASONS = {"max_tokens": "length", "refusal": "content_filter", "tool_use": "tool_calls",
                   "model_context_window_exceeded": "length"}


class _In(BaseModel):
    # Why ignore: the SDK and tools on it send fields Rill has no use for (tools, n, seed...).
    model_config = ConfigDict(extra="ignore")


class ContentPart(_In):
    type: str = Field(max_length=64)
    text: Text | None = None


class ChatMessage(_In):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    # The bound is on the parts only, as in ``anthropic.InputMessage``.
    content: Text | Annotated[list[ContentPart], Field(max_length=1000)] | None = None


class StreamOptions(_In):
    include_usage: bool = False


class CompletionRequest(_In):
    """``POST /v1/chat/completions``. ``model`` is a Rill chatbot id (``GET /v1/models``)."""

    model: Text = Field(min_length=1, max_length=64)
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)


def _text(content: str | list[ContentPart] | None) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts: list[str] = []
    for part in content:
        if part.type != "text" or part.text is None:
            raise InvalidInput(f"content parts of type {part.type!r} are not supported; "
                               "send text")
        texts.append(part.text)
    return "".join(texts)


def request_prompt(body: CompletionRequest) -> tuple[tuple[PromptMessage, ...], str | None]:
    """The conversation and the system text: system and developer messages join the
    system text, wherever they are; tool messages are not supported."""
    system: list[str] = []
    turns: list[tuple[str, str]] = []
    for message in body.messages:
        text = _text(message.content)
        if message.role in ("system", "developer"):
            system.append(text)
        elif message.role in ("user", "assistant"):
            turns.append((message.role, text))
        else:
            raise InvalidInput(f"messages with role {message.role!r} are not supported")
    return prompt_of(turns), "\n\n".join(t for t in system if t) or None


def finish_reason(stop_reason: str | None) -> str:
    return _FINISH_REASONS.get(stop_reason or "", "stop")


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens}


class ChunkWriter:
    """Rill's chat events in, ``chat.completion.chunk`` objects out, for one reply."""

    def __init__(self, *, created: int, include_usage: bool) -> None:
        self.created = created
        self.include_usage = include_usage
        self.reply = Reply()

    def _chunk(self, delta: dict[str, Any], finish: str | None = None,
               **extra: Any) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.reply.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.reply.model, "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None,
                         "finish_reason": finish, **extra}],
        }
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def translate(self, event: ChatEvent) -> list[dict[str, Any]]:
        """The chunks for one event; an ``error`` event becomes OpenAI's in-stream error."""
        name, data = event
        self.reply.add(name, data)
        if name == "message_start":
            return [self._chunk({"role": "assistant", "content": ""})]
        if name == "content_block_delta":
            return [self._chunk({"content": data["delta"]["text"]})]
        if name == "error":
            kind, message = self.reply.error or ("api_error", "")
            return [error_body(502, kind, message)]
        if name == "message_delta":
            reply = self.reply
            last = self._chunk({}, finish_reason(reply.stop_reason),
                               rill_stop_reason=reply.rill_stop_reason)
            if not self.include_usage:
                return [last]
            usage = {**self._chunk({}), "choices": [],
                     "usage": _usage(reply.input_tokens, reply.output_tokens)}
            return [last, usage]
        return []


def completion_body(reply: Reply, created: int) -> dict[str, Any]:
    return {
        "id": reply.id, "object": "chat.completion", "created": created, "model": reply.model,
        "system_fingerprint": None,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": reply.text, "refusal": None},
            "logprobs": None,
            "finish_reason": finish_reason(reply.stop_reason),
            "rill_stop_reason": reply.rill_stop_reason,
        }],
        "usage": _usage(reply.input_tokens, reply.output_tokens),
        "conversation_id": reply.conversation_id,
    }


def models_body(bot_ids: list[str], created: int) -> dict[str, Any]:
    return {"object": "list", "data": [
        {"id": bot_id, "object": "model", "created": created, "owned_by": "rill"}
        for bot_id in bot_ids
    ]}


def error_body(status: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    """OpenAI's error object. ``type`` is OpenAI's broad class; ``code`` is Rill's slug."""
    if status >= 500:
        kind = "server_error"
    elif status == 429:
        kind = "rate_limit_error"
    elif status == 401:
        kind = "authentication_error"
    else:
        kind = "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
