"""Talk to a real server: send a turn, read its SSE stream, cut it wherever."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from rill.sse import ServerSentEvent, SSEDecoder


@dataclass
class Stream:
    status: int
    headers: httpx.Headers
    events: list[ServerSentEvent] = field(default_factory=list)
    retry: int | None = None
    raw: bytes = b""

    @property
    def text(self) -> str:
        return "".join(
            e.json()["delta"]["text"] for e in self.events if e.event == "content_block_delta"
        )

    @property
    def names(self) -> list[str]:
        return [e.event for e in self.events]

    @property
    def message_id(self) -> str:
        return str(self.events[0].json()["message"]["id"])

    @property
    def last_id(self) -> str:
        return self.events[-1].id

    def data(self, name: str) -> dict[str, Any]:
        return next(e.json() for e in self.events if e.event == name)


def read_stream(response: httpx.Response, *, stop_after_bytes: int | None = None) -> Stream:
    """Decode an SSE response; with ``stop_after_bytes``, drop the connection there."""
    decoder = SSEDecoder()
    out = Stream(response.status_code, response.headers)
    received = 0
    for chunk in response.iter_raw():
        if stop_after_bytes is not None and received + len(chunk) >= stop_after_bytes:
            chunk = chunk[: stop_after_bytes - received]
            out.raw += chunk
            out.events += [e for e in decoder.feed(chunk) if e.event != "ping"]
            break
        received += len(chunk)
        out.raw += chunk
        out.events += [e for e in decoder.feed(chunk) if e.event != "ping"]
    out.retry = decoder.retry
    return out


def read_stream_from(head: bytes, rest: Iterator[bytes], response: httpx.Response) -> Stream:
    """Decode a stream whose first chunk the caller already took."""
    decoder = SSEDecoder()
    out = Stream(response.status_code, response.headers, raw=head)
    out.events += [e for e in decoder.feed(head) if e.event != "ping"]
    for chunk in rest:
        out.raw += chunk
        out.events += [e for e in decoder.feed(chunk) if e.event != "ping"]
    out.retry = decoder.retry
    return out


def chat(client: httpx.Client, bot: str, message: str, **extra: Any) -> Stream:
    body = {"chatbotId": bot, "message": message, **extra}
    with client.stream("POST", "/api/chat", json=body,
                       headers={"Accept": "text/event-stream"}) as response:
        if response.status_code != 200:
            response.read()
            return Stream(response.status_code, response.headers, raw=response.content)
        return read_stream(response)


def resume(client: httpx.Client, message_id: str, last_event_id: str | None) -> Stream:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    with client.stream("GET", f"/api/chat/{message_id}/stream", headers=headers) as response:
        if response.status_code != 200:
            response.read()
            return Stream(response.status_code, response.headers, raw=response.content)
        return read_stream(response)


def authed(server_url: str) -> httpx.Client:
    token = httpx.post(f"{server_url}/api/session", timeout=10).json()["token"]
    return httpx.Client(
        base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {token}"}
    )


def problem(response_or_stream: httpx.Response | Stream) -> dict[str, Any]:
    raw = response_or_stream.raw if isinstance(response_or_stream, Stream) else (
        response_or_stream.content)
    headers = response_or_stream.headers
    assert headers["content-type"].startswith("application/problem+json"), headers
    body: dict[str, Any] = json.loads(raw)
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body
