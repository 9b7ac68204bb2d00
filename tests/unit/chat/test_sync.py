"""ChatSync: one private update per chat event, and a failed publish never fails the chat."""

from __future__ import annotations

import json

from rill.chat.sync import ChatSync, user_topic
from rill.errors import BrokerError


async def test_each_event_is_one_update_on_the_users_topic() -> None:
    sent: list[tuple[str, dict[str, object], str]] = []

    async def publish(topic: str, data: str, kind: str) -> str:
        sent.append((topic, json.loads(data), kind))
        return "urn:uuid:1"

    sync = ChatSync(publish)
    await sync.reply_ended("u1", conversation_id="c", message_id="m", chatbot_id="echo",
                           status="cancelled")
    await sync.reply_ended("u1", conversation_id="c", message_id="m", chatbot_id="echo",
                           status="interrupted")
    await sync.conversation_deleted("u2", conversation_id="c")
    assert [(t, k) for t, _, k in sent] == [
        ("users/u1/chat", "reply_stopped"), ("users/u1/chat", "reply_finished"),
        ("users/u2/chat", "conversation_deleted"),
    ]
    assert all(isinstance(data.pop("ts"), int) for _, data, _ in sent)
    assert sent[2][1] == {"conversation_id": "c"}
    assert user_topic("abc") == "users/abc/chat"


async def test_a_failed_publish_is_logged_not_raised(caplog) -> None:
    async def broken(topic: str, data: str, kind: str) -> str:
        raise BrokerError("redis is down")

    await ChatSync(broken).conversation_deleted("u1", conversation_id="c")
    await ChatSync().conversation_deleted("u1", conversation_id="c")  # no hub: nothing
    assert "chat sync publish failed" in caplog.text
