"""``Reply``: one assistant reply built up from its events; the streams that feed it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Generic, Self, TypeVar

from rill.client.events import (
    ChatEvent,
    ErrorEvent,
    MessageDelta,
    MessageStart,
    MessageStop,
    TextDelta,
    parse_chat_event,
)
from rill.client.models import Usage
from rill.client.sse import AsyncEventSource, EventSource
from rill.sse import ServerSentEvent

__all__ = ["AsyncReplyStream", "Reply", "ReplyStream"]

SourceT = TypeVar("SourceT", EventSource, AsyncEventSource)
EventsT = TypeVar("EventsT")


@dataclass(slots=True)
class Reply:
    """Everything known about a reply so far; ``apply`` each event in order."""

    text: str = ""
    message_id: str | None = None
    conversation_id: str | None = None
    user_message_id: str | None = None
    chatbot_id: str | None = None
    model: str | None = None
    stop_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    #: The stream's ``error`` event, if the reply failed.
    error: ErrorEvent | None = None
    #: The id of the last event applied: what a resume sends as ``Last-Event-ID``.
    last_event_id: str = ""
    #: Set at ``message_stop``: nothing more will come.
    done: bool = False

    def apply(self, event: ChatEvent) -> None:
        if event.event_id:
            self.last_event_id = event.event_id
        match event:
            case TextDelta(text=text):
                self.text += text
            case MessageStart():
                self.message_id = event.message_id
                self.conversation_id = event.conversation_id
                self.user_message_id = event.user_message_id
                self.chatbot_id = event.chatbot_id
                self.model = event.model
                self.usage = Usage(event.input_tokens, self.usage.output_tokens)
            case MessageDelta():
                self.stop_reason = event.stop_reason
                if event.output_tokens is not None:
                    self.usage = Usage(self.usage.input_tokens, event.output_tokens)
            case ErrorEvent():
                self.error = event
            case MessageStop():
                self.done = True
            case _:
                pass


class _ReplyStreamBase(ABC, Generic[SourceT, EventsT]):
    """What both flavours share: the reply so far, and how each event updates it."""

    def __init__(self, source: SourceT, reply: Reply) -> None:
        self.reply = reply
        self._source: SourceT = source
        self._events = self._run()

    @abstractmethod
    def _run(self) -> EventsT:
        """The typed events until ``message_stop``: the one part that does I/O."""

    def _take(self, sse: ServerSentEvent) -> ChatEvent:
        event = parse_chat_event(sse)
        self.reply.apply(event)
        return event


class AsyncReplyStream(
    _ReplyStreamBase[AsyncEventSource, AsyncGenerator[ChatEvent, None]]
):
    """The typed events of one reply, as they arrive; ``reply`` accumulates them.

    Iterate it once (``async for event in stream``), or ``await stream.collect()``
    for the finished :class:`Reply`. Iteration ends after ``message_stop``.
    """

    def __aiter__(self) -> AsyncIterator[ChatEvent]:
        return self._events

    async def _run(self) -> AsyncGenerator[ChatEvent, None]:
        try:
            async for sse in self._source:
                yield self._take(sse)
                if self.reply.done:
                    return
        finally:
            await self._source.aclose()

    async def collect(self) -> Reply:
        async for _ in self._events:
            pass
        return self.reply

    async def aclose(self) -> None:
        await self._events.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class ReplyStream(_ReplyStreamBase[EventSource, Generator[ChatEvent, None, None]]):
    """The sync twin of :class:`AsyncReplyStream`."""

    def __iter__(self) -> Iterator[ChatEvent]:
        return self._events

    def _run(self) -> Generator[ChatEvent, None, None]:
        try:
            for sse in self._source:
                yield self._take(sse)
                if self.reply.done:
                    return
        finally:
            self._source.close()

    def collect(self) -> Reply:
        for _ in self._events:
            pass
        return self.reply

    def close(self) -> None:
        self._events.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
