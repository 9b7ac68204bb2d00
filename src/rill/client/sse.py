"""A reconnecting Server-Sent Events client over httpx, async and sync.

An :class:`EventSource` (sync) or :class:`AsyncEventSource` sends one request
(GET, or POST with a JSON body) and yields :class:`~rill.sse.ServerSentEvent` s.
When the connection drops, or the server ends the stream, it reconnects the way
a browser's ``EventSource`` does: after the server's ``retry`` delay, with a
``Last-Event-ID`` header, so a server that keeps its events sends only the ones
missed. Unlike a browser it gives up after ``ReconnectPolicy.max_attempts``
consecutive failures, backs off exponentially, and retries 5xx answers.

It stops for good on 204 (the server has nothing more: iteration just ends) and
on any other non-2xx answer, raising :class:`~rill.client.errors.APIError` with
the problem+json detail.

A stream that must not be re-sent as is (a POST that starts a chat turn) passes
``reconnect``: a function returning the request to reconnect with, or ``None``
when it cannot resume yet (``StreamInterrupted`` is raised then). ``on_response``
sees each accepted response's headers before its events.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

import httpx

from rill.client.errors import (
    APIError,
    NotAnEventStream,
    ReconnectExhausted,
    StreamInterrupted,
)
from rill.sse import ServerSentEvent, SSEDecoder

__all__ = [
    "AsyncEventSource",
    "EventSource",
    "ReconnectPolicy",
    "SSERequest",
]

ClientT = TypeVar("ClientT", httpx.Client, httpx.AsyncClient)
EventsT = TypeVar("EventsT")

#: Read timeout well above the 15 s heartbeat, so an idle but live stream never times out.
DEFAULT_TIMEOUT = httpx.Timeout(10.0, read=60.0)


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """When and how often to reconnect."""

    #: Consecutive failed connections before giving up (0: never reconnect).
    max_attempts: int = 5
    #: Seconds to wait before the first reconnect, until the server sends ``retry``.
    default_delay: float = 3.0
    #: Each further consecutive failure multiplies the delay by this.
    backoff: float = 2.0
    #: No wait is ever longer than this, whatever the server asks.
    max_delay: float = 30.0

    def delay(self, attempt: int, server_retry_ms: int | None) -> float:
        """Seconds to wait before reconnect number ``attempt`` (1-based)."""
        base = self.default_delay if server_retry_ms is None else server_retry_ms / 1000
        return float(min(self.max_delay, base * self.backoff ** max(0, attempt - 1)))


@dataclass(frozen=True, slots=True)
class SSERequest:
    """A request that opens an event stream."""

    url: str
    method: str = "GET"
    # Any: a JSON body is whatever the caller's API takes.
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)


class _RetryableStatus(Exception):
    """A 5xx answer: worth another try, unlike a 4xx."""

    def __init__(self, error: APIError) -> None:
        super().__init__(str(error))
        self.error = error


class _Reconnector:
    """The state both flavours share: ids, delays, attempts, what to send next."""

    def __init__(
        self,
        request: SSERequest,
        policy: ReconnectPolicy,
        reconnect: Callable[[], SSERequest | None] | None,
        last_event_id: str,
    ) -> None:
        self.request = request
        self.policy = policy
        self._reconnect = reconnect
        self.last_event_id = last_event_id
        self.retry: int | None = None
        self.failures = 0
        self.last_failure: BaseException | None = None
        self._connected_before = False
        self.decoder = SSEDecoder()

    def next_request(self) -> dict[str, Any]:
        request = self.request
        if self._connected_before and self._reconnect is not None:
            resumed = self._reconnect()
            if resumed is None:
                raise StreamInterrupted(
                    "the stream dropped before it could be resumed"
                ) from self.last_failure
            request = resumed
        self._connected_before = True
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache", **request.headers}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        # Why: each connection gets a fresh decoder, so half an event from a dropped
        # connection is discarded, seeded with what persists across connections.
        self.decoder = SSEDecoder(last_event_id=self.last_event_id, retry=self.retry)
        return {
            "method": request.method,
            "url": request.url,
            "headers": headers,
            "json": request.json,
            "params": dict(request.params) or None,
        }

    def accept(self, response: httpx.Response) -> bool:
        """Whether to read this response (False: 204, the stream is over)."""
        if response.status_code == 204:
            return False
        if not response.is_success:
            error = APIError.from_response(response)
            if response.status_code >= 500:
                raise _RetryableStatus(error)
            raise error
        content_type = response.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "text/event-stream":
            raise NotAnEventStream(f"expected text/event-stream, got {content_type!r}")
        return True

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        events = self.decoder.feed(chunk)
        if self.decoder.retry is not None:
            self.retry = self.decoder.retry
        if events:
            self.failures = 0
        return events

    def end_of_batch(self) -> None:
        # Why: an id-only event (blank line, no data) moves the id without yielding.
        self.last_event_id = self.decoder.last_event_id

    def wait_before_reconnect(self, failure: BaseException | None) -> float:
        """Seconds to sleep before the next attempt, or raise when there is none."""
        self.failures += 1
        self.last_failure = failure
        if self.failures > self.policy.max_attempts:
            cause = failure.error if isinstance(failure, _RetryableStatus) else failure
            if isinstance(cause, APIError):
                raise cause
            raise ReconnectExhausted(
                f"gave up after {self.policy.max_attempts} reconnection attempts"
            ) from cause
        return self.policy.delay(self.failures, self.retry)


class _SourceBase(ABC, Generic[ClientT, EventsT]):
    """Everything but the I/O: the request, the reconnection state, the response check.

    The two flavours below only open the connection, read its chunks and sleep
    before reconnecting, each with its own kind of httpx client.
    """

    def __init__(
        self,
        client: ClientT,
        request: SSERequest | str,
        *,
        policy: ReconnectPolicy | None = None,
        reconnect: Callable[[], SSERequest | None] | None = None,
        last_event_id: str = "",
        on_response: Callable[[httpx.Response], None] | None = None,
    ) -> None:
        request = SSERequest(request) if isinstance(request, str) else request
        self._state = _Reconnector(request, policy or ReconnectPolicy(), reconnect, last_event_id)
        self._client: ClientT = client
        self._on_response = on_response
        self._events = self._run()

    @abstractmethod
    def _run(self) -> EventsT:
        """The events, reconnecting as needed: the one part that does I/O."""

    @property
    def last_event_id(self) -> str:
        """The id of the last event handed out: send it back to resume."""
        return self._state.last_event_id

    @property
    def retry(self) -> int | None:
        """The server's reconnection time in ms, once it has sent one."""
        return self._state.retry

    def _opened(self, response: httpx.Response) -> bool:
        """Whether to read this (fully read if it failed) response's events."""
        if not self._state.accept(response):
            return False
        if self._on_response is not None:
            self._on_response(response)
        return True


