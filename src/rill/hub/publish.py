"""Publishing: validate an update, authorize it, append it to the broker.

An update is acknowledged (its id returned) only after the broker accepted
it; a broker failure is a 503 and nothing is acknowledged. Delivery is not
done here: every node, this one included, picks the update up from the
stream (``feed.py``), so one publish path serves one node or many.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

from rill.broker.base import Broker
from rill.config import HubSettings
from rill.errors import BrokerError, Forbidden, InvalidInput
from rill.hub.limits import (
    BadRequest,
    check_data,
    check_id,
    check_retry,
    check_topic,
    check_type,
)
from rill.hub.update import STREAM, Update
from rill.metrics import HUB_PUBLISHES

_RESERVED_PATH = "/.well-known/mercure"


class ReservedTopic(Forbidden):
    """403: the topic lies in the hub's own namespace (subscription events)."""


def is_reserved(topic: str, base: str) -> bool:
    """Topics resolving to ``/.well-known/mercure[/…]`` on any host are the hub's own."""
    try:
        path = urlsplit(urljoin(base, topic)).path
    except ValueError:
        return False
    return path == _RESERVED_PATH or path.startswith(_RESERVED_PATH + "/")


def build_update(
    topics: Sequence[str],
    data: str,
    *,
    settings: HubSettings,
    private: bool = False,
    type: str | None = None,
    id: str | None = None,
    retry: str | int | None = None,
) -> Update:
    """Validate every field; raises ``BadRequest`` (400) or ``PayloadTooLarge`` (413)."""
    if not topics:
        raise BadRequest("at least one topic is required")
    if len(topics) > settings.max_topics:
        raise BadRequest(f"at most {settings.max_topics} topics per update")
    for topic in topics:
        check_topic(topic, max_length=settings.max_topic_length)
    check_data(data, max_bytes=settings.max_data_bytes)
    if type is not None:
        check_type(type)
    if id is not None:
        check_id(id)
    retry_ms = check_retry(str(retry)) if retry is not None else None
    return Update(
        id=id if id is not None else f"urn:uuid:{uuid.uuid4()}",
        topics=tuple(topics),
        data=data,
        private=private,
        type=type or None,
        retry=retry_ms,
    )


def update_from_form(fields: list[tuple[str, str]], settings: HubSettings) -> Update:
    topics: list[str] = []
    data = ""
    private = False
    values: dict[str, str] = {}
    for name, value in fields:
        if name == "topic":
            topics.append(value)
        elif name == "data":
            data = value
        elif name == "private":
            # Presence alone marks an update private, whatever the value (spec).
            private = True
        elif name in ("id", "type", "retry"):
            values[name] = value
    return build_update(
        topics,
        data,
        settings=settings,
        private=private,
        type=values.get("type"),
        id=values.get("id"),
        retry=values.get("retry"),
    )


class Publisher:
    def __init__(self, broker: Broker, settings: HubSettings) -> None:
        self._broker = broker
        # Why no floor: the stream is held in memory (memory broker) or by Redis,
        # so it must honour the retention the operator set. Live delivery does not
        # depend on it: brokers never trim the entry being appended, and the memory
        # broker nothing its subscribers have yet to read (broker/base.py).
        self._maxlen = settings.retention_count
        self._max_age = settings.retention_seconds
        self._max_bytes = settings.retention_bytes

    async def append(self, update: Update) -> str:
        """Store the update durably in the stream; its id once stored."""
        try:
            await self._broker.append(
                STREAM,
                update.to_payload(),
                maxlen=self._maxlen,
                max_age=self._max_age,
                max_bytes=self._max_bytes,
            )
        except InvalidInput:
            raise
        except Exception as exc:
            raise BrokerError("the update could not be stored; it was not published") from exc
        HUB_PUBLISHES.inc()
        return update.id
