"""Stores: users, conversations and messages, with cursor-paginated history.

``Store`` is the interface; ``SQLiteStore`` is the embedded default,
``PostgresStore`` the shared one. ``open_store(url)`` picks one from a URL.
"""

from rill.store.base import Store
from rill.store.factory import open_store
from rill.store.models import (
    Conversation,
    HistoryPage,
    Message,
    MessageStatus,
    Role,
    Usage,
    User,
)

__all__ = [
    "Conversation",
    "HistoryPage",
    "Message",
    "MessageStatus",
    "Role",
    "Store",
    "Usage",
    "User",
    "open_store",
]
