"""Chat API clients: ``AsyncChatClient`` and its sync twin ``ChatClient``.

``send`` streams a reply as typed events and, if the connection drops mid-reply,
resumes it through ``GET /api/chat/{id}/stream`` with ``Last-Event-ID``: the
server replays exactly the events after the last one received, so the caller
sees every delta once. Error answers raise :class:`~rill.client.errors.APIError`.

    async with AsyncChatClient("http://127.0.0.1:8000") as chat:
        await chat.session()
        async for event in chat.send("echo", "hello"):
            ...

The two classes share every path, body and parser below; they differ only in I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from rill.client.errors import raise_for_problem
from rill.client.models import Bot, CancelResult, Conversation, HistoryPage, Session
from rill.client.reply import AsyncReplyStream, Reply, ReplyStream
from rill.client.sse import (
    DEFAULT_TIMEOUT,
    AsyncEventSource,
    EventSource,
    ReconnectPolicy,
    SSERequest,
)

__all__ = ["AsyncChatClient", "ChatClient"]

DEFAULT_URL = "http://127.0.0.1:8000"
MESSAGE_ID_HEADER = "X-Rill-Message-Id"


def _chat_request(chatbot_id: str, message: str, conversation_id: str | None) -> SSERequest:
    body: dict[str, str] = {"chatbotId": chatbot_id, "message": message}
    if conversation_id is not None:
        body["conversationId"] = conversation_id
    return SSERequest("/api/chat", method="POST", json=body)


def _stream_request(message_id: str) -> SSERequest:
    return SSERequest(f"/api/chat/{quote(message_id, safe='')}/stream")


def _resumer(reply: Reply) -> Callable[[], SSERequest | None]:
    """How a dropped ``POST /api/chat`` reconnects: never by re-posting the turn."""

    def reconnect() -> SSERequest | None:
        # Why: before message_start the reply has no id to resume; re-posting would
        # start a second turn, so the stream reports itself interrupted instead.
        return _stream_request(reply.message_id) if reply.message_id else None

    return reconnect


def _note_message_id(reply: Reply) -> Callable[[httpx.Response], None]:
    """Learn the reply's id from the response headers, before any event arrives."""

    def note(response: httpx.Response) -> None:
        # Why: Rill names the message in a header too; with it, a stream that drops
        # before message_start is still resumable. Absent (another server): no harm.
        message_id = response.headers.get(MESSAGE_ID_HEADER)
        if message_id and reply.message_id is None:
            reply.message_id = message_id

    return note


def _history_params(
    chatbot_id: str, conversation_id: str | None, before: str | None, limit: int
) -> dict[str, str]:
    params = {"chatbotId": chatbot_id, "limit": str(limit)}
    if conversation_id is not None:
        params["conversationId"] = conversation_id
    if before is not None:
        params["before"] = before
    return params


def _conversation_body(chatbot_id: str, title: str | None) -> dict[str, str]:
    return {"chatbotId": chatbot_id} | ({"title": title} if title is not None else {})


def _conversations(body: dict[str, Any]) -> list[Conversation]:
    return [Conversation.from_json(c) for c in body.get("conversations") or []]


def _set_token(headers: httpx.Headers, token: str | None) -> None:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    else:
        headers.pop("Authorization", None)


