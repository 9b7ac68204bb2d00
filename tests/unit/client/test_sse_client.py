"""The reconnecting event source, against scripted ``httpx.MockTransport`` answers."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from rill.client import (
    APIError,
    AsyncEventSource,
    EventSource,
    NotAnEventStream,
    ReconnectExhausted,
    ReconnectPolicy,
    SSERequest,
    StreamInterrupted,
)
from rill.sse import ServerSentEvent

from .fakes import SSE_HEADERS, CutStream, problem

FAST = ReconnectPolicy(max_attempts=3, default_delay=0, max_delay=0)
Handler = Callable[[httpx.Request], httpx.Response]


def scripted(*answers: Handler | httpx.Response) -> tuple[list[httpx.Request], Handler]:
    """A handler giving ``answers`` in turn (the last one forever)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        return answer(request) if callable(answer) else answer

    return seen, handle


def sse(body: bytes, cut: int | None = None) -> Handler:
    return lambda _: httpx.Response(200, headers=SSE_HEADERS, stream=CutStream(body, cut=cut))


def sync_events(handler: Handler, request: SSERequest | str = "/s", **kw: object) -> tuple[
    EventSource, list[ServerSentEvent]
]:
    client = httpx.Client(base_url="http://t", transport=httpx.MockTransport(handler))
    source = EventSource(client, request, policy=FAST, **kw)  # type: ignore[arg-type]
    return source, list(source)


def test_reads_events_then_stops_on_204() -> None:
    seen, handler = scripted(sse(b"retry: 0\n\nid: 1\ndata: a\n\nid: 2\ndata: b\n\n"),
                             httpx.Response(204))
    source, events = sync_events(handler)
    assert [(e.id, e.data) for e in events] == [("1", "a"), ("2", "b")]
    assert source.last_event_id == "2"
    assert source.retry == 0
    assert seen[0].headers["accept"] == "text/event-stream"
    assert "last-event-id" not in seen[0].headers
    assert seen[1].headers["last-event-id"] == "2"


def test_reconnects_after_a_drop_with_last_event_id_and_discards_the_partial_event() -> None:
    first = b"id: 1\ndata: a\n\nid: 2\ndata: half"
    seen, handler = scripted(sse(first, cut=len(first)), sse(b"id: 2\ndata: b\n\n"),
                             httpx.Response(204))
    _, events = sync_events(handler)
    assert [e.data for e in events] == ["a", "b"]
    assert [r.headers.get("last-event-id") for r in seen] == [None, "1", "2"]


def test_last_event_id_persists_into_a_connection_whose_events_have_no_id() -> None:
    seen, handler = scripted(sse(b"id: 7\ndata: a\n\n"), sse(b"event: ping\ndata: {}\n\n"),
                             httpx.Response(204))
    _, events = sync_events(handler)
    assert [(e.event, e.id) for e in events] == [("message", "7"), ("ping", "7")]
    assert seen[2].headers["last-event-id"] == "7"


def test_id_only_event_moves_the_last_event_id() -> None:
    seen, handler = scripted(sse(b"id: 1\ndata: a\n\nid: 2\n\n"), httpx.Response(204))
    source, _ = sync_events(handler)
    assert source.last_event_id == "2"
    assert seen[1].headers["last-event-id"] == "2"


def test_initial_last_event_id_is_sent() -> None:
    seen, handler = scripted(httpx.Response(204))
    assert sync_events(handler, last_event_id="5-1")[1] == []
    assert seen[0].headers["last-event-id"] == "5-1"


def test_post_with_json_body() -> None:
    seen, handler = scripted(sse(b"data: ok\n\n"), httpx.Response(204))
    request = SSERequest("/chat", method="POST", json={"q": "안녕"}, headers={"X-A": "1"},
                         params={"p": "2"})
    _, events = sync_events(handler, request)
    assert [e.data for e in events] == ["ok"]
    assert seen[0].method == "POST"
    assert orjson.loads(seen[0].content) == {"q": "안녕"}
    assert seen[0].headers["x-a"] == "1"
    assert seen[0].url.params["p"] == "2"


def test_4xx_raises_the_problem_detail_without_reconnecting() -> None:
    seen, handler = scripted(problem(404, "no such message"))
    with pytest.raises(APIError) as info:
        sync_events(handler)
    assert (info.value.status, info.value.detail) == (404, "no such message")
    assert info.value.code == "not_found_error"
    assert info.value.problem["title"] == "Nope"
    assert len(seen) == 1


def test_4xx_after_a_reconnect_stops_too() -> None:
    seen, handler = scripted(sse(b"id: 1\ndata: a\n\n"), problem(403, "not yours"))
    with pytest.raises(APIError, match="not yours"):
        sync_events(handler)
    assert len(seen) == 2


