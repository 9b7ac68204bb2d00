"""``GET /.well-known/mercure``: one subscriber's stream.

This is the portable path, for any ASGI server: the request task is the
connection's writer. It waits on a future that the fan-out resolves, sends
whatever is pending in one ``send``, and waits again. Under ``rill serve``
(plain HTTP) there is no writer task: ``direct.py`` serves the stream from
uvicorn's protocol object with the same setup (``open_subscription``), head
(``stream_headers``), replay (``replay_chunk``) and start/end bookkeeping
(``Hub.stream_started``/``stream_ended``) as here.
While a reconnecting subscriber catches up, it reads straight from the replay
index in bounded chunks instead of having the fan-out queue the backlog, so a
long replay costs no more memory than a live stream. Switching from replay to
live happens in one synchronous step, which is what guarantees no update is
skipped or sent twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from rill.errors import RillError, TooManyRequests
from rill.hub._asgi import Receive, Reply, Scope, Send, cookies, header_map, query
from rill.hub.auth import MissingToken, find_token
from rill.hub.errors import send_error
from rill.hub.fanout import Connection
from rill.hub.grants import Grants
from rill.hub.limits import BadRequest, check_matcher
from rill.hub.matchers import (
    LEGACY_QUERY_PARAMETERS,
    QUERY_PARAMETERS,
    Matcher,
    in_match_namespace,
    legacy_selector,
    matcher,
)
from rill.hub.replay import SCAN_LIMIT
from rill.hub.subscriptions import new_subscriber_id
from rill.hub.update import Record
from rill.sse.encoder import retry_field

if TYPE_CHECKING:
    from rill.hub.hub import Hub

#: The spec's name for the first connection's cursor, then earlier spellings
#: (``hub.legacy_parameters``).
_LAST_EVENT_ID = "last_event_id"
_LEGACY_LAST_EVENT_ID = ("lastEventID", "lastEventId")
_REPLAY_RECORDS = 256
_REPLAY_BYTES = 256 * 1024


def parse_matchers(params: list[tuple[str, str]], hub: Hub) -> tuple[Matcher, ...]:
    settings = hub.settings.hub
    found: dict[tuple[str, str], Matcher] = {}
    count = 0
    names = QUERY_PARAMETERS
    if settings.legacy_parameters:
        names = QUERY_PARAMETERS | LEGACY_QUERY_PARAMETERS
    for name, value in params:
        if name in names:
            kind = names[name]
            check_matcher(value, max_length=settings.max_topic_length)
            m = matcher(kind, value, hub.base)
        elif name == "topic" and settings.legacy_parameters:
            check_matcher(value, max_length=settings.max_topic_length)
            m = legacy_selector(value, hub.base)
        elif in_match_namespace(name):
            raise BadRequest(f"unknown matcher parameter {name!r}")
        else:
            continue
        count += 1
        if count > settings.max_topics:
            raise BadRequest(f"at most {settings.max_topics} topic matchers per subscription")
        # Identical matchers are one subscription (the spec allows deduplication).
        found.setdefault((m.kind, m.value), m)
    if not found:
        raise BadRequest("at least one topic matcher (match=…) is required")
    return tuple(found.values())


def accepts(conn: Connection, record: Record) -> bool:
    """Would the fan-out send ``record`` to ``conn``? (used by replay)."""
    if not any(m.matches(t) for m in conn.matchers for t in record.topics):
        return False
    return not record.private or conn.grants.can_subscribe_any(record.topics)


def _visible(grants: Grants, record: Record) -> bool:
    return not record.private or grants.can_subscribe_any(record.topics)


class Subscription:
    """One ``GET`` request, from validation to the end of its stream."""

    # Why slots, and a subscriber id only when announced: idle memory per
    # subscriber is a target (docs/performance.md), and these are per connection.
    __slots__ = ("hub", "scope", "receive", "send", "reply")

    def __init__(self, hub: Hub, scope: Scope, receive: Receive, reply: Reply) -> None:
        self.hub = hub
        self.scope = scope
        self.receive = receive
        #: The server's own ``send``: see ``Reply``.
        self.send = reply.raw
        self.reply = reply

    async def run(self) -> None:
        hub = self.hub
        try:
            conn, last_event_id = await open_subscription(hub, self.scope)
        except RillError as error:
            await send_error(self.reply, error, hub.metadata_url(self.scope))
            return
        conn.abort = _aborter(self.send)
        hub.stream_started()
        try:
            await self._start_response(last_event_id)
            if hub.settings.hub.subscriptions:
                await hub.announce(conn, active=True)
            await self._write_loop(conn)
        finally:
            hub.stream_ended(conn)
            if hub.settings.hub.subscriptions:
                await hub.announce(conn, active=False)

    async def _start_response(self, last_event_id: str | None) -> None:
        headers = stream_headers(last_event_id, self.reply.cors)
        self.reply.status = 200
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})
        await self.send(
            {
                "type": "http.response.body",
                "body": retry_field(self.hub.settings.retry_ms),
                "more_body": True,
            }
        )

    async def _write_loop(self, conn: Connection) -> None:
        send = self.send
        loop = asyncio.get_running_loop()
        while conn.closed is None:
            chunk_ = replay_chunk(self.hub, conn) if conn.cursor is not None else conn.take()
            if chunk_:
                conn.blocked_since = time.monotonic()
                await send({"type": "http.response.body", "body": chunk_, "more_body": True})
                conn.blocked_since = 0.0
                conn.wrote = True
            elif conn.cursor is None and conn.closed is None and not conn.poll:
                waiter = loop.create_future()
                conn.waiter = waiter
                try:
                    await waiter
                finally:
                    conn.waiter = None
            if conn.poll:
                conn.poll = False
                if await _peer_gone(self.receive):
                    self.hub.registry.drop(conn, "gone")
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def open_subscription(hub: Hub, scope: Scope) -> tuple[Connection, str | None]:
    """Validate and authorise a subscribe request, then register its connection.

    Returns the connection (its replay cursor set) and the ``Last-Event-ID``
    response header value; raises ``RillError`` before registering anything.
    """
    settings = hub.settings.hub
    params = query(scope, settings.max_topics + 32)
    matchers = parse_matchers(params, hub)
    headers = header_map(scope)
    values: dict[str, list[str]] = {}
    for name, value in params:
        values.setdefault(name, []).append(value)
    credentials = find_token(
        headers,
        cookies(headers),
        values if settings.query_token else None,
        cookie_name=settings.cookie_name,
        legacy_cookies=settings.legacy_cookies,
        session_cookie=hub.settings.session_cookie,
    )
    grants = await hub.auth.grants(credentials, "subscribe")
    if credentials.token is None and not settings.anonymous:
        raise MissingToken("an access token is required to subscribe")
    requested = _requested_id(headers, values, legacy=settings.legacy_parameters)
    # A fresh id per connection, never ``sub``: see subscriptions.new_subscriber_id.
    subscriber = new_subscriber_id() if settings.subscriptions else ""
    conn = Connection(matchers, grants, subscriber)
    conn.close_at = _close_at(grants, settings.max_connection_seconds)
    if credentials.token is not None and settings.max_subscriptions_per_token:
        # A digest, not the token: the registry outlives the request, and keeps no secret.
        key = hashlib.blake2b(credentials.token.encode(), digest_size=16).digest()
        if hub.registry.per_token.get(key, 0) >= settings.max_subscriptions_per_token:
            raise TooManyRequests(
                f"this token already has {settings.max_subscriptions_per_token} open "
                "subscriptions on this hub; close one first",
                retry_after=5.0,
            )
        conn.token_key = key
    answer = await _position(hub, conn, requested)
    # From here to ``add`` nothing awaits: the cursor and the registration
    # see the same index, so no update falls between replay and live.
    hub.registry.add(conn)
    return conn, answer


def _close_at(grants: Grants, lifetime: float) -> float:
    """When the hub ends a new connection: its token's ``exp`` or its lifetime, if sooner."""
    close_at = grants.expires_at if grants.expires_at is not None else math.inf
    if lifetime:
        close_at = min(close_at, time.time() + lifetime * random.uniform(0.9, 1.0))
    return close_at


