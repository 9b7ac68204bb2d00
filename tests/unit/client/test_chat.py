"""The chat clients against the in-memory fake API: calls, errors, and resume at every cut."""

from __future__ import annotations

import httpx
import orjson
import pytest

from rill.client import (
    APIError,
    AsyncChatClient,
    ChatClient,
    MessageStart,
    MessageStop,
    ReconnectPolicy,
    StreamInterrupted,
    TextDelta,
    Usage,
)

from .fakes import FakeChatServer

FAST = ReconnectPolicy(max_attempts=3, default_delay=0, max_delay=0)
KOREAN = "안녕하세요, 스트리밍 챗봇입니다"


def sync_client(server: FakeChatServer, token: str | None = "tok-1") -> ChatClient:
    http = httpx.Client(base_url="http://t", transport=server.transport())
    return ChatClient(token=token, http=http, policy=FAST)


def async_client(server: FakeChatServer, token: str | None = "tok-1") -> AsyncChatClient:
    http = httpx.AsyncClient(base_url="http://t", transport=server.transport())
    return AsyncChatClient(token=token, http=http, policy=FAST)


def test_session_stores_the_token() -> None:
    server = FakeChatServer()
    chat = sync_client(server, token=None)
    with pytest.raises(APIError) as info:
        chat.cancel("msg_x")
    assert info.value.status == 401
    session = chat.session()
    assert (session.user_id, session.token, chat.token) == ("u1", "tok-1", "tok-1")
    assert session.expires_at is not None and session.expires_at.year == 2030
    assert server.requests[-1].headers.get("authorization") is None
    chat.token = None
    assert "authorization" not in chat._http.headers


def test_send_streams_typed_events_and_accumulates_the_reply() -> None:
    server = FakeChatServer()
    stream = sync_client(server).send("echo", "hello streaming world", conversation_id="c9")
    events = list(stream)
    assert isinstance(events[0], MessageStart) and isinstance(events[-1], MessageStop)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "hello streaming world"
    reply = stream.reply
    assert reply.text == "hello streaming world"
    assert (reply.message_id, reply.conversation_id, reply.user_message_id) == (
        "msg_1", "conv_1", "msg_user")
    assert (reply.stop_reason, reply.usage, reply.done) == ("end_turn", Usage(3, 3), True)
    assert reply.last_event_id == events[-1].event_id
    sent = server.requests[-1]
    assert orjson.loads(sent.content) == {
        "chatbotId": "echo", "message": "hello streaming world", "conversationId": "c9"}
    assert sent.headers["accept"] == "text/event-stream"


def test_send_error_before_the_stream_is_a_problem() -> None:
    with pytest.raises(APIError) as info:
        sync_client(FakeChatServer()).ask("echo", "")
    assert (info.value.status, info.value.code) == (422, "invalid_request_error")


def test_resume_after_a_cut_at_every_byte_yields_exactly_the_full_text() -> None:
    body = FakeChatServer().stream_body_for(KOREAN)
    after_start = body.index(b"\n\n", body.index(b"message_start")) + 2
    for cut in range(after_start, len(body)):
        server = FakeChatServer(cut_post_at=cut, chunk=5)
        stream = sync_client(server).send("echo", KOREAN)
        deltas = [e.text for e in stream if isinstance(e, TextDelta)]
        assert "".join(deltas) == KOREAN, cut
        assert stream.reply.text == KOREAN and stream.reply.done
        resumes = [r for r in server.requests if r.url.path.endswith("/stream")]
        assert len(resumes) == 1
        assert resumes[0].url.path == "/api/chat/msg_1/stream"


def test_resume_survives_repeated_drops() -> None:
    # Each resume is cut after at least one whole event, so no attempt counts as failed.
    server = FakeChatServer(cut_post_at=400, cut_resumes_at=[250, 300, 250], chunk=3)
    assert sync_client(server).ask("echo", KOREAN + " and more words here").text == (
        KOREAN + " and more words here")


def test_drop_before_message_start_cannot_resume() -> None:
    server = FakeChatServer(cut_post_at=30)
    with pytest.raises(StreamInterrupted):
        sync_client(server).ask("echo", "hello")
    assert [r.method for r in server.requests] == ["POST"]


@pytest.mark.parametrize("cut", [0, 5, 12, 30, 100])
def test_drop_before_message_start_resumes_when_the_server_names_the_message(cut: int) -> None:
    server = FakeChatServer(cut_post_at=cut, id_header=True)
    reply = sync_client(server).ask("echo", "hello again")
    assert (reply.text, reply.message_id, reply.conversation_id) == (
        "hello again", "msg_1", "conv_1")
    resume = server.requests[-1]
    assert resume.url.path == "/api/chat/msg_1/stream"
    assert "last-event-id" not in resume.headers


def test_resume_a_message_from_an_event_id() -> None:
    server = FakeChatServer()
    chat = sync_client(server)
    full = chat.ask("echo", "one two three")
    stream = chat.resume("msg_1", last_event_id="3-4")
    assert stream.collect().text == "two three"
    assert server.requests[-1].headers["last-event-id"] == "3-4"
    assert chat.resume("msg_1").collect().text == full.text
    assert chat.resume("msg_1", last_event_id=full.last_event_id).collect().done is False


def test_resume_unknown_message_is_not_found() -> None:
    with pytest.raises(APIError) as info:
        sync_client(FakeChatServer()).resume("msg_nope").collect()
    assert info.value.status == 404


def test_cancel() -> None:
    server = FakeChatServer()
    chat = sync_client(server)
    chat.ask("echo", "x")
    result = chat.cancel("msg_1")
    assert (result.id, result.status) == ("msg_1", "cancelled")
    assert server.cancelled == {"msg_1"}


async def test_async_send_resumes_after_a_cut() -> None:
    body = FakeChatServer().stream_body_for(KOREAN)
    cut = body.index(b"text_delta") + 40
    server = FakeChatServer(cut_post_at=cut)
    async with async_client(server) as chat:
        stream = chat.send("echo", KOREAN)
        deltas = [e.text async for e in stream if isinstance(e, TextDelta)]
    assert "".join(deltas) == KOREAN
    assert stream.reply.done


async def test_async_session_cancel_and_errors() -> None:
    server = FakeChatServer()
    async with async_client(server, token=None) as chat:
        await chat.session()
        reply = await chat.ask("echo", "hi there")
        assert reply.text == "hi there"
        assert (await chat.cancel(reply.message_id or "")).status == "cancelled"
        with pytest.raises(APIError):
            await chat.resume("msg_nope").collect()


async def test_async_break_out_early_then_close() -> None:
    server = FakeChatServer()
    async with async_client(server) as chat:
        async with chat.send("echo", "one two three four") as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    break
        assert stream.reply.text == "one "
        # The reply goes on server-side; resume picks up after the last event seen.
        rest = await chat.resume("msg_1", stream.reply.last_event_id).collect()
        assert stream.reply.text + rest.text == "one two three four"


def test_sync_break_out_early_without_close() -> None:
    chat = sync_client(FakeChatServer())
    stream = chat.send("echo", "one two three four")
    for _ in stream:
        break
    del stream
