"""One reply being generated: provider chunks in, chat events out to the broker.

The generation runs in its own task, detached from any HTTP request: a client
that disconnects never stops it, and every reader (the original POST, resumes
on any node) sees the same events through the broker. It ends exactly once,
in ``_finish``, whatever happened — completion, user cancel, provider failure,
broker failure or shutdown — so no message is ever left ``streaming``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from rill import metrics
from rill.broker.base import Broker, StreamMissing
from rill.chat import events
from rill.chat.stall import StallWatch
from rill.errors import BrokerError, InvalidInput, RillError, UpstreamTimeout
from rill.providers.base import Chunk, CompletionRequest, Finish, Provider, TextDelta, aclose
from rill.store.base import Store
from rill.store.models import MessageStatus, Usage

log = logging.getLogger("rill.chat")

#: How long a reply's finale is retried while the broker is unreachable.
FINALE_RETRY_SECONDS = 30.0


class Generation:
    def __init__(
        self,
        *,
        message_id: str,
        stream: str,
        provider: Provider,
        request: CompletionRequest,
        store: Store,
        broker: Broker,
        first_token_timeout: float,
        idle_timeout: float,
        stream_ttl: float,
        seq: int,
    ) -> None:
        self.message_id = message_id
        self.stream = stream
        self._provider = provider
        self._request = request
        self._store = store
        self._broker = broker
        self._first_token_timeout = first_token_timeout
        self._idle_timeout = idle_timeout
        self._stream_ttl = stream_ttl
        #: Sequence number of the last event appended (message_start is appended by the caller).
        self.seq = seq
        self._parts: list[str] = []
        #: Text chunks received (``_parts`` is compacted by ``text``, so it cannot count).
        self.deltas = 0
        self.length = 0
        #: Characters saved to the store by the last checkpoint.
        self.checkpointed = 0
        self._cancel_reason: str | None = None
        self.task: asyncio.Task[None] | None = None
        #: Set by ``_finish``; read by the service to count the turn's outcome.
        self.status: MessageStatus = "streaming"
        self._started = time.monotonic()

    @property
    def text(self) -> str:
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop generating: ``cancelled`` by the user, ``interrupted`` at shutdown."""
        if self.task is not None and not self.task.done() and self._cancel_reason is None:
            self._cancel_reason = reason
            self.task.cancel()

    async def _emit(self, event: tuple[str, dict[str, Any]]) -> None:
        self.seq += 1
        name, data = event
        await self._broker.append(
            self.stream,
            events.sse(name, data, self.seq, self.length),
            id=events.event_id(self.seq, self.length),
        )

    async def _emit_deltas(self, texts: list[str]) -> None:
        """One event per text, all appended to the broker in one call."""
        entries: list[tuple[bytes, str]] = []
        seq, length = self.seq, self.length
        for text in texts:
            seq += 1
            length += len(text)
            eid = f"{seq}-{length}"
            entries.append((events.text_delta_sse(text, eid), eid))
        self.seq, self.length = seq, length
        self._parts += texts
        self.deltas += len(texts)
        metrics.TOKENS.inc(len(texts))
        await self._broker.append_many(self.stream, entries)

    async def run(self) -> None:
        status: MessageStatus = "complete"
        finish = Finish()
        failure: tuple[str, str] | None = None
        try:
            await self._emit(events.content_block_start())
            finish = await self._relay(self._provider.stream_batches(self._request))
            status = "complete"
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            status = "cancelled" if self._cancel_reason == "cancelled" else "interrupted"
        except BrokerError:
            # Why interrupted, not error: the model did nothing wrong; Redis went
            # away mid-reply (a failover, say). The text so far is kept, as when a
            # node dies.
            status = "interrupted"
            log.warning("generation lost its broker", extra={"event": "generation_interrupted",
                        "message_id": self.message_id})
        except RillError as exc:
            status, failure = "error", (exc.code, exc.detail)
            metrics.provider_error(exc)
            log.warning("generation failed", extra={"event": "generation_failed",
                        "message_id": self.message_id, "error": exc.code})
        except Exception:
            status, failure = "error", ("api_error", "the reply failed unexpectedly")
            log.exception("generation crashed", extra={"event": "generation_crashed",
                          "message_id": self.message_id})
        await self._finish(status, finish, failure)

    async def _relay(self, batches: AsyncIterator[list[Chunk]]) -> Finish:
        iterator = aiter(batches)
        watch = StallWatch(self._first_token_timeout)
        loop = asyncio.get_running_loop()
        try:
            while True:
                watch.waiting_since = loop.time()
                try:
                    batch = await anext(iterator)
                except StopAsyncIteration:
                    return Finish()
                except asyncio.CancelledError:
                    if not watch.expired or self._cancel_reason is not None:
                        raise
                    task = asyncio.current_task()
                    if task is not None:
                        task.uncancel()
                    raise UpstreamTimeout(
                        f"the model sent nothing for {watch.limit:g} s; the reply was stopped"
                    ) from None
                watch.waiting_since = None
                texts = [c.text for c in batch if isinstance(c, TextDelta) and c.text]
                if texts:
                    if not self.deltas:
                        metrics.FIRST_TOKEN.observe(time.monotonic() - self._started)
                        watch.set_limit(self._idle_timeout)
                    await self._emit_deltas(texts)
                finish = batch[-1]
                if isinstance(finish, Finish):
                    return finish
        finally:
            watch.close()
            # Why: closing the provider's generator closes its upstream request now,
            # rather than whenever the garbage collector gets to it.
            await aclose(iterator)

    async def _finish(
        self, status: MessageStatus, finish: Finish, failure: tuple[str, str] | None
    ) -> None:
        self.status = status
        stop_reason = {"complete": finish.stop_reason, "error": "error"}.get(status, status)
        output_tokens = finish.output_tokens or self.deltas
        closing = events.finale(stop_reason, output_tokens, failure,
                                after=self.seq, offset=self.length)
        final_id = closing[-1][1]
        text = self.text
        try:
            await self._store.finish_message(
                self.message_id,
                content=text,
                status=status,
                stop_reason=stop_reason,
                usage=Usage(finish.input_tokens, output_tokens),
                final_event_id=final_id,
                error=None if failure is None else failure[1],
            )
        except RillError:
            log.exception("could not store the finished reply",
                          extra={"event": "finish_failed", "message_id": self.message_id})
        last_delta = events.event_id(self.seq, self.length)
        self.seq += len(closing)
        await self._publish_finale(closing, last_delta)

    async def _publish_finale(self, entries: list[tuple[bytes, str]], last_delta: str) -> None:
        """Append the closing events and end the stream, retrying for a while.

        Why retry: live readers on every node wait for the stream's end; a finale
        lost to a broker outage (a Redis failover takes seconds) would leave them
        waiting. The ids are fixed, so a retry cannot append anything twice.
        """
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + FINALE_RETRY_SECONDS, 0.2
        while True:
            try:
                # Why the check: a stream that lost events (Redis restarted empty) must
                # not get a finale its readers would take for the whole reply; they
                # rebuild the rest from the store instead (chat/service.py follow loop).
                try:
                    last = await self._broker.last_id(self.stream)
                except StreamMissing:
                    last = None
                if last not in (last_delta, entries[-1][1]):
                    log.warning("the reply's stream lost events: readers rebuild its end",
                                extra={"event": "finale_skipped", "message_id": self.message_id})
                    return
                # InvalidInput: an earlier try landed but its reply was lost.
                with contextlib.suppress(InvalidInput):
                    await self._broker.append_many(self.stream, entries)
                await self._broker.end(self.stream, self._stream_ttl)
                return
            except RillError:
                if loop.time() > deadline:
                    # The stored message is final; resumes rebuild the ending from it.
                    log.warning("could not publish the end of the reply",
                                extra={"event": "finale_failed", "message_id": self.message_id})
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

