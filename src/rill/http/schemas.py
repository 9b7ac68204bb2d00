"""Request and response bodies: the OpenAPI contract the web app's client is generated from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rill.fields import RecordId, Text
from rill.store.models import Conversation, HistoryPage, Message


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


class _In(BaseModel):
    # Why ignore, not forbid: the seed's clients send extra fields we tolerate.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class ChatRequest(_In):
    chatbotId: Text = Field(min_length=1, max_length=64)
    message: Text | None = None
    conversationId: Text | None = Field(default=None, max_length=64)
    userId: Text | None = Field(default=None, max_length=256)
    regenerate: bool = False
    language: Literal["en", "ko"] | None = None
    #: Resend this user message edited (``message`` is the new text): a new version.
    editOf: RecordId | None = None


class SeedHistoryRequest(_In):
    chatbotId: Text = Field(min_length=1, max_length=64)
    userId: Text | None = Field(default=None, max_length=256)
    page: int = Field(default=0, ge=0, le=100_000)
    pageSize: int = Field(default=20, ge=1, le=100)


class NewConversation(_In):
    chatbotId: Text = Field(min_length=1, max_length=64)
    title: Text = Field(default="", max_length=200)


class UsageOut(BaseModel):
    inputTokens: int
    outputTokens: int


class MessageOut(BaseModel):
    id: str
    conversationId: str
    chatbotId: str
    role: Literal["user", "assistant"]
    content: str
    createdAt: str
    status: Literal["streaming", "complete", "cancelled", "error", "interrupted"]
    stopReason: str | None
    usage: UsageOut | None
    error: str | None = None
    #: The previous message on this message's path; null for the first.
    parentId: str | None
    #: This message and its siblings (its other versions), oldest first.
    versions: list[str]

    @classmethod
    def of(cls, m: Message) -> MessageOut:
        return cls(
            id=m.id,
            conversationId=m.conversation_id,
            chatbotId=m.chatbot_id,
            role=m.role,
            content=m.content,
            createdAt=iso(m.created_at),
            status=m.status,
            stopReason=m.stop_reason,
            usage=None if m.usage is None else UsageOut(
                inputTokens=m.usage.input_tokens, outputTokens=m.usage.output_tokens
            ),
            error=m.error,
            parentId=m.parent_id,
            versions=list(m.versions),
        )


class SeedMessageOut(MessageOut):
    """The seed's fields beside Rill's: ``sender``, ``timestamp`` and ``type`` (the bot)."""

    sender: Literal["user", "bot"]
    timestamp: str
    type: str

    @classmethod
    def of(cls, m: Message) -> SeedMessageOut:
        base = MessageOut.of(m).model_dump()
        return cls(**base, sender="user" if m.role == "user" else "bot",
                   timestamp=base["createdAt"], type=m.chatbot_id)


class HistoryOut(BaseModel):
    messages: list[MessageOut]
    hasMore: bool
    nextCursor: str | None

    @classmethod
    def of(cls, page: HistoryPage) -> HistoryOut:
        return cls(messages=[MessageOut.of(m) for m in page.messages],
                   hasMore=page.has_more, nextCursor=page.next_cursor)


class SeedHistoryOut(BaseModel):
    messages: list[SeedMessageOut]
    hasMore: bool


class ConversationOut(BaseModel):
    id: str
    chatbotId: str
    title: str
    createdAt: str
    updatedAt: str

    @classmethod
    def of(cls, c: Conversation) -> ConversationOut:
        return cls(id=c.id, chatbotId=c.chatbot_id, title=c.title,
                   createdAt=iso(c.created_at), updatedAt=iso(c.updated_at))


class ConversationsOut(BaseModel):
    conversations: list[ConversationOut]
    #: Pass as ``cursor`` for the next page; None on the last page.
    nextCursor: str | None = None


class BotOut(BaseModel):
    id: str
    name: str
    description: str
    provider: str
    model: str


class SessionOut(BaseModel):
    userId: str
    token: str
    expiresAt: str | None


class MeOut(BaseModel):
    userId: str


class CancelOut(BaseModel):
    id: str
    status: str


class HealthOut(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
