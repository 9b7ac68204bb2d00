"""The ``Store`` contract. Every method is safe to call concurrently.

Ownership is enforced here, not only in handlers: every read of a user's data
takes the user id and answers ``NotFound`` for someone else's records, so a
handler cannot forget the check.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from rill.store.models import (
    Conversation,
    HistoryPage,
    Message,
    MessageStatus,
    SearchHit,
    TurnStart,
    Usage,
    User,
)


class Store(ABC):
    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect and apply migrations."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise ``StorageError`` if the store cannot be reached."""

    # users
    @abstractmethod
    async def ensure_user(self, user_id: str) -> User:
        """Return the user, creating it on first sight (JWT subjects arrive unannounced)."""

    # conversations
    @abstractmethod
    async def create_conversation(
        self, user_id: str, chatbot_id: str, title: str = ""
    ) -> Conversation:
        ...

    @abstractmethod
    async def get_conversation(self, user_id: str, conversation_id: str) -> Conversation:
        """Raise ``NotFound`` if absent or another user's."""

    @abstractmethod
    async def latest_conversation(self, user_id: str, chatbot_id: str) -> Conversation | None:
        """The conversation with this bot the user touched most recently."""

    @abstractmethod
    async def list_conversations(
        self,
        user_id: str,
        chatbot_id: str | None = None,
        limit: int = 50,
        before: tuple[int, str] | None = None,
    ) -> list[Conversation]:
        """Most recently updated first; with ``before`` (an ``(updated_at, id)`` key),
        only those after it in that order (cursor pagination)."""

    @abstractmethod
    async def rename_conversation(
        self, user_id: str, conversation_id: str, title: str
    ) -> Conversation:
        """Set its title (cut to the title length); its place in the list does not change.
        ``NotFound`` if absent or another user's."""

    @abstractmethod
    async def search_conversations(
        self,
        user_id: str,
        query: str,
        chatbot_id: str | None = None,
        limit: int = 20,
    ) -> list[SearchHit]:
        """The user's conversations (only theirs) whose title or finished shown
        messages contain every word of ``query`` (each as a word prefix), best match first: a
        title match outranks a message match, then by relevance, then most recent.
        Any query is safe: its words are kept, operators and quotes dropped
        (``rill.store.search_text``); one with no words finds nothing."""

    @abstractmethod
    async def delete_conversation(self, user_id: str, conversation_id: str) -> None:
        """Delete it with its messages. ``NotFound`` if absent or another user's;
        ``Conflict`` while a reply in it is still streaming."""

    # turns and messages
    @abstractmethod
    async def start_turn(
        self,
        *,
        user_id: str,
        chatbot_id: str,
        conversation_id: str | None,
        user_text: str | None,
        max_concurrent: int,
        node_id: str,
        replace_last_reply: bool = False,
        context_messages: int = 0,
        edit_of: str | None = None,
    ) -> TurnStart:
        """Atomically, in one call: find the conversation, check the user has fewer than
        ``max_concurrent`` replies streaming (else ``TooManyRequests``), store the user's
        message (unless ``user_text`` is None) and an empty assistant message with status
        ``streaming``, and read the model's context.

        The conversation is ``conversation_id`` (``NotFound`` if absent or another
        user's, ``Conflict`` if it belongs to another chatbot), or without one the
        user's latest conversation with ``chatbot_id`` (with ``edit_of``: that
        message's), created if there is none. A conversation is a tree of versions
        (``rill.store.versions``); the new messages continue the path it shows and
        are shown. ``replace_last_reply`` (regenerate): the shown path must end with a
        finished assistant reply (else ``Conflict``); it stays as an earlier version,
        and the new reply is its sibling. ``edit_of`` (resend an edited user message,
        with ``user_text`` the new text): the new message is a sibling of that user
        message of the conversation (``NotFound`` if it is none of its messages,
        ``InvalidInput`` for a reply), and the shown messages from it on stay as
        earlier versions; ``Conflict`` while a reply of the conversation streams.
        The context is the last ``context_messages`` shown messages before the
        reply, by id: a turn stored concurrently after this one is never in it.

        Why one call: each store call is a round trip, and under load every round trip
        waits a full event-loop turn before the next starts; the time to first token is
        the sum of them (docs/performance.md)."""

    @abstractmethod
    async def show_version(self, user_id: str, conversation_id: str, message_id: str) -> None:
        """Show ``message_id``: its path from the first message, and below it the
        versions shown there last, become the path the conversation shows.
        ``NotFound`` if the conversation is absent or another user's, or the message
        is not one of its; ``Conflict`` while a reply of the conversation streams."""

    @abstractmethod
    async def checkpoint(self, message_id: str, content: str) -> None:
        """Save the text generated so far of a streaming reply."""

    async def checkpoint_many(self, texts: list[tuple[str, str]]) -> None:
        """``checkpoint`` for several ``(message_id, content)`` pairs at once.

        Why: the checkpoint loop saves every active reply each period; one call
        (one statement) instead of one per reply keeps the period's cost flat
        (measured on the chat relay's per-token delay, docs/performance.md).
        """
        for message_id, content in texts:
            await self.checkpoint(message_id, content)

    @abstractmethod
    async def finish_message(
        self,
        message_id: str,
        *,
        content: str,
        status: MessageStatus,
        stop_reason: str | None,
        usage: Usage | None,
        final_event_id: str | None,
        error: str | None = None,
    ) -> Message:
        """Finalise a streaming reply. A no-op returning the row if it already ended."""

    @abstractmethod
    async def get_message(self, user_id: str, message_id: str) -> Message:
        """Raise ``NotFound`` if absent or another user's."""

    @abstractmethod
    async def recent_messages(self, conversation_id: str, limit: int) -> list[Message]:
        """The last ``limit`` shown messages of a conversation, oldest first."""

    @abstractmethod
    async def history(
        self,
        user_id: str,
        chatbot_id: str,
        *,
        conversation_id: str | None = None,
        before: str | None = None,
        limit: int = 20,
    ) -> HistoryPage:
        """Cursor pagination by message id (ids are time-ordered): the newest ``limit``
        shown messages older than ``before``, with their ``versions``. Without
        ``conversation_id``, all of the user's messages with that bot. An unknown or
        foreign ``before`` is ``NotFound``."""

    @abstractmethod
    async def history_page(
        self, user_id: str, chatbot_id: str, *, page: int, page_size: int
    ) -> list[Message]:
        """The seed's page-number pagination (page 0 = newest) of the shown messages,
        oldest first in the page."""

    @abstractmethod
    async def interrupt_streaming(self, node_id: str | None = None) -> int:
        """Mark replies left ``streaming`` as ``interrupted``, keeping their checkpointed
        text: all of them (``node_id`` None, embedded start-up) or one dead node's.
        Returns how many were marked."""

    @abstractmethod
    async def streaming_nodes(self) -> list[str]:
        """Node ids that own at least one streaming reply (for dead-node recovery)."""

    @abstractmethod
    async def streaming_replies(self, node_id: str) -> list[Message]:
        """The replies ``node_id`` has streaming, oldest first, with their checkpointed
        text (for recovering a dead node's replies one by one; ``finish_message``
        arbitrates between nodes recovering at once)."""

    # revoked tokens (``DELETE /api/session``)
    @abstractmethod
    async def revoke_token(self, token_id: str, expires_at: int) -> None:
        """Deny the token ``token_id`` (a digest, never the token) until ``expires_at``
        (epoch ms); entries already past their expiry are forgotten."""

    @abstractmethod
    async def is_token_revoked(self, token_id: str) -> bool:
        """Whether ``token_id`` is denied (and not yet past its expiry)."""

    @abstractmethod
    async def last_revocation(self) -> int:
        """When (epoch ms) the latest revocation was recorded, 0 if none: other nodes
        poll it to forget the tokens they trusted."""
