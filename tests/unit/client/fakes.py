"""An in-memory fake of the chat API for ``httpx.MockTransport``: no sockets, exact control.

It streams an echo reply in the documented event format and can cut a stream at
any byte, so the client's resume logic is tested at every possible cut point.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import orjson

from rill.sse import encode_event
from rill.sse.encoder import retry_field

SSE_HEADERS = {"content-type": "text/event-stream", "cache-control": "no-cache"}


class CutStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Yields ``body`` in ``chunk``-sized pieces, then fails like a dropped connection."""

    def __init__(
        self,
        body: bytes,
        *,
        cut: int | None = None,
        chunk: int = 7,
        error: BaseException | None = None,
    ) -> None:
        self.body = body if cut is None else body[:cut]
        self.error = error or httpx.ReadError("connection reset by fake peer")
        self.dropped = cut is not None
        self.chunk = chunk

    def _pieces(self) -> list[bytes]:
        return [self.body[i : i + self.chunk] for i in range(0, len(self.body), self.chunk)]

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces()
        if self.dropped:
            raise self.error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            yield piece
        if self.dropped:
            raise self.error


def problem(status: int, detail: str, code: str = "not_found_error") -> httpx.Response:
    body = {"type": f"https://rill.dev/problems/{code}", "title": "Nope", "status": status,
            "detail": detail}
    return httpx.Response(status, content=orjson.dumps(body),
                          headers={"content-type": "application/problem+json"})


def echo_events(message_id: str, text: str) -> list[bytes]:
    """The events of an echo reply, each encoded, with ``<seq>-<offset>`` ids."""
    words = [w + " " for w in text.split(" ")]
    words[-1] = words[-1][:-1]
    start: dict[str, object] = {"type": "message_start", "message": {
        "id": message_id, "type": "message", "role": "assistant", "content": [],
        "model": "echo", "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 0},
        "conversation_id": "conv_1", "user_message_id": "msg_user", "chatbot_id": "echo"}}
    bodies: list[tuple[str, dict[str, object], int]] = [("message_start", start, 0)]
    bodies.append(("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}}, 0))
    offset = 0
    for word in words:
        offset += len(word)
        bodies.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                               "delta": {"type": "text_delta", "text": word}},
                       offset))
    bodies.append(("content_block_stop", {"type": "content_block_stop", "index": 0}, offset))
    bodies.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                     "usage": {"output_tokens": len(words)}}, offset))
    bodies.append(("message_stop", {"type": "message_stop"}, offset))
    return [
        encode_event(orjson.dumps(body).decode(), event=name, id=f"{seq}-{off}")
        for seq, (name, body, off) in enumerate(bodies, start=1)
    ]


@dataclass
class FakeChatServer:
    """Route table of the fake; ``requests`` records everything the client sent."""

    #: Byte offset at which the next ``POST /api/chat`` response is cut (None: whole).
    cut_post_at: int | None = None
    #: Byte offsets at which successive resumes are cut.
    cut_resumes_at: list[int] = field(default_factory=list)
    #: Raised where the POST is cut instead of a read error (e.g. KeyboardInterrupt).
    cut_error: BaseException | None = None
    #: Name the new message in an ``X-Rill-Message-Id`` header, as Rill does.
    id_header: bool = False
    retry_ms: int = 0
    chunk: int = 7
    requests: list[httpx.Request] = field(default_factory=list)
    replies: dict[str, list[bytes]] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def stream_body(self, message_id: str) -> bytes:
        return retry_field(self.retry_ms) + b"".join(self.replies[message_id])

    def stream_body_for(self, text: str) -> bytes:
        """The whole POST body this fake sends for ``text`` as its first message."""
        return retry_field(self.retry_ms) + b"".join(echo_events("msg_1", text))

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if path == "/api/session" and method == "POST":
            return httpx.Response(200, json={"userId": "u1", "token": "tok-1",
                                             "expiresAt": "2030-01-01T00:00:00Z"})
        if request.headers.get("authorization") != "Bearer tok-1":
            return problem(401, "sign in first", "authentication_error")
        if path == "/api/chat" and method == "POST":
            return self._chat(request)
        if path.startswith("/api/chat/") and path.endswith("/stream"):
            return self._resume(path.split("/")[3], request.headers.get("last-event-id", ""))
        if path.startswith("/api/chat/") and path.endswith("/cancel"):
            message_id = path.split("/")[3]
            if message_id not in self.replies:
                return problem(404, "no such message")
            self.cancelled.add(message_id)
            return httpx.Response(202, json={"id": message_id, "status": "cancelled"})
        if path == "/api/bots":
            return httpx.Response(200, json=[
                {"id": "echo", "name": "Echo", "description": "says it back",
                 "provider": "echo", "model": "echo"},
                {"id": "guide", "name": "Guide", "description": "knows SSE",
                 "provider": "guide", "model": "bm25"}])
        if path == "/api/conversations" and method == "POST":
            body = orjson.loads(request.content)
            return httpx.Response(201, json={"id": f"conv_{next(self._ids)}",
                                             "chatbotId": body["chatbotId"], "title": None})
        return problem(404, f"no route {method} {path}")

    def _chat(self, request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        if body.get("chatbotId") not in ("echo", "guide"):
            return problem(404, "no such bot")
        if not body.get("message"):
            return problem(422, "message must not be empty", "invalid_request_error")
        message_id = f"msg_{next(self._ids)}"
        self.replies[message_id] = echo_events(message_id, body["message"])
        cut, self.cut_post_at = self.cut_post_at, None
        stream = CutStream(self.stream_body(message_id), cut=cut, chunk=self.chunk,
                           error=self.cut_error)
        headers = dict(SSE_HEADERS)
        if self.id_header:
            headers["x-rill-message-id"] = message_id
        return httpx.Response(200, headers=headers, stream=stream)

    def _resume(self, message_id: str, last_event_id: str) -> httpx.Response:
        if message_id not in self.replies:
            return problem(404, "no such message")
        events = self.replies[message_id]
        ids = [f"{i}-" for i in range(1, len(events) + 1)]
        after = 0
        if last_event_id:
            after = next(i for i, prefix in enumerate(ids, 1) if last_event_id.startswith(prefix))
        rest = events[after:]
        if not rest:
            return httpx.Response(204)
        cut = self.cut_resumes_at.pop(0) if self.cut_resumes_at else None
        body = retry_field(self.retry_ms) + b"".join(rest)
        return httpx.Response(200, headers=SSE_HEADERS,
                              stream=CutStream(body, cut=cut, chunk=self.chunk))