class AsyncChatClient:
    """The chat API over ``httpx.AsyncClient``."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        policy: ReconnectPolicy | None = None,
    ) -> None:
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(base_url=base_url, timeout=DEFAULT_TIMEOUT)
        #: How ``send`` and ``resume`` reconnect a dropped stream.
        self.policy = policy or ReconnectPolicy()
        self.token = token

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    @property
    def token(self) -> str | None:
        return self._token

    @token.setter
    def token(self, token: str | None) -> None:
        self._token = token
        _set_token(self._http.headers, token)

    # Any: decoded JSON, the boundary; each caller turns it into a typed value.
    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, path, **kwargs)
        raise_for_problem(response)
        return None if response.status_code == 204 else response.json()

    async def session(self) -> Session:
        """Create (or refresh) this client's session; later calls use its token."""
        session = Session.from_json(await self._call("POST", "/api/session"))
        self.token = session.token
        return session

    async def me(self) -> str:
        return str((await self._call("GET", "/api/me"))["userId"])

    async def bots(self) -> list[Bot]:
        return [Bot.from_json(b) for b in await self._call("GET", "/api/bots")]

    def send(
        self, chatbot_id: str, message: str, conversation_id: str | None = None
    ) -> AsyncReplyStream:
        """Start a turn; iterate the result for events, or ``await ….collect()``."""
        reply = Reply()
        source = AsyncEventSource(
            self._http,
            _chat_request(chatbot_id, message, conversation_id),
            policy=self.policy,
            reconnect=_resumer(reply),
            on_response=_note_message_id(reply),
        )
        return AsyncReplyStream(source, reply)

    async def ask(
        self, chatbot_id: str, message: str, conversation_id: str | None = None
    ) -> Reply:
        """``send`` and wait for the whole reply."""
        return await self.send(chatbot_id, message, conversation_id).collect()

    def resume(self, message_id: str, last_event_id: str | None = None) -> AsyncReplyStream:
        """The events after ``last_event_id`` (all of them without it), then live ones."""
        source = AsyncEventSource(
            self._http,
            _stream_request(message_id),
            policy=self.policy,
            last_event_id=last_event_id or "",
        )
        return AsyncReplyStream(source, Reply(message_id=message_id))

    async def cancel(self, message_id: str) -> CancelResult:
        path = f"/api/chat/{quote(message_id, safe='')}/cancel"
        return CancelResult.from_json(await self._call("POST", path))

    async def history(
        self,
        chatbot_id: str,
        conversation_id: str | None = None,
        before: str | None = None,
        limit: int = 20,
    ) -> HistoryPage:
        params = _history_params(chatbot_id, conversation_id, before, limit)
        return HistoryPage.from_json(await self._call("GET", "/api/history", params=params))

    async def conversations(self, chatbot_id: str | None = None) -> list[Conversation]:
        params = {"chatbotId": chatbot_id} if chatbot_id is not None else None
        return _conversations(await self._call("GET", "/api/conversations", params=params))

    async def new_conversation(self, chatbot_id: str, title: str | None = None) -> Conversation:
        body = _conversation_body(chatbot_id, title)
        return Conversation.from_json(await self._call("POST", "/api/conversations", json=body))

    async def delete_conversation(self, conversation_id: str) -> None:
        await self._call("DELETE", f"/api/conversations/{quote(conversation_id, safe='')}")

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class ChatClient:
    """The chat API over ``httpx.Client``: the same methods, blocking."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        http: httpx.Client | None = None,
        policy: ReconnectPolicy | None = None,
    ) -> None:
        self._owns_http = http is None
        self._http = http or httpx.Client(base_url=base_url, timeout=DEFAULT_TIMEOUT)
        self.policy = policy or ReconnectPolicy()
        self.token = token

    @property
    def base_url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    @property
    def token(self) -> str | None:
        return self._token

    @token.setter
    def token(self, token: str | None) -> None:
        self._token = token
        _set_token(self._http.headers, token)

    # Any: decoded JSON, the boundary.
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, path, **kwargs)
        raise_for_problem(response)
        return None if response.status_code == 204 else response.json()

    def session(self) -> Session:
        session = Session.from_json(self._call("POST", "/api/session"))
        self.token = session.token
        return session

    def me(self) -> str:
        return str(self._call("GET", "/api/me")["userId"])

    def bots(self) -> list[Bot]:
        return [Bot.from_json(b) for b in self._call("GET", "/api/bots")]

    def send(
        self, chatbot_id: str, message: str, conversation_id: str | None = None
    ) -> ReplyStream:
        reply = Reply()
        source = EventSource(
            self._http,
            _chat_request(chatbot_id, message, conversation_id),
            policy=self.policy,
            reconnect=_resumer(reply),
            on_response=_note_message_id(reply),
        )
        return ReplyStream(source, reply)

    def ask(self, chatbot_id: str, message: str, conversation_id: str | None = None) -> Reply:
        return self.send(chatbot_id, message, conversation_id).collect()

    def resume(self, message_id: str, last_event_id: str | None = None) -> ReplyStream:
        source = EventSource(
            self._http,
            _stream_request(message_id),
            policy=self.policy,
            last_event_id=last_event_id or "",
        )
        return ReplyStream(source, Reply(message_id=message_id))

    def cancel(self, message_id: str) -> CancelResult:
        path = f"/api/chat/{quote(message_id, safe='')}/cancel"
        return CancelResult.from_json(self._call("POST", path))

    def history(
        self,
        chatbot_id: str,
        conversation_id: str | None = None,
        before: str | None = None,
        limit: int = 20,
    ) -> HistoryPage:
        params = _history_params(chatbot_id, conversation_id, before, limit)
        return HistoryPage.from_json(self._call("GET", "/api/history", params=params))

    def conversations(self, chatbot_id: str | None = None) -> list[Conversation]:
        params = {"chatbotId": chatbot_id} if chatbot_id is not None else None
        return _conversations(self._call("GET", "/api/conversations", params=params))

    def new_conversation(self, chatbot_id: str, title: str | None = None) -> Conversation:
        body = _conversation_body(chatbot_id, title)
        return Conversation.from_json(self._call("POST", "/api/conversations", json=body))

    def delete_conversation(self, conversation_id: str) -> None:
        self._call("DELETE", f"/api/conversations/{quote(conversation_id, safe='')}")

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
