"""Active subscriptions: the events announcing them and the API listing them.

Events are ordinary private updates on hub-reserved topics, published through
the broker like any other, with the SSE event type ``mercure`` that no
publisher may use; every node rebuilds the set of active subscriptions from
the events it follows, so the API answers for the whole cluster, not just for
the node that holds the connection. Documents are plain JSON with the spec's
lower-case names (``type: "subscription"``, ``match_type: "exact"``).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import quote, unquote

import orjson

from rill.hub.update import Record, Update

log = logging.getLogger("rill.hub")

PREFIX = "/.well-known/mercure/subscriptions"
#: The SSE event type of subscription events (reserved: publishers get 400 for it).
EVENT_TYPE = "mercure"


def subscription_topic(match_type: str, match: str, subscriber: str) -> str:
    # Each value is percent-encoded once, as a whole (spec).
    return f"{PREFIX}/{match_type}/{quote(match, safe='')}/{quote(subscriber, safe='')}"


def subscription_document(
    match_type: str, match: str, subscriber: str, active: bool, payload: Any
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": subscription_topic(match_type, match, subscriber),
        "type": "subscription",
        "match_type": match_type,
        "match": match,
        "subscriber": subscriber,
        "active": active,
    }
    if payload is not None:
        document["payload"] = payload
    return document


def new_subscriber_id() -> str:
    """A connection's subscriber id: hub-generated, so it discloses no token claim
    to those watching subscription events, and is unique by construction (spec)."""
    return f"urn:uuid:{uuid.uuid4()}"


class ActiveSubscriptions:
    """Subscription documents by topic, kept current from the update stream."""

    def __init__(self) -> None:
        self._active: dict[str, dict[str, Any]] = {}

    def __contains__(self, topic: str) -> bool:
        return topic in self._active

    def observe(self, record: Record) -> None:
        topic = record.topics[0]
        if not topic.startswith(PREFIX + "/"):
            return
        try:
            document = orjson.loads(record.data())
        except orjson.JSONDecodeError:
            return
        if not isinstance(document, dict):
            return
        if document.get("active"):
            self._active[topic] = document
        else:
            self._active.pop(topic, None)

    def event(self, document: dict[str, Any]) -> Update:
        return Update(
            id=f"urn:uuid:{uuid.uuid4()}",
            topics=(document["id"],),
            data=orjson.dumps(document).decode(),
            private=True,
            type=EVENT_TYPE,
        )

    def select(self, segments: list[str]) -> list[dict[str, Any]] | dict[str, Any] | None:
        """Documents under ``/subscriptions/{match_type}/{match}[/{subscriber}]``.

        ``segments`` are the raw, still percent-encoded path segments after the
        prefix. Returns a list for collections, one document, or None (404).
        """
        if not segments:
            return list(self._active.values())
        if len(segments) == 2:
            match_type, match = segments[0], unquote(segments[1])
            return [
                d
                for d in self._active.values()
                if d["match_type"] == match_type and d["match"] == match
            ]
        if len(segments) == 3:
            topic = subscription_topic(segments[0], unquote(segments[1]), unquote(segments[2]))
            return self._active.get(topic)
        return None
