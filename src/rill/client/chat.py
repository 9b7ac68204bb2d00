"""Chat API clients: ``AsyncChatClient`` and its sync twin ``ChatClient``.

``send`` streams a reply as typed events and, if the connection drops mid-reply,
resumes it through ``GET /api/chat/{id}/stream`` with ``Last-Event-ID``: the
server replays exactly the events after the last one received, so the caller
sees every delta once. Error answers raise :class:`~rill.client.errors.APIError`.

    async with AsyncChatClient("http://127.0.0.1:8000") as chat:
        await chat.session()
        async for event in chat.send("echo", "hello"):
            ...

``_BaseChatClient`` builds every request and reads every answer; the two clients
only send them, as httpx's ``Client`` and ``AsyncClient`` share ``BaseClient``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
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

T = TypeVar("T")
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)

DEFAULT_URL = "http://127.0.0.1:8000"
MESSAGE_ID_HEADER = "X-Rill-Message-Id"


def _chat_request(
    chatbot_id: str, message: str, conversation_id: str | None, edit_of: str | None
) -> SSERequest:
    body: dict[str, str] = {"chatbotId": chatbot_id, "message": message}
    if conversation_id is not None:
        body["conversationId"] = conversation_id
    if edit_of is not None:
        body["editOf"] = edit_of
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


def _set_token(headers: httpx.Headers, token: str | None) -> None:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    else:
        headers.pop("Authorization", None)


def _conversations(body: dict[str, Any]) -> list[Conversation]:
    return [Conversation.from_json(c) for c in body.get("conversations") or []]


# Any: decoded JSON, the boundary; each call's ``read`` turns it into a typed value.
def _nothing(body: Any) -> None:
    return None


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    """One JSON API request, and how to read its answer into a typed value."""

    method: str
    path: str
    read: Callable[[Any], T]
    params: dict[str, str] | None = None
    json: dict[str, str] | None = None

    def answer(self, response: httpx.Response) -> T:
        raise_for_problem(response)
        return self.read(None if response.status_code == 204 else response.json())


@dataclass(frozen=True, slots=True)
class _ReplyOpening:
    """How to open one reply's event stream, and the ``Reply`` it fills."""

    request: SSERequest
    reply: Reply
    reconnect: Callable[[], SSERequest | None] | None = None
    on_response: Callable[[httpx.Response], None] | None = None
    last_event_id: str = ""