async def _position(hub: Hub, conn: Connection, requested: str | None) -> str | None:
    """Set the replay cursor; the ``Last-Event-ID`` response header value."""
    if requested is None:
        return None
    index = hub.index
    if requested == "earliest":
        conn.cursor = index.first_seq
        return "earliest"
    seq = index.find(requested)
    if seq is None:
        await hub.catch_up()
        seq = index.find(requested)
    if seq is None:
        # Unknown or discarded: replay what is retained and say so.
        conn.cursor = index.first_seq
        return "earliest"
    conn.cursor = seq + 1
    for record in index.iter_back(seq, SCAN_LIMIT):
        if _visible(conn.grants, record):
            return record.id
    return "earliest"


def stream_headers(
    last_event_id: str | None, cors: Sequence[tuple[bytes, bytes]] = ()
) -> list[tuple[bytes, bytes]]:
    """The response headers of a subscription (after the server's own), CORS last."""
    headers = [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"private, no-cache, no-store"),
        (b"x-accel-buffering", b"no"),
    ]
    if last_event_id is not None:
        value = last_event_id.encode()
        headers += [(b"last-event-id", value), (b"mercure-last-event-id", value)]
    headers += cors
    return headers


def replay_chunk(hub: Hub, conn: Connection) -> bytes:
    """The next bounded run of replayed events for ``conn``; advances its cursor.

    The cursor becomes None once the replay reaches the live end of the index,
    in the same synchronous step, so the fan-out takes over without a gap.
    """
    index = hub.index
    cursor = conn.cursor
    assert cursor is not None
    if cursor < index.first_seq:
        # The window moved past this reader while it was slow: end the
        # stream, so that it reconnects and is told what it missed.
        hub.registry.drop(conn, "lost")
        return b""
    parts: list[memoryview] = []
    size = 0
    records = index.iter_from(cursor, _REPLAY_RECORDS)
    for record in records:
        cursor += 1
        if accepts(conn, record):
            wire = record.wire
            parts.append(wire)
            size += len(wire)
            if size >= _REPLAY_BYTES:
                break
    conn.cursor = None if cursor >= index.next_seq else cursor
    return b"".join(parts)


