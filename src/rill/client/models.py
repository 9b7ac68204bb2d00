"""The JSON resources of the chat API as typed, immutable values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "Bot",
    "CancelResult",
    "Conversation",
    "HistoryPage",
    "Message",
    "Session",
    "Usage",
]

# Any in this module: each ``from_json`` takes a decoded JSON object, the boundary.


def _time(value: Any) -> datetime | None:
    # Why: Python 3.11's fromisoformat reads the "Z" suffix and fractional seconds.
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class Session:
    user_id: str
    token: str
    expires_at: datetime | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Session:
        return cls(str(body["userId"]), str(body["token"]), _time(body.get("expiresAt")))


@dataclass(frozen=True, slots=True)
class Bot:
    id: str
    name: str
    description: str
    provider: str
    model: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Bot:
        return cls(
            str(body["id"]),
            str(body.get("name") or body["id"]),
            str(body.get("description") or ""),
            str(body.get("provider") or ""),
            str(body.get("model") or ""),
        )


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    @classmethod
    def from_json(cls, body: dict[str, Any] | None) -> Usage | None:
        if not body:
            return None
        return cls(int(body.get("inputTokens") or 0), int(body.get("outputTokens") or 0))


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    chatbot_id: str
    role: str
    content: str
    created_at: datetime | None
    status: str
    stop_reason: str | None
    usage: Usage | None
    #: The previous message on its path (None for the first).
    parent_id: str | None = None
    #: This message and its other versions (edits, regenerated replies), oldest first.
    versions: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Message:
        return cls(
            id=str(body["id"]),
            conversation_id=str(body.get("conversationId") or ""),
            chatbot_id=str(body.get("chatbotId") or ""),
            role=str(body["role"]),
            content=str(body.get("content") or ""),
            created_at=_time(body.get("createdAt")),
            status=str(body.get("status") or "complete"),
            stop_reason=body.get("stopReason"),
            usage=Usage.from_json(body.get("usage")),
            parent_id=body.get("parentId"),
            versions=tuple(str(v) for v in body.get("versions") or (body["id"],)),
        )


@dataclass(frozen=True, slots=True)
class HistoryPage:
    messages: list[Message]
    has_more: bool
    #: Pass as ``before`` to get the next (older) page.
    next_cursor: str | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> HistoryPage:
        return cls(
            [Message.from_json(m) for m in body.get("messages") or []],
            bool(body.get("hasMore")),
            body.get("nextCursor"),
        )


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    chatbot_id: str
    title: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Conversation:
        return cls(
            str(body["id"]),
            str(body.get("chatbotId") or ""),
            body.get("title"),
            _time(body.get("createdAt")),
            _time(body.get("updatedAt")),
        )


@dataclass(frozen=True, slots=True)
class CancelResult:
    id: str
    status: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> CancelResult:
        return cls(str(body["id"]), str(body["status"]))