class _BaseChatClient(ABC, Generic[HttpT]):
    """Everything but the I/O: settings, auth, the requests and how their answers read.

    Each public method of the two clients below is one line: build the request
    here, send it with their own httpx client, read the answer here.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        http: HttpT | None = None,
        policy: ReconnectPolicy | None = None,
    ) -> None:
        self._owns_http = http is None
        self._http: HttpT = http or self._new_http(base_url)
        #: How ``send`` and ``resume`` reconnect a dropped stream.
        self.policy = policy or ReconnectPolicy()
        self.token = token

    @abstractmethod
    def _new_http(self, base_url: str) -> HttpT:
        """The httpx client to use when the caller gives none (closed with this one)."""

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

    def _session_call(self) -> _Call[Session]:
        return _Call("POST", "/api/session", self._took_session)

    def _took_session(self, body: Any) -> Session:
        session = Session.from_json(body)
        self.token = session.token
        return session

    def _me_call(self) -> _Call[str]:
        return _Call("GET", "/api/me", lambda body: str(body["userId"]))

    def _bots_call(self) -> _Call[list[Bot]]:
        return _Call("GET", "/api/bots", lambda body: [Bot.from_json(b) for b in body])

    def _send_opening(
        self, chatbot_id: str, message: str, conversation_id: str | None,
        edit_of: str | None = None,
    ) -> _ReplyOpening:
        reply = Reply()
        return _ReplyOpening(
            _chat_request(chatbot_id, message, conversation_id, edit_of),
            reply,
            reconnect=_resumer(reply),
            on_response=_note_message_id(reply),
        )

    def _resume_opening(self, message_id: str, last_event_id: str | None) -> _ReplyOpening:
        return _ReplyOpening(
            _stream_request(message_id),
            Reply(message_id=message_id),
            last_event_id=last_event_id or "",
        )

    def _cancel_call(self, message_id: str) -> _Call[CancelResult]:
        path = f"/api/chat/{quote(message_id, safe='')}/cancel"
        return _Call("POST", path, CancelResult.from_json)

    def _history_call(
        self, chatbot_id: str, conversation_id: str | None, before: str | None, limit: int
    ) -> _Call[HistoryPage]:
        params = {"chatbotId": chatbot_id, "limit": str(limit)}
        if conversation_id is not None:
            params["conversationId"] = conversation_id
        if before is not None:
            params["before"] = before
        return _Call("GET", "/api/history", HistoryPage.from_json, params=params)

    def _show_version_call(self, conversation_id: str, message_id: str) -> _Call[HistoryPage]:
        path = f"/api/conversations/{quote(conversation_id, safe='')}/versions"
        return _Call("POST", path, HistoryPage.from_json, json={"messageId": message_id})

    def _conversations_call(self, chatbot_id: str | None) -> _Call[list[Conversation]]:
        params = {"chatbotId": chatbot_id} if chatbot_id is not None else None
        return _Call("GET", "/api/conversations", _conversations, params=params)

    def _new_conversation_call(
        self, chatbot_id: str, title: str | None
    ) -> _Call[Conversation]:
        body = {"chatbotId": chatbot_id} | ({"title": title} if title is not None else {})
        return _Call("POST", "/api/conversations", Conversation.from_json, json=body)

    def _delete_conversation_call(self, conversation_id: str) -> _Call[None]:
        path = f"/api/conversations/{quote(conversation_id, safe='')}"
        return _Call("DELETE", path, _nothing)


class AsyncChatClient(_BaseChatClient[httpx.AsyncClient]):
    """The chat API over ``httpx.AsyncClient``."""

    def _new_http(self, base_url: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=base_url, timeout=DEFAULT_TIMEOUT)

    async def _send(self, call: _Call[T]) -> T:
        response = await self._http.request(
            call.method, call.path, params=call.params, json=call.json
        )
        return call.answer(response)

    def _open(self, opening: _ReplyOpening) -> AsyncReplyStream:
        source = AsyncEventSource(
            self._http,
            opening.request,
            policy=self.policy,
            reconnect=opening.reconnect,
            last_event_id=opening.last_event_id,
            on_response=opening.on_response,
        )
        return AsyncReplyStream(source, opening.reply)

    async def session(self) -> Session:
        """Create (or refresh) this client's session; later calls use its token."""
        return await self._send(self._session_call())

    async def me(self) -> str:
        return await self._send(self._me_call())

    async def bots(self) -> list[Bot]:
        return await self._send(self._bots_call())

    def send(
        self, chatbot_id: str, message: str, conversation_id: str | None = None,
        *, edit_of: str | None = None,
    ) -> AsyncReplyStream:
        """Start a turn; iterate the result for events, or ``await ….collect()``.
        ``edit_of``: resend that user message with ``message`` as its new text."""
        return self._open(self._send_opening(chatbot_id, message, conversation_id, edit_of))

    async def ask(
        self, chatbot_id: str, message: str, conversation_id: str | None = None,
        *, edit_of: str | None = None,
    ) -> Reply:
        """``send`` and wait for the whole reply."""
        return await self.send(chatbot_id, message, conversation_id, edit_of=edit_of).collect()

    def resume(self, message_id: str, last_event_id: str | None = None) -> AsyncReplyStream:
        """The events after ``last_event_id`` (all of them without it), then live ones."""
        return self._open(self._resume_opening(message_id, last_event_id))

    async def cancel(self, message_id: str) -> CancelResult:
        return await self._send(self._cancel_call(message_id))

    async def history(
        self,
        chatbot_id: str,
        conversation_id: str | None = None,
        before: str | None = None,
        limit: int = 20,
    ) -> HistoryPage:
        return await self._send(self._history_call(chatbot_id, conversation_id, before, limit))

    async def show_version(self, conversation_id: str, message_id: str) -> HistoryPage:
        """Show another version of a message (an id from ``Message.versions``): the
        newest page of the path the conversation shows now."""
        return await self._send(self._show_version_call(conversation_id, message_id))

    async def conversations(self, chatbot_id: str | None = None) -> list[Conversation]:
        return await self._send(self._conversations_call(chatbot_id))

    async def new_conversation(self, chatbot_id: str, title: str | None = None) -> Conversation:
        return await self._send(self._new_conversation_call(chatbot_id, title))

    async def delete_conversation(self, conversation_id: str) -> None:
        await self._send(self._delete_conversation_call(conversation_id))

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class ChatClient(_BaseChatClient[httpx.Client]):
    """The chat API over ``httpx.Client``: the same methods, blocking."""

    def _new_http(self, base_url: str) -> httpx.Client:
        return httpx.Client(base_url=base_url, timeout=DEFAULT_TIMEOUT)

    def _send(self, call: _Call[T]) -> T:
        response = self._http.request(call.method, call.path, params=call.params, json=call.json)
        return call.answer(response)

    def _open(self, opening: _ReplyOpening) -> ReplyStream:
        source = EventSource(
            self._http,
            opening.request,
            policy=self.policy,
            reconnect=opening.reconnect,
            last_event_id=opening.last_event_id,
            on_response=opening.on_response,
        )
        return ReplyStream(source, opening.reply)

    def session(self) -> Session:
        return self._send(self._session_call())

    def me(self) -> str:
        return self._send(self._me_call())

    def bots(self) -> list[Bot]:
        return self._send(self._bots_call())

    def send(
        self, chatbot_id: str, message: str, conversation_id: str | None = None,
        *, edit_of: str | None = None,
    ) -> ReplyStream:
        return self._open(self._send_opening(chatbot_id, message, conversation_id, edit_of))

    def ask(
        self, chatbot_id: str, message: str, conversation_id: str | None = None,
        *, edit_of: str | None = None,
    ) -> Reply:
        return self.send(chatbot_id, message, conversation_id, edit_of=edit_of).collect()

    def resume(self, message_id: str, last_event_id: str | None = None) -> ReplyStream:
        return self._open(self._resume_opening(message_id, last_event_id))

    def cancel(self, message_id: str) -> CancelResult:
        return self._send(self._cancel_call(message_id))

    def history(
        self,
        chatbot_id: str,
        conversation_id: str | None = None,
        before: str | None = None,
        limit: int = 20,
    ) -> HistoryPage:
        return self._send(self._history_call(chatbot_id, conversation_id, before, limit))

    def show_version(self, conversation_id: str, message_id: str) -> HistoryPage:
        return self._send(self._show_version_call(conversation_id, message_id))

    def conversations(self, chatbot_id: str | None = None) -> list[Conversation]:
        return self._send(self._conversations_call(chatbot_id))

    def new_conversation(self, chatbot_id: str, title: str | None = None) -> Conversation:
        return self._send(self._new_conversation_call(chatbot_id, title))

    def delete_conversation(self, conversation_id: str) -> None:
        self._send(self._delete_conversation_call(conversation_id))

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
