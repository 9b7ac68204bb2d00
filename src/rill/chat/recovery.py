"""Dead-node recovery: with a shared broker, a node that dies mid-reply does not
leave its replies ``streaming`` for ever.

Liveness. Every node appends its id to one broker stream, ``nodes:heartbeat``,
every ``node_timeout / 5`` seconds. Entries get auto ids, so each carries the
*broker's* clock in ms: all nodes are judged by one clock and their own clocks
may disagree. A node is alive when it has an entry less than ``node_timeout``
older than the newest entry. One stream, trimmed by age, rather than a key per
node: nothing is left behind by the thousands of node ids (``host:pid``) a
deployment goes through.

Judging. Each node's watch loop asks the store which nodes own streaming
replies, and recovers those without a recent heartbeat. A node judges only
after its own heartbeats have run unbroken for ``node_timeout``: after a broker
outage, or a stall of its own event loop, everyone's beats have a gap, and
silence then proves nothing.

Recovering a reply. The dead node's broker stream holds every event it sent,
so the text is rebuilt from the stream (the checkpoint may lag by a second),
and the reply is finished through ``Store.finish_message``, whose
``UPDATE … WHERE status = 'streaming'`` lets exactly one write win when two
nodes recover at once, or when the "dead" node was only slow and finishes
itself. Only if the row then holds *our* ending is the fixed finale
(``events.finale``) appended: every recoverer computes identical events at
identical ids, so an append that finds its id already taken (another recoverer
was first) is skipped, and live readers on any node see ``message_delta``
(``interrupted``) and ``message_stop``.

At start a node recovers its own node id at once (a previous incarnation with
a configured ``RILL_NODE_ID``); other dead nodes are found by the watch loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from rill.broker.base import Broker, Entry, StreamMissing, parse_id
from rill.chat import events
from rill.errors import InvalidInput, RillError
from rill.sse.decoder import SSEDecoder
from rill.store.base import Store
from rill.store.models import Message, Usage

log = logging.getLogger("rill.chat")

HEARTBEATS = "nodes:heartbeat"
#: Events of a reply before its finale: their ids are the base the finale follows.
_BODY = frozenset({"message_start", "content_block_start", "content_block_delta"})
_PAGE = 1000


class NodeRecovery:
    def __init__(
        self, store: Store, broker: Broker, *, node_id: str, timeout: float, stream_ttl: float
    ) -> None:
        self.store = store
        self.broker = broker
        self.node_id = node_id
        self.timeout_ms = int(timeout * 1000)
        self.interval = timeout / 5
        self.stream_ttl = stream_ttl
        #: Broker ms of our latest beat, and of the first beat of the current unbroken run.
        self._last_beat: int | None = None
        self._healthy_since: int | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Beat once (so we count as alive before serving), recover our own previous
        incarnation, then keep beating and watching in the background."""
        await self._beat()
        await self.recover_node(self.node_id)
        self._tasks = [
            asyncio.create_task(self._heartbeat_loop(), name="rill-node-heartbeat"),
            asyncio.create_task(self._watch_loop(), name="rill-node-watch"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _beat(self) -> None:
        entry_id = await self.broker.append(
            HEARTBEATS, self.node_id.encode(), max_age=self.timeout_ms * 6 / 1000
        )
        ms = parse_id(entry_id)[0]
        if self._last_beat is None or ms - self._last_beat > self.timeout_ms // 2:
            self._healthy_since = ms
        self._last_beat = ms

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._beat()
            except RillError:
                self._last_beat = self._healthy_since = None
                log.warning("heartbeat failed", extra={"event": "heartbeat_failed"})

    async def _watch_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except RillError as exc:
                log.warning("dead-node check failed: %s", exc.detail,
                            extra={"event": "recovery_failed"})
            except Exception:
                log.exception("dead-node check crashed", extra={"event": "recovery_crashed"})

    async def check(self) -> list[str]:
        """Recover every node that owns streaming replies and has gone silent."""
        nodes = [n for n in await self.store.streaming_nodes() if n != self.node_id]
        if not nodes or self._healthy_since is None:
            return []
        alive, now = await self._alive()
        if now - self._healthy_since < self.timeout_ms:
            return []
        dead = [n for n in nodes if n not in alive]
        for node in dead:
            log.warning("node %s is silent; recovering its replies", node,
                        extra={"event": "node_dead", "node": node})
            await self.recover_node(node)
        return dead

    async def _alive(self) -> tuple[set[str], int]:
        """Nodes with a beat in the last ``timeout``, and the broker's "now" (newest beat)."""
        newest = await self.broker.last_id(HEARTBEATS)
        now = parse_id(newest)[0] if newest else 0
        after = f"{max(now - self.timeout_ms, 0)}-0"
        alive: set[str] = set()
        while True:
            entries = await self.broker.read(HEARTBEATS, after, _PAGE)
            alive.update(e.payload.decode(errors="replace") for e in entries)
            if len(entries) < _PAGE:
                return alive, now
            after = entries[-1].id

    async def recover_node(self, node_id: str) -> int:
        """End every reply ``node_id`` left streaming; returns how many we ended."""
        ended = 0
        for message in await self.store.streaming_replies(node_id):
            if await self.recover_reply(message):
                ended += 1
        if ended:
            log.warning("marked %d replies of node %s interrupted", ended, node_id,
                        extra={"event": "replies_interrupted", "node": node_id, "count": ended})
        return ended

    async def recover_reply(self, message: Message) -> bool:
        """End one orphaned reply as ``interrupted``; False if it had ended already."""
        stream = events.stream_name(message.id)
        try:
            entries = await self._read_all(stream)
        except StreamMissing:
            # Died before publishing message_start (or the broker lost the stream): no
            # stream to end, and the checkpointed text is all there is; resumes are
            # rebuilt from it.
            row = await self.store.finish_message(
                message.id, content=message.content, status="interrupted",
                stop_reason="interrupted", usage=None, final_event_id=None,
            )
            return row.status == "interrupted"
        text, seq, input_tokens, deltas = _replay(entries)
        closing = events.finale("interrupted", deltas, None, after=seq, offset=len(text))
        final_id = closing[-1][1]
        row = await self.store.finish_message(
            message.id, content=text, status="interrupted", stop_reason="interrupted",
            usage=Usage(input_tokens, deltas), final_event_id=final_id,
        )
        if row.status != "interrupted" or row.final_event_id != final_id:
            return False  # the owner finished it after all, and publishes its own ending
        for payload, eid in closing:
            try:
                await self.broker.append(stream, payload, id=eid)
            except InvalidInput:
                continue  # another recoverer appended this very event first
        with contextlib.suppress(StreamMissing):
            await self.broker.end(stream, self.stream_ttl)
        return True

    async def _read_all(self, stream: str) -> list[Entry]:
        entries: list[Entry] = []
        after: str | None = None
        while True:
            page = await self.broker.read(stream, after, _PAGE)
            entries += page
            if len(page) < _PAGE:
                return entries
            after = page[-1].id


def _replay(entries: list[Entry]) -> tuple[str, int, int, int]:
    """(text, seq of the last body event, input tokens, text deltas) of a reply's events."""
    parts: list[str] = []
    seq = input_tokens = deltas = 0
    decoder = SSEDecoder()
    for entry in entries:
        for event in decoder.feed(entry.payload):
            if event.event not in _BODY:
                continue
            seq = max(seq, events.parse_event_id(entry.id)[0])
            data = event.json()
            assert isinstance(data, dict)
            if event.event == "content_block_delta":
                parts.append(data["delta"]["text"])
                deltas += 1
            elif event.event == "message_start":
                input_tokens = int(data["message"]["usage"]["input_tokens"])
    return "".join(parts), seq, input_tokens, deltas