def _requested_id(
    headers: dict[bytes, bytes], values: dict[str, list[str]], *, legacy: bool
) -> str | None:
    """The header wins over the query parameter (spec)."""
    header = headers.get(b"last-event-id")
    if header is not None:
        return header.decode("utf-8", "replace")
    for name in (_LAST_EVENT_ID, *(_LEGACY_LAST_EVENT_ID if legacy else ())):
        if values.get(name):
            return values[name][0]
    return None


async def _peer_gone(receive: Receive) -> bool:
    """Has the client disconnected? Answers at once, without a task per connection.

    Why: ASGI reports a disconnect only through ``receive``; waiting on it for
    the whole stream would need a second task per subscriber, so the writer
    peeks on every heartbeat instead, with a zero timeout.
    """
    try:
        async with asyncio.timeout(0):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return True
    except TimeoutError:
        return False


def _aborter(send: Send) -> Callable[[], None] | None:
    """A callable that drops the client's socket at once, if the server exposes it.

    Why: a subscriber that stops reading leaves ``send`` parked until its socket
    drains, which may be never; ``transport.close()`` would wait for that too.
    uvicorn's ``send`` is a bound method of its request cycle, which holds the
    transport; with a server that hides it, the stalled request is cancelled.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    abort = getattr(transport, "abort", None)
    if callable(abort):
        return cast(Callable[[], None], abort)
    task = asyncio.current_task()
    if task is None:
        return None
    return lambda: None if task.cancel() else None