def test_5xx_is_retried_then_raised() -> None:
    seen, handler = scripted(problem(503, "down", "overloaded_error"))
    with pytest.raises(APIError) as info:
        sync_events(handler)
    assert info.value.status == 503
    assert len(seen) == FAST.max_attempts + 1


def test_5xx_then_recovery() -> None:
    _, handler = scripted(problem(502, "flaky"), sse(b"data: ok\n\n"), httpx.Response(204))
    assert [e.data for e in sync_events(handler)[1]] == ["ok"]


def test_network_errors_exhaust_the_attempts() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    seen, handler = scripted(refuse)
    with pytest.raises(ReconnectExhausted) as info:
        sync_events(handler)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert len(seen) == FAST.max_attempts + 1


def test_attempts_reset_after_a_connection_that_delivered_events() -> None:
    answers: list[Handler | httpx.Response] = []
    for i in range(FAST.max_attempts * 3):
        body = f"id: {i}\ndata: {i}\n\n".encode()
        answers.append(sse(body, cut=len(body)))
    _, handler = scripted(*answers, httpx.Response(204))
    assert len(sync_events(handler)[1]) == FAST.max_attempts * 3


def test_a_server_that_never_sends_an_event_is_given_up_on() -> None:
    seen, handler = scripted(sse(b": nothing\n\n"))
    with pytest.raises(ReconnectExhausted):
        sync_events(handler)
    assert len(seen) == FAST.max_attempts + 1


def test_not_an_event_stream() -> None:
    _, handler = scripted(httpx.Response(200, json={"a": 1}))
    with pytest.raises(NotAnEventStream, match="application/json"):
        sync_events(handler)


def test_content_type_parameters_are_accepted() -> None:
    headers = {"content-type": "Text/Event-Stream; charset=utf-8"}
    _, handler = scripted(httpx.Response(200, headers=headers, content=b"data: x\n\n"),
                          httpx.Response(204))
    assert [e.data for e in sync_events(handler)[1]] == ["x"]


def test_reconnect_hook_chooses_the_next_request_or_interrupts() -> None:
    target: list[SSERequest | None] = [SSERequest("/resume")]
    seen, handler = scripted(sse(b"id: 1\ndata: a\n\n"), httpx.Response(204))
    sync_events(handler, SSERequest("/start", method="POST"), reconnect=lambda: target[0])
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/start"), ("GET", "/resume")]

    target[0] = None
    _, handler = scripted(sse(b"data: a", cut=7))
    with pytest.raises(StreamInterrupted) as info:
        sync_events(handler, reconnect=lambda: target[0])
    assert isinstance(info.value.__cause__, httpx.ReadError)


def test_breaking_out_closes_the_response() -> None:
    class Tracked(CutStream):
        closed = False

        def close(self) -> None:
            self.closed = True

    streams: list[Tracked] = []

    def handle(request: httpx.Request) -> httpx.Response:
        streams.append(Tracked(b"data: a\n\ndata: b\n\n"))
        return httpx.Response(200, headers=SSE_HEADERS, stream=streams[-1])

    client = httpx.Client(base_url="http://t", transport=httpx.MockTransport(handle))
    with EventSource(client, "/s", policy=FAST) as source:
        for _ in source:
            break
    assert streams[0].closed


@pytest.mark.parametrize(
    ("attempt", "server_ms", "expected"),
    [(1, None, 3.0), (2, None, 6.0), (3, None, 12.0), (6, None, 30.0),
     (1, 2000, 2.0), (2, 2000, 4.0), (1, 0, 0.0), (1, 10**9, 30.0)],
)
def test_delay_follows_the_server_retry_with_backoff_and_a_cap(
    attempt: int, server_ms: int | None, expected: float
) -> None:
    assert ReconnectPolicy().delay(attempt, server_ms) == expected


async def test_async_source_reconnects_and_resumes() -> None:
    first = b"retry: 0\n\nid: 1\ndata: \xec\x95\x88\n\nid: 2\ndata: \xeb"
    seen, handler = scripted(sse(first, cut=len(first)), sse(b"id: 2\ndata: b\n\n"),
                             httpx.Response(204))
    async with httpx.AsyncClient(base_url="http://t",
                                 transport=httpx.MockTransport(handler)) as client:
        source = AsyncEventSource(client, "/s", policy=FAST)
        events = [e async for e in source]
    assert [e.data for e in events] == ["안", "b"]
    assert [r.headers.get("last-event-id") for r in seen] == [None, "1", "2"]
    assert source.retry == 0


async def test_async_source_raises_problems() -> None:
    _, handler = scripted(problem(401, "sign in", "authentication_error"))
    async with httpx.AsyncClient(base_url="http://t",
                                 transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(APIError) as info:
            async with AsyncEventSource(client, "/s", policy=FAST) as source:
                async for _ in source:
                    pass
    assert info.value.status == 401
    assert str(info.value) == "401 Nope: sign in"
