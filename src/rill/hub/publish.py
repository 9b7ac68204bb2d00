"""Publishing: validate an update, authorize it, append it to the broker.

An update is acknowledged (its id returned) only after the broker accepted
it; a broker failure is a 503 and nothing is acknowledged. Delivery is not
done here: every node, this one included, picks the update up from the
stream (``feed.py``), so one publish path serves one node or many.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

from rill.broker.base import Broker
from rill.config import HubSettings
from rill.errors import BrokerError, InvalidInput
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

_HUB_PATH = "/.well-known/mercure"
#: ``%XX`` escapes of unreserved characters (RFC 3986 §2.3), which normalization decodes.
_UNRESERVED_ESCAPE = re.compile(r"%(2[dDeE]|3[0-9]|[46][1-9a-fA-F]|[57][0-9aA]|5[fF]|7[eE])")


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_SPECIAL_SCHEMES = {"http", "https", "ws", "wss", "ftp", "file"}


class ReservedTopic(BadRequest):
    """400: the topic lies in the hub's own namespace (subscription events)."""


def _normalized_path(path: str) -> str:
    """Decode unreserved ``%XX``, then remove dot segments (RFC 3986 §6.2.2, §5.2.4).

    Why both: ``/.well-known/%6Dercure/…`` and ``/.well-known/mercure/../mercure/…``
    name the hub's namespace as surely as the plain form (spec, Publication).
    """
    decoded = _UNRESERVED_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), path)
    output: list[str] = []
    segments = decoded.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/".join(output)


def is_reserved(topic: str, base: str) -> bool:
    """Does ``topic``, resolved against the hub's URL, name ``/.well-known/mercure[/…]``?

    Any scheme or host counts: only the path is compared. A topic that is no
    URL reference at all cannot name a hub path and is not reserved.
    """
    hub_path = urlsplit(base).path.rstrip("/") or _HUB_PATH
    # As the WHATWG URL parser does: surrounding spaces go, and in the special
    # schemes (a relative reference inherits the hub's) a backslash is a slash.
    reference = topic.strip(" ")
    scheme = _SCHEME.match(reference)
    if scheme is None or scheme.group(1).lower() in _SPECIAL_SCHEMES:
        reference = reference.replace("\\", "/")
    try:
        path = urlsplit(urljoin(base, reference)).path
    except ValueError:
        return False
    path = _normalized_path(path)
    return path == hub_path or path.startswith(hub_path + "/")


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
        if topic == "*":
            # ``*`` is the wildcard matcher: a topic spelled so is not addressable.
            raise BadRequest("'*' is the wildcard matcher, not a topic")
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
