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
from rill.chat import events, replay, resume_ids
from rill.chat.context import build_client_request, build_request, estimate_tokens
from rill.chat.events import stream_name
from rill.chat.generation import Generation
from rill.chat.recovery import NodeRecovery
from rill.chat.stall import StallWatch
from rill.chat.sync import ChatSync
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
#: How often a reader whose broker stream is gone looks for the reply's end in the store.
STORE_POLL_SECONDS = 1.0
_KNOWN_USERS = 100_000


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
    #: Resend this user message edited: ``message`` becomes a new version of it.
    edit_of: str | None = None


@dataclass(frozen=True, slots=True)
class Turn:
    message_id: str
    conversation_id: str
    user_message_id: str | None


class ChatService:
    def __init__(
        self, settings: Settings, store: Store, broker: Broker, providers: ProviderRegistry,
        sync: ChatSync | None = None,
    ) -> None:
        self.settings = settings
        #: Publishes this user's chat events to their private hub topic (other tabs).
        self.sync = sync or ChatSync()
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
            edit_of=request.edit_of,
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
        generation.task = asyncio.create_task(
            self._run(generation, bot.id, request.user_id, conv.id), name=f"rill-gen-{reply.id}"
        )
        await self.sync.turn_started(
            request.user_id, conversation_id=conv.id, message_id=reply.id,
            user_message_id=None if user_msg is None else user_msg.id, chatbot_id=bot.id,
            edit_of=request.edit_of,
        )
        log.info("turn started", extra={"event": "turn_started", "user": request.user_id,
                 "message_id": reply.id, "chatbot": bot.id})
        return Turn(reply.id, conv.id, None if user_msg is None else user_msg.id)

    async def _run(
        self, generation: Generation, bot_id: str, user_id: str, conversation_id: str
    ) -> None:
        try:
            await generation.run()
        finally:
            self._active.pop(generation.message_id, None)
            metrics.turn_ended(bot_id, generation.status)
        await self.sync.reply_ended(
            user_id, conversation_id=conversation_id, message_id=generation.message_id,
            chatbot_id=bot_id, status=generation.status,
        )

    def relay(
        self, user_id: str, message_id: str, after: str | None = None
    ) -> AsyncIterator[bytes]:
        """The reply's encoded events after ``after``, live until it ends."""
        return self._follow(user_id, message_id, after)

    async def resume(
        self, user_id: str, message_id: str, last_event_id: str | None
    ) -> AsyncIterator[bytes] | None:
        """Events after ``last_event_id`` for the owner, or None when there are none.

        ``InvalidInput`` (422) for an id the reply never sent, before anything is sent.
        """
        message = await self.store.get_message(user_id, message_id)
        if message.role != "assistant":
            raise NotFound("no such reply", message_id=message_id)
        if last_event_id is not None:
            resume_ids.parse(last_event_id)
        stream = stream_name(message_id)
        try:
            ended = await self.broker.is_ended(stream)
            last = await self.broker.last_id(stream)
            if last_event_id is not None:
                await resume_ids.check_streamed(self.broker, stream, last_event_id, last)
        except StreamMissing:
            if last_event_id is not None:
                resume_ids.check_stored(message, last_event_id)
            return self._rebuilt(message, last_event_id)
        if ended and (last is None or (last_event_id and compare_ids(last_event_id, last) >= 0)):
            return None
        if not ended and message.status != "streaming":
            # Why: the reply is final in the store but its stream has no end yet: its
            # writer is publishing the ending right now, or died before it could. The
            # stored reply is authoritative either way, so the rest comes from it.
            return self._rebuilt(message, last_event_id)
        return self._follow(user_id, message_id, last_event_id)

    async def _follow(
        self, user_id: str, message_id: str, after: str | None
    ) -> AsyncIterator[bytes]:
        """Relay a reply's live stream to one reader, never waiting for ever.

        Why the watch: the broker can lose a stream under a reply (Redis restarted
        empty; a writer that died after storing the final reply but before ending the
        stream), and then nothing more comes. While the stream is silent for
        ``node_timeout_seconds`` we look at the store: once the reply is final there,
        the rest is rebuilt from it; if not, we subscribe again from where we are. A
        stream that is gone, or a broker that fails, sends the reader to the store too.
        ``StallWatch`` makes this cost two attribute writes per batch.
        """
        stream = stream_name(message_id)
        watch = StallWatch(self.settings.node_timeout_seconds)
        loop = asyncio.get_running_loop()
        try:
            while True:
                batches = aiter(self.broker.subscribe_batches(stream, after))
                try:
                    while True:
                        watch.waiting_since = loop.time()
                        try:
                            batch = await anext(batches)
                        except StopAsyncIteration:
                            return
                        except asyncio.CancelledError:
                            task = asyncio.current_task()
                            if not watch.expired or task is None or task.uncancel() > 0:
                                raise
                            watch.set_limit(watch.limit)
                            break
                        watch.waiting_since = None
                        after = batch[-1].id
                        # One write for everything the broker has ready: under load this
                        # is what keeps the per-token cost from being a per-token write.
                        yield _joined(batch)
                except (StreamMissing, BrokerError):
                    watch.waiting_since = None
                    async for chunk in self._from_store(user_id, message_id, after):
                        yield chunk
                    return
                finally:
                    # Why explicitly: the subscription leaves the broker's reader only
                    # when its generator closes, which must not wait for the GC.
                    aclose = getattr(batches, "aclose", None)
                    if aclose is not None:
                        await aclose()
                watch.waiting_since = None
                current = await self.store.get_message(user_id, message_id)
                if current.status != "streaming":
                    async for chunk in self._from_store(user_id, message_id, after):
                        yield chunk
                    return
        finally:
            watch.close()

    async def _from_store(
        self, user_id: str, message_id: str, after: str | None
    ) -> AsyncIterator[bytes]:
        """The rest of a reply whose broker stream is gone, rebuilt once the store has it.

        Why wait: when the broker goes away under a reply its writer fails on its next
        append and stores the reply as ended; a reader must end with it rather than
        wait for a stream that will never come back (issue 13). Polling costs nothing
        on the way that works: only a reader that lost its stream gets here.
        """
        while True:
            message = await self.store.get_message(user_id, message_id)
            if message.status != "streaming":
                break
            await asyncio.sleep(STORE_POLL_SECONDS)
        rest = self._rebuilt(message, after)
        if rest is not None:
            async for chunk in rest:
                yield chunk

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
