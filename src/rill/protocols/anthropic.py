"""The Anthropic Messages API (``POST /v1/messages``): request, answer and error shapes.

Rill's chat stream already is this API's event stream, so a streaming request
gets the very bytes ``/api/chat`` sends; this module holds what differs: the
request (a whole conversation per request), the non-streaming ``Message`` body
and the ``{"type": "error", "error": {...}}`` error body.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rill.chat.events import anthropic_error_type
from rill.errors import InvalidInput
from rill.fields import Text
from rill.protocols.stream import Reply
from rill.providers.base import PromptMessage

#: The error type Anthropic documents for each HTTP status (``anthropic_error_type``
#: maps Rill's own codes); 529 is Anthropic's ``overloaded_error`` status.
_TYPE_BY_STATUS = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
    404: "not_found_error", 409: "invalid_request_error", 413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error", 500: "api_error", 502: "api_error", 503: "overloaded_error",
    504: "timeout_error",
}


class _In(BaseModel):
    # Why ignore: the SDKs send fields Rill has no use for (temperature, top_k, tools...).
    model_config = ConfigDict(extra="ignore")


class TextBlock(_In):
    type: str = Field(max_length=64)
    text: Text | None = None


class InputMessage(_In):
    role: Literal["user", "assistant"]
    # Why the bound on the list only: a text's length is the body limit's and
    # ``max_message_chars``'s to judge, not a count of blocks.
    content: Text | Annotated[list[TextBlock], Field(max_length=1000)]


class MessagesRequest(_In):
    """``POST /v1/messages``. ``model`` is a Rill chatbot id (``GET /v1/models``)."""

    model: Text = Field(min_length=1, max_length=64)
    max_tokens: int = Field(ge=1)
    messages: list[InputMessage] = Field(min_length=1, max_length=1000)
    system: Text | list[TextBlock] | None = None
    stream: bool = False


def text_of(content: str | list[TextBlock]) -> str:
    """The text of a message's content; only text blocks are supported."""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for block in content:
        if block.type != "text" or block.text is None:
            raise InvalidInput(f"content blocks of type {block.type!r} are not supported; "
                               "send text")
        texts.append(block.text)
    return "".join(texts)


def prompt_of(messages: list[tuple[str, str]]) -> tuple[PromptMessage, ...]:
    """Alternating turns from ``(role, text)`` pairs, the last a non-empty user turn.

    Why merge consecutive turns of one role: upstream APIs reject them, and clients
    of the OpenAI shape send them freely.
    """
    turns: list[PromptMessage] = []
    for role, text in messages:
        if role not in ("user", "assistant"):
            raise InvalidInput(f"unsupported role {role!r}")
        if turns and turns[-1].role == role:
            turns[-1] = PromptMessage(turns[-1].role, turns[-1].content + "\n\n" + text)
        else:
            turns.append(PromptMessage(role, text))  # type: ignore[arg-type]  # checked above
    if not turns or turns[-1].role != "user" or not turns[-1].content.strip():
        raise InvalidInput("the last message must be a user message with text")
    return tuple(turns)


def request_prompt(body: MessagesRequest) -> tuple[tuple[PromptMessage, ...], str | None]:
    """The conversation and the system text of a request."""
    prompt = prompt_of([(m.role, text_of(m.content)) for m in body.messages])
    system = None if body.system is None else text_of(body.system)
    return prompt, system or None


def message_body(reply: Reply) -> dict[str, Any]:
    """The non-streaming answer: an Anthropic ``Message``, plus Rill's ``rill_stop_reason``
    and ``conversation_id`` (extension fields, docs/api.md)."""
    return {
        "id": reply.id,
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": [{"type": "text", "text": reply.text}] if reply.text else [],
        "stop_reason": reply.stop_reason or "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        "rill_stop_reason": reply.rill_stop_reason,
        "conversation_id": reply.conversation_id,
    }


def error_type(status: int, code: str) -> str:
    mapped = anthropic_error_type(code)
    return _TYPE_BY_STATUS.get(status, "api_error") if mapped == "api_error" else mapped


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type(status, code), "message": message}}
