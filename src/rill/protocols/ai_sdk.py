"""The AI SDK's UI message stream protocol (``x-vercel-ai-ui-message-stream: v1``), what
``useChat`` with its ``DefaultChatTransport`` speaks.

Requests carry the chat ``id`` (a Rill conversation id), the UI messages and a
``trigger``; the reply streams as UI message chunks (``start``, ``text-delta``,
``finish``...) ended by ``data: [DONE]``. Rill's stop reason and ids ride in the
message metadata (``rillStopReason``, ``conversationId``, ``chatbotId``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rill.errors import InvalidInput
from rill.fields import RecordId, Text
from rill.protocols.stream import ChatEvent

HEADERS = {"x-vercel-ai-ui-message-stream": "v1"}
#: The one text part of a Rill reply.
TEXT_ID = "text-0"
_FINISH_REASONS = {
    "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
    "model_context_window_exceeded": "length", "refusal": "content-filter",
    "tool_use": "tool-calls", "error": "error", "interrupted": "interrupted",
}


class _In(BaseModel):
    # Why ignore: UI messages carry metadata and parts Rill has no use for.
    model_config = ConfigDict(extra="ignore")


class UIPart(_In):
    type: str = Field(max_length=128)
    text: Text | None = None


class UIMessage(_In):
    id: str = Field(max_length=256)
    role: Literal["system", "user", "assistant"]
    parts: list[UIPart] = Field(max_length=1000)


class UIChatRequest(_In):
    """``DefaultChatTransport``'s body: ``id`` is the chat id, a Rill conversation id."""

    id: RecordId
    messages: list[UIMessage] = Field(min_length=1, max_length=10_000)
    trigger: Literal["submit-message", "regenerate-message"] = "submit-message"
    messageId: str | None = Field(default=None, max_length=256)


def new_user_text(body: UIChatRequest) -> str | None:
    """The text of the message to send, or None for a regeneration.

    Why only the last message: Rill keeps the conversation; the client's copy of
    the earlier turns is not trusted to rewrite it.
    """
    if body.trigger == "regenerate-message":
        return None
    last = body.messages[-1]
    text = "".join(p.text or "" for p in last.parts if p.type == "text")
    if last.role != "user" or not text.strip():
        raise InvalidInput("the last message must be a user message with text")
    return text


def finish_reason(rill_stop_reason: str | None) -> str:
    return _FINISH_REASONS.get(rill_stop_reason or "", "other")


def translate(event: ChatEvent) -> list[dict[str, Any]]:
    """The UI message chunks for one of Rill's chat events."""
    name, data = event
    if name == "message_start":
        message = data["message"]
        return [{"type": "start", "messageId": message["id"], "messageMetadata": {
                    "conversationId": message.get("conversation_id"),
                    "chatbotId": message.get("chatbot_id")}},
                {"type": "start-step"}]
    if name == "content_block_start":
        return [{"type": "text-start", "id": TEXT_ID}]
    if name == "content_block_delta":
        return [{"type": "text-delta", "id": TEXT_ID, "delta": data["delta"]["text"]}]
    if name == "content_block_stop":
        return [{"type": "text-end", "id": TEXT_ID}]
    if name == "error":
        return [{"type": "error", "errorText": data["error"]["message"]}]
    if name == "message_delta":
        reason = data["delta"].get("rill_stop_reason") or data["delta"]["stop_reason"]
        return [{"type": "finish-step"},
                {"type": "finish", "finishReason": finish_reason(reason),
                 "messageMetadata": {"rillStopReason": reason}}]
    return []
