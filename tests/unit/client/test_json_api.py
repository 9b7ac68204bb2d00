"""The JSON endpoints: paths, parameters, parsing, problem+json errors."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest

from rill.client import APIError, AsyncChatClient, ChatClient, Conversation

MESSAGE = {"id": "msg_2", "conversationId": "c1", "chatbotId": "echo", "role": "assistant",
           "content": "hi", "createdAt": "2025-03-01T10:00:00.123456Z", "status": "complete",
           "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 2}}
VERSIONED = {**MESSAGE, "parentId": "msg_1", "versions": ["msg_0", "msg_2"]}
CONVERSATION = {"id": "c1", "chatbotId": "echo", "title": "Hello",
                "createdAt": "2025-03-01T10:00:00+00:00", "updatedAt": "2025-03-01T10:01:00Z"}


def routes(request: httpx.Request) -> httpx.Response:
    key = (request.method, request.url.path)
    answers: dict[tuple[str, str], Callable[[], httpx.Response]] = {
        ("GET", "/api/me"): lambda: httpx.Response(200, json={"userId": "u1"}),
        ("GET", "/api/bots"): lambda: httpx.Response(200, json=[
            {"id": "echo", "name": "Echo", "description": "d", "provider": "echo",
             "model": "echo"}]),
        ("GET", "/api/history"): lambda: httpx.Response(200, json={
            "messages": [MESSAGE], "hasMore": True, "nextCursor": "msg_2"}),
        ("GET", "/api/conversations"): lambda: httpx.Response(
            200, json={"conversations": [CONVERSATION]}),
        ("POST", "/api/conversations"): lambda: httpx.Response(201, json=CONVERSATION),
        ("POST", "/api/conversations/c1/versions"): lambda: httpx.Response(200, json={
            "messages": [VERSIONED], "hasMore": False, "nextCursor": None}),
        ("DELETE", "/api/conversations/c1"): lambda: httpx.Response(204),
        ("DELETE", "/api/conversations/busy"): lambda: httpx.Response(
            409, json={"type": "https://rill.dev/problems/conflict_error", "title": "Conflict",
                       "status": 409, "detail": "a reply is streaming"},
            headers={"content-type": "application/problem+json"}),
    }
    if key in answers:
        return answers[key]()
    return httpx.Response(502, text="<html>bad gateway</html>")


@pytest.fixture
def seen() -> list[httpx.Request]:
    return []


@pytest.fixture
def chat(seen: list[httpx.Request]) -> ChatClient:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return routes(request)

    return ChatClient(token="t", http=httpx.Client(base_url="http://t",
                                                    transport=httpx.MockTransport(handle)))


def test_me_and_bots(chat: ChatClient, seen: list[httpx.Request]) -> None:
    assert chat.me() == "u1"
    assert seen[0].headers["authorization"] == "Bearer t"
    [bot] = chat.bots()
    assert (bot.id, bot.name, bot.provider) == ("echo", "Echo", "echo")


def test_history(chat: ChatClient, seen: list[httpx.Request]) -> None:
    page = chat.history("echo", conversation_id="c1", before="msg_9", limit=5)
    assert dict(seen[0].url.params) == {"chatbotId": "echo", "conversationId": "c1",
                                        "before": "msg_9", "limit": "5"}
    assert page.has_more and page.next_cursor == "msg_2"
    [message] = page.messages
    assert (message.role, message.content, message.stop_reason) == ("assistant", "hi", "end_turn")
    assert message.created_at is not None and message.created_at.microsecond == 123456
    assert message.usage is not None and message.usage.output_tokens == 2
    chat.history("echo")
    assert dict(seen[1].url.params) == {"chatbotId": "echo", "limit": "20"}


def test_conversations(chat: ChatClient, seen: list[httpx.Request]) -> None:
    [conversation] = chat.conversations("echo")
    assert seen[0].url.params["chatbotId"] == "echo"
    assert isinstance(conversation, Conversation) and conversation.title == "Hello"
    assert chat.new_conversation("echo", title="Hello") == conversation
    assert orjson.loads(seen[1].content) == {"chatbotId": "echo", "title": "Hello"}
    chat.delete_conversation("c1")
    assert seen[2].method == "DELETE"


def test_show_version(chat: ChatClient, seen: list[httpx.Request]) -> None:
    page = chat.show_version("c1", "msg_0")
    assert (seen[0].method, seen[0].url.path) == ("POST", "/api/conversations/c1/versions")
    assert orjson.loads(seen[0].content) == {"messageId": "msg_0"}
    [message] = page.messages
    assert (message.parent_id, message.versions) == ("msg_1", ("msg_0", "msg_2"))
    assert chat.history("echo").messages[0].versions == ("msg_2",)  # none listed: its own


def test_problem_json_error(chat: ChatClient) -> None:
    with pytest.raises(APIError) as info:
        chat.delete_conversation("busy")
    error = info.value
    assert (error.status, error.code, error.title, error.detail) == (
        409, "conflict_error", "Conflict", "a reply is streaming")


def test_non_json_error_still_carries_status_and_text(chat: ChatClient) -> None:
    with pytest.raises(APIError) as info:
        chat.cancel("x")
    assert info.value.status == 502
    assert info.value.detail == "<html>bad gateway</html>"
    assert info.value.problem == {}


async def test_async_json_endpoints() -> None:
    transport = httpx.MockTransport(routes)
    async with AsyncChatClient(token="t", http=httpx.AsyncClient(
            base_url="http://t", transport=transport)) as chat:
        assert await chat.me() == "u1"
        assert [b.id for b in await chat.bots()] == ["echo"]
        assert (await chat.history("echo")).has_more
        assert [c.id for c in await chat.conversations()] == ["c1"]
        assert (await chat.new_conversation("echo")).id == "c1"
        await chat.delete_conversation("c1")
        with pytest.raises(APIError, match="streaming"):
            await chat.delete_conversation("busy")
