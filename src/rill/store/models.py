"""Plain records the store hands out. Timestamps are UTC epoch milliseconds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["user", "assistant"]
MessageStatus = Literal["streaming", "complete", "cancelled", "error", "interrupted"]
FINAL_STATUSES: frozenset[str] = frozenset({"complete", "cancelled", "error", "interrupted"})


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class User:
    id: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    user_id: str
    chatbot_id: str
    title: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    user_id: str
    chatbot_id: str
    role: Role
    content: str
    status: MessageStatus
    created_at: int
    updated_at: int
    stop_reason: str | None = None
    usage: Usage | None = None
    #: The SSE id of the last event the reply's stream carried (set when it ends).
    final_event_id: str | None = None
    #: The node generating this reply while it streams (for crash recovery).
    node_id: str | None = None
    error: str | None = None
    #: The previous message on its path through the conversation's tree of versions
    #: (None for a first message). Its siblings (same parent) are its other versions.
    parent_id: str | None = None
    #: The ids of this message and its siblings, oldest first; ``(id,)`` when it has none.
    #: Filled by history reads; other reads leave ``(id,)``.
    versions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.versions:
            # Why here: a default cannot name the instance's own id.
            object.__setattr__(self, "versions", (self.id,))


@dataclass(frozen=True, slots=True)
class HistoryPage:
    #: Oldest first within the page; the page itself is the newest not yet seen.
    messages: list[Message] = field(default_factory=list)
    has_more: bool = False
    #: Pass as ``before`` to get the next (older) page; None when there is none.
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class TurnStart:
    """What ``Store.start_turn`` stored and read, in one transaction."""

    conversation: Conversation
    #: None for a regeneration, which asks again without a new question.
    user_message: Message | None
    #: The empty assistant message, status ``streaming``.
    reply: Message
    #: The conversation's last messages before the reply, oldest first: the model's context.
    context: list[Message] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A conversation that matched a search, with the text around its best match."""

    conversation: Conversation
    #: One line of the matching message or title, cut around the first matching word.
    snippet: str
