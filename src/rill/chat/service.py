"""The chat service: starts turns, relays and resumes their streams, cancels them.

Concurrency (see ARCHITECTURE.md for the drawing): each reply is one
``Generation`` task owned by this service, never by a request. Readers follow
the reply's broker stream. Cancels reach the owning node through a broker
signal, so ``POST /cancel`` works on any node. One checkpoint loop saves the
text of every active reply at most every ``checkpoint_seconds``. With a shared
broker, ``NodeRecovery`` (``recovery.py``) heartbeats for this node and ends
the replies of nodes that died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from rill import metrics
from rill.broker.base import Broker, Entry, StreamMissing, compare_ids
from rill.chat import events, replay
from rill.chat.context import build_client_request, build_request, estimate_tokens
from rill.chat.generation import Generation
from rill.chat.recovery import NodeRecovery
from rill.config import BotConfig, Settings
from rill.errors import (
    BrokerError,
    InvalidInput,
    NotFound,
    RillError,
    ServiceUnavailable,
)
from rill.providers.base import PromptMessage
from rill.providers.registry import ProviderRegistry
from rill.store.base import Store
from rill.store.models import Message

log = logging.getLogger("rill.chat")

CANCEL_CHANNEL = "chat:cancel"
_KNOWN_USERS = 100_000


def stream_name(message_id: str) -> str:
    return f"chat:{message_id}"


@dataclass(frozen=True, slots=True)
class TurnRequest:
    user_id: str
    chatbot_id: str
    message: str | None
    conversation_id: str | None = None
    regenerate: bool = False
    language: str | None = None
    #: Stateless protocols (``/v1``): the whole conversation as the client sent it,
    #: ending with ``message``. The model sees this instead of the stored context;
    #: only ``message`` and the reply are stored (docs/api.md).
    prompt: tuple[PromptMessage, ...] | None = None
    #: The client's system text, put after the bot's own system prompt.
    system: str | None = None
    #: The client's cap on the reply's length; the bot's own cap still applies.
    max_tokens: int | None = None
    #: Store the turn in a conversation of its own (stateless protocols without an id).
    new_conversation: bool = False


@dataclass(frozen=True, slots=True)
class Turn:
    message_id: str
    conversation_id: str
    user_message_id: str | None


class ChatService:
    def __init__(
        self, settings: Settings, store: Store, broker: Broker, providers: ProviderRegistry
    ) -> None:
        self.settings = settings
        self.store = store
        self.broker = broker
        self.providers = providers
        self.bots: dict[str, BotConfig] = {b.id: b for b in settings.bots}
        self._active: dict[str, Generation] = {}
        #: Users this process has stored. Users are never deleted, so a turn from one
        #: of them skips ``ensure_user`` (two store round trips per turn, measured in
        #: docs/performance.md). Bounded: cleared when full, then refilled as turns come.
        self._known_users: set[str] = set()
        self._background: list[asyncio.Task[None]] = []
        self._closing: asyncio.Task[None] | None = None
        self._recovery: NodeRecovery | None = None
        if broker.shared:
            self._recovery = NodeRecovery(
                store, broker, node_id=settings.node_id or "",
                timeout=settings.node_timeout_seconds, stream_ttl=settings.stream_ttl_seconds,
            )

    @property
    def active_count(self) -> int:
        return len(self._active)

    async def start(self) -> None:
        if self._recovery is not None:
            await self._recovery.start()
        self._background = [
            asyncio.create_task(self._checkpoint_loop(), name="rill-checkpoints"),
            asyncio.create_task(self._cancel_listener(), name="rill-cancels"),
        ]

    @property
    def closing(self) -> bool:
        return self._closing is not None

    async def close(self, grace: float | None = None) -> None:
        """Let replies in flight finish within ``grace`` seconds, then stop the rest,
        which end as ``interrupted`` with their text saved. Idempotent: SIGTERM starts
        it early (so streams end cleanly while connections are still open), and the
        lifespan's shutdown awaits the same run."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._close(grace))
        await asyncio.shield(self._closing)

    async def _close(self, grace: float | None) -> None:
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        tasks = [g.task for g in self._active.values() if g.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for generation in list(self._active.values()):
                generation.cancel("interrupted")
            if pending:
                await asyncio.wait(pending, timeout=5)
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Why last: this node must keep beating while its replies drain, or another
        # node could declare it dead and end them under it.
        if self._recovery is not None:
            await self._recovery.close()

    def bot(self, chatbot_id: str) -> BotConfig:
        try:
            return self.bots[chatbot_id]
        except KeyError:
            raise InvalidInput(
                f"no chatbot with id {chatbot_id!r}", chatbot_id=chatbot_id
            ) from None

    async def start_turn(self, request: TurnRequest) -> Turn:
        """Store the turn, publish ``message_start`` and start generating."""
        if self._closing is not None:
            raise ServiceUnavailable("the server is shutting down; try again in a moment")
        bot = self.bot(request.chatbot_id)
        if request.user_id not in self._known_users:
            await self.store.ensure_user(request.user_id)
            if len(self._known_users) >= _KNOWN_USERS:
                self._known_users.clear()
            self._known_users.add(request.user_id)
        conversation_id = request.conversation_id
        if request.new_conversation:
            created = await self.store.create_conversation(request.user_id, bot.id)
            conversation_id = created.id
        started = await self.store.start_turn(
            user_id=request.user_id,
            chatbot_id=bot.id,
            conversation_id=conversation_id,
            user_text=request.message,
            replace_last_reply=request.regenerate,
            max_concurrent=self.settings.max_concurrent_generations,
            node_id=self.settings.node_id or "",
            context_messages=bot.context_messages if request.prompt is None else 0,
        )
        conv, user_msg, reply = started.conversation, started.user_message, started.reply
        if request.prompt is None:
            completion = build_request(bot, started.context, request.language)
        else:
            completion = build_client_request(
                bot, request.prompt, request.system, request.max_tokens, request.language
            )
        stream = stream_name(reply.id)
        start = events.message_start(
            message_id=reply.id,
            model=bot.model or bot.provider,
            input_tokens=estimate_tokens(completion),
            conversation_id=conv.id,
            user_message_id=None if user_msg is None else user_msg.id,
            chatbot_id=bot.id,
        )
        try:
            await self.broker.append(stream, events.sse(*start, 1, 0), id=events.event_id(1, 0))
        except RillError as exc:
            await self.store.finish_message(
                reply.id, content="", status="error", stop_reason="error", usage=None,
                final_event_id=None, error=exc.detail,
            )
            raise
        generation = Generation(
            message_id=reply.id,
            stream=stream,
            provider=self.providers.get(bot.id),
            request=completion,
            store=self.store,
            broker=self.broker,
            first_token_timeout=self.settings.first_token_timeout,
            idle_timeout=self.settings.idle_timeout,
            stream_ttl=self.settings.stream_ttl_seconds,
            seq=1,
        )
        self._active[reply.id] = generation
        generation.task = asyncio.create_task(self._run(generation, bot.id),
                                              name=f"rill-gen-{reply.id}")
        log.info("turn started", extra={"event": "turn_started", "user": request.user_id,
                 "message_id": reply.id, "chatbot": bot.id})
        return Turn(reply.id, conv.id, None if user_msg is None else user_msg.id)

    async def _run(self, generation: Generation, bot_id: str) -> None:
        try:
            await generation.run()
        finally:
            self._active.pop(generation.message_id, None)
            metrics.turn_ended(bot_id, generation.status)

    async def relay(self, message_id: str, after: str | None = None) -> AsyncIterator[bytes]:
        """The reply's encoded events after ``after``, live until it ends."""
        async for batch in self.broker.subscribe_batches(stream_name(message_id), after):
            # One write for everything the broker has ready: under load this is what
            # keeps the per-token cost from being a per-token write.
            yield _joined(batch)

    async def resume(
        self, user_id: str, message_id: str, last_event_id: str | None
    ) -> AsyncIterator[bytes] | None:
        """Events after ``last_event_id`` for the owner, or None when there are none."""
        message = await self.store.get_message(user_id, message_id)
        if message.role != "assistant":
            raise NotFound("no such reply", message_id=message_id)
        if last_event_id is not None:
            events.parse_event_id(last_event_id)
        stream = stream_name(message_id)
        try:
            ended = await self.broker.is_ended(stream)
            last = await self.broker.last_id(stream)
        except StreamMissing:
            return self._rebuilt(message, last_event_id)
        if ended and (last is None or (last_event_id and compare_ids(last_event_id, last) >= 0)):
            return None
        if not ended and message.status != "streaming":
            # Why: the reply is final in the store but its stream has no end yet: its
            # writer is publishing the ending right now, or died before it could. The
            # stored reply is authoritative either way, so the rest comes from it.
            return self._rebuilt(message, last_event_id)
        return self._follow(message, last_event_id)

    async def _follow(self, message: Message, after: str | None) -> AsyncIterator[bytes]:
        """Relay the live stream of another reader's reply, never waiting for ever.

        Why the watch: a writer that dies after storing the final reply, but before
        ending its stream, is no longer 'streaming', so dead-node recovery leaves it
        alone. While the stream is silent for ``node_timeout_seconds`` we look at the
        store; once the reply is final there, the rest is rebuilt from it.
        """
        # Batches, as in ``relay``: a resumed reader is often behind, and the watch
        # below costs a future per wait, so it should be paid per batch, not per token.
        batches = aiter(self.broker.subscribe_batches(stream_name(message.id), after))
        pending: asyncio.Future[list[Entry]] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(anext(batches))
                done, _ = await asyncio.wait({pending}, timeout=self.settings.node_timeout_seconds)
                if not done:
                    current = await self.store.get_message(message.user_id, message.id)
                    if current.status == "streaming":
                        continue
                    rest = self._rebuilt(current, after)
                    if rest is not None:
                        async for chunk in rest:
                            yield chunk
                    return
                try:
                    batch = pending.result()
                except StopAsyncIteration:
                    return
                pending = None
                after = batch[-1].id
                yield _joined(batch)
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
            # Why explicitly: the subscription leaves the broker's reader only when its
            # generator closes, which must not wait for the garbage collector.
            aclose = getattr(batches, "aclose", None)
            if aclose is not None:
                await aclose()

    def _rebuilt(self, message: Message, after: str | None) -> AsyncIterator[bytes] | None:
        if message.status == "streaming":
            raise BrokerError("this reply's live stream is unavailable; try again shortly")
        bot = self.bots.get(message.chatbot_id)
        chunks = replay.rebuild(message, bot.model if bot else "", after)
        if not chunks:
            return None

        async def emit() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return emit()

    async def cancel(self, user_id: str, message_id: str) -> Message:
        message = await self.store.get_message(user_id, message_id)
        if message.role != "assistant":
            raise NotFound("no such reply", message_id=message_id)
        if message.status != "streaming":
            return message
        generation = self._active.get(message_id)
        if generation is not None:
            generation.cancel("cancelled")
        else:
            await self.broker.publish(CANCEL_CHANNEL, message_id.encode())
        return message

    async def _cancel_listener(self) -> None:
        while True:
            try:
                async for payload in self.broker.listen(CANCEL_CHANNEL):
                    generation = self._active.get(payload.decode())
                    if generation is not None:
                        generation.cancel("cancelled")
                return
            except RillError:
                await asyncio.sleep(1)

    async def _checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.checkpoint_seconds)
            due = [g for g in self._active.values() if g.length != g.checkpointed]
            if not due:
                continue
            lengths = [g.length for g in due]
            try:
                await self.store.checkpoint_many([(g.message_id, g.text) for g in due])
            except RillError:
                log.warning("checkpoint failed", extra={"event": "checkpoint_failed",
                            "replies": len(due)})
                continue
            for generation, length in zip(due, lengths, strict=True):
                generation.checkpointed = length


def _joined(batch: list[Entry]) -> bytes:
    return batch[0].payload if len(batch) == 1 else b"".join(e.payload for e in batch)
