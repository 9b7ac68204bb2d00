"""Chat sync: each user's chat events, published to that user's private hub topic.

A second tab or device of the same user subscribes to ``users/{user}/chat``
(the session's hub authorization grants exactly its own ``users/{user}/…``
tree, ``hub/grants.py``) and follows new turns, joins streaming replies,
and sees renames and deletions (issue 17). One publish per event, never per
token: the reply's text travels through ``GET /api/chat/{id}/stream``.

The chat layer does not know the hub: the app injects a ``Publish`` callable
(the hub's in-process publish) when it builds the services.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from rill.errors import RillError

log = logging.getLogger("rill.chat")

#: ``publish(topic, data, type)``: publishes one private update.
Publish = Callable[[str, str, str], Awaitable[object]]


def user_topic(user_id: str) -> str:
    """The private topic carrying one user's chat events (relative to the hub's base)."""
    return f"users/{user_id}/chat"


class ChatSync:
    """Publishes chat events; without a hub (``hub.enabled = false``) it does nothing."""

    def __init__(self, publish: Publish | None = None) -> None:
        self._publish = publish

    async def turn_started(
        self, user_id: str, *, conversation_id: str, message_id: str,
        user_message_id: str | None, chatbot_id: str, edit_of: str | None = None,
    ) -> None:
        """``edit_of``: the turn resends that message edited, so what other tabs show
        below it is now an earlier version (they reload the conversation)."""
        await self._send(user_id, "turn_started", {
            "conversation_id": conversation_id, "message_id": message_id,
            "user_message_id": user_message_id, "chatbot_id": chatbot_id,
            "edit_of": edit_of,
        })

    async def reply_ended(
        self, user_id: str, *, conversation_id: str, message_id: str,
        chatbot_id: str, status: str,
    ) -> None:
        """``reply_stopped`` when the user stopped it, ``reply_finished`` otherwise."""
        kind = "reply_stopped" if status == "cancelled" else "reply_finished"
        await self._send(user_id, kind, {
            "conversation_id": conversation_id, "message_id": message_id,
            "chatbot_id": chatbot_id, "status": status,
        })

    async def conversation_renamed(
        self, user_id: str, *, conversation_id: str, chatbot_id: str, title: str
    ) -> None:
        await self._send(user_id, "conversation_renamed", {
            "conversation_id": conversation_id, "chatbot_id": chatbot_id, "title": title,
        })

    async def versions(
        self, user_id: str, *, conversation_id: str, chatbot_id: str, message_id: str
    ) -> None:
        """The user switched the conversation to another version (``message_id``)."""
        await self._send(user_id, "versions", {
            "conversation_id": conversation_id, "chatbot_id": chatbot_id,
            "message_id": message_id,
        })

    async def conversation_deleted(self, user_id: str, *, conversation_id: str) -> None:
        await self._send(user_id, "conversation_deleted", {"conversation_id": conversation_id})

    async def _send(self, user_id: str, kind: str, data: dict[str, Any]) -> None:
        if self._publish is None:
            return
        # Why a time: the hub replays recent events to a page that opens; the page
        # applies only the ones newer than itself, and the bell orders notes by it.
        data["ts"] = int(time.time() * 1000)
        try:
            await self._publish(user_topic(user_id), json.dumps(data), kind)
        except RillError as exc:
            # Why swallow: sync is a convenience for other tabs; the turn, rename or
            # delete itself already succeeded and must not fail because of it.
            log.warning("chat sync publish failed", extra={"event": "chat_sync_failed",
                        "user": user_id, "error": exc.code})
