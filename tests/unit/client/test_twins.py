"""The sync and async chat clients are one client: for every call they send the same
request and read the same answer (both build them in ``_BaseChatClient``)."""

from __future__ import annotations

import httpx

from rill.client import AsyncChatClient, ChatClient
from tests.unit.client.test_json_api import routes

SESSION = {"token": "fresh-token", "userId": "u1", "expiresAt": "2030-01-01T00:00:00Z"}
CANCEL = {"id": "m/1", "status": "cancelled"}


def answer(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/api/session":
        return httpx.Response(200, json=SESSION)
    if request.url.path.endswith("/cancel"):
        return httpx.Response(200, json=CANCEL)
    return routes(request)


def wire(request: httpx.Request) -> tuple[str, str, list[tuple[str, str]], bytes]:
    return request.method, str(request.url), sorted(request.headers.items()), request.content


async def test_every_call_sends_the_same_request_and_reads_the_same_answer() -> None:
    sync_seen: list[httpx.Request] = []
    async_seen: list[httpx.Request] = []

    def sync_handle(request: httpx.Request) -> httpx.Response:
        sync_seen.append(request)
        return answer(request)

    async def async_handle(request: httpx.Request) -> httpx.Response:
        async_seen.append(request)
        return answer(request)

    sync = ChatClient(http=httpx.Client(base_url="http://t",
                                        transport=httpx.MockTransport(sync_handle)))
    aio = AsyncChatClient(http=httpx.AsyncClient(base_url="http://t",
                                                 transport=httpx.MockTransport(async_handle)))
    pairs = [
        (sync.session(), await aio.session()),
        (sync.me(), await aio.me()),
        (sync.bots(), await aio.bots()),
        (sync.history("echo", "c1", "msg_9", 5), await aio.history("echo", "c1", "msg_9", 5)),
        (sync.history("echo"), await aio.history("echo")),
        (sync.conversations("echo"), await aio.conversations("echo")),
        (sync.conversations(), await aio.conversations()),
        (sync.new_conversation("echo", "T"), await aio.new_conversation("echo", "T")),
        (sync.new_conversation("echo"), await aio.new_conversation("echo")),
        (sync.delete_conversation("c1"), await aio.delete_conversation("c1")),
        (sync.show_version("c1", "msg_0"), await aio.show_version("c1", "msg_0")),
        (sync.cancel("m/1"), await aio.cancel("m/1")),
    ]

    for got_sync, got_async in pairs:
        assert got_sync == got_async
    assert sync.token == aio.token == "fresh-token"
    assert len(sync_seen) == len(async_seen) == len(pairs)
    for sent_sync, sent_async in zip(sync_seen, async_seen, strict=True):
        assert wire(sent_sync)[:2] == wire(sent_async)[:2]
        assert wire(sent_sync)[3] == wire(sent_async)[3]
        assert dict(wire(sent_sync)[2]).get("authorization") == dict(
            wire(sent_async)[2]).get("authorization")
    # The session's token is sent from the next call on, by both.
    assert sync_seen[1].headers["authorization"] == "Bearer fresh-token"
    assert "authorization" not in sync_seen[0].headers
    assert sync_seen[-1].url.raw_path == b"/api/chat/m%2F1/cancel"
    sync.close()
    await aio.aclose()


async def test_both_open_reply_streams_with_the_same_request() -> None:
    sync = ChatClient(token="t")
    aio = AsyncChatClient(token="t")

    for sent_sync, sent_async in (
        (sync._send_opening("echo", "hi", "c1"), aio._send_opening("echo", "hi", "c1")),
        (sync._send_opening("echo", "hi", "c1", "msg_1"),
         aio._send_opening("echo", "hi", "c1", "msg_1")),
        (sync._resume_opening("m 1", "3-4"), aio._resume_opening("m 1", "3-4")),
    ):
        assert sent_sync.request == sent_async.request
        assert sent_sync.last_event_id == sent_async.last_event_id
        assert sent_sync.reply == sent_async.reply
    assert sync._resume_opening("m 1", "3-4").request.url == "/api/chat/m%201/stream"
    assert sync._send_opening("echo", "hi", None).request.json == {
        "chatbotId": "echo", "message": "hi"}
    sync.close()
    await aio.aclose()
