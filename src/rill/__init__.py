"""Rill: a real-time server on Server-Sent Events.

Streaming AI chat and a Mercure hub on one core. The public surface is exactly
``__all__``: the app factory, settings, the clients and the error base class.
``tests/unit/test_exported_members.py`` keeps it honest.
"""

from rill._version import __version__
from rill.client import AsyncChatClient, ChatClient, HubClient, SyncHubClient
from rill.config import Settings, load_settings
from rill.errors import RillError
from rill.http.app import create_app

__all__ = [
    "AsyncChatClient",
    "ChatClient",
    "HubClient",
    "RillError",
    "Settings",
    "SyncHubClient",
    "__version__",
    "create_app",
    "load_settings",
]
