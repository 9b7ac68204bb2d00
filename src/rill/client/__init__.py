"""Rill's Python client: a reconnecting SSE client, the chat API and the Mercure hub."""

from rill.client.chat import AsyncChatClient, ChatClient
from rill.client.errors import (
    APIError,
    NotAnEventStream,
    ReconnectExhausted,
    RillClientError,
    StreamError,
    StreamInterrupted,
)
from rill.client.events import (
    ChatEvent,
    ContentBlockStart,
    ContentBlockStop,
    ErrorEvent,
    MessageDelta,
    MessageStart,
    MessageStop,
    Ping,
    TextDelta,
    UnknownEvent,
)
from rill.client.hub import HubClient, HubError, SyncHubClient
from rill.client.models import (
    Bot,
    CancelResult,
    Conversation,
    HistoryPage,
    Message,
    Session,
    Usage,
)
from rill.client.reply import AsyncReplyStream, Reply, ReplyStream
from rill.client.sse import AsyncEventSource, EventSource, ReconnectPolicy, SSERequest

__all__ = [
    "APIError",
    "AsyncChatClient",
    "AsyncEventSource",
    "AsyncReplyStream",
    "Bot",
    "CancelResult",
    "ChatClient",
    "ChatEvent",
    "ContentBlockStart",
    "ContentBlockStop",
    "Conversation",
    "ErrorEvent",
    "EventSource",
    "HistoryPage",
    "HubClient",
    "HubError",
    "Message",
    "MessageDelta",
    "MessageStart",
    "MessageStop",
    "NotAnEventStream",
    "Ping",
    "ReconnectExhausted",
    "ReconnectPolicy",
    "Reply",
    "ReplyStream",
    "RillClientError",
    "SSERequest",
    "Session",
    "StreamError",
    "StreamInterrupted",
    "SyncHubClient",
    "TextDelta",
    "UnknownEvent",
    "Usage",
]