class AsyncEventSource(
    _SourceBase[httpx.AsyncClient, AsyncGenerator[ServerSentEvent, None]]
):
    """Iterate with ``async for``; close with ``aclose()`` or ``async with``."""

    def __aiter__(self) -> AsyncIterator[ServerSentEvent]:
        return self._events

    async def aclose(self) -> None:
        await self._events.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _run(self) -> AsyncGenerator[ServerSentEvent, None]:
        state = self._state
        while True:
            failure: BaseException | None = None
            try:
                async with self._client.stream(**state.next_request()) as response:
                    if not response.is_success:
                        await response.aread()
                    if not self._opened(response):
                        return
                    async for chunk in response.aiter_bytes():
                        for event in state.feed(chunk):
                            state.last_event_id = event.id
                            yield event
                        state.end_of_batch()
            except (httpx.TransportError, _RetryableStatus) as exc:
                failure = exc
            await asyncio.sleep(state.wait_before_reconnect(failure))


class EventSource(_SourceBase[httpx.Client, Generator[ServerSentEvent, None, None]]):
    """Iterate with ``for``; close with ``close()`` or ``with``."""

    def __iter__(self) -> Iterator[ServerSentEvent]:
        return self._events

    def close(self) -> None:
        self._events.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self) -> Generator[ServerSentEvent, None, None]:
        state = self._state
        while True:
            failure: BaseException | None = None
            try:
                with self._client.stream(**state.next_request()) as response:
                    if not response.is_success:
                        response.read()
                    if not self._opened(response):
                        return
                    for chunk in response.iter_bytes():
                        for event in state.feed(chunk):
                            state.last_event_id = event.id
                            yield event
                        state.end_of_batch()
            except (httpx.TransportError, _RetryableStatus) as exc:
                failure = exc
            time.sleep(state.wait_before_reconnect(failure))
