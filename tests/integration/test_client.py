"""The Python client and ``rill chat`` against a real ``rill serve`` (the ``rill_server`` fixture).

Bots: ``echo`` (fast echo), ``slow`` (slow echo), ``guide``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence

import httpx
import pytest

from rill.client import (
    APIError,
    AsyncChatClient,
    ChatClient,
    MessageStart,
    MessageStop,
    ReconnectPolicy,
    TextDelta,
)
from rill.sse import ServerSentEvent, SSEDecoder
from tests.conftest import RunningServer

# Why: the server asks for a 2 s retry; resuming at once keeps the suite fast.
QUICK = ReconnectPolicy(max_attempts=3, default_delay=0.05, max_delay=0.05)
KOREAN = "안녕하세요, 스트리밍 챗봇입니다"
LONG = " ".join(f"word{i}" for i in range(60))


@pytest.fixture
def chat(rill_server: RunningServer) -> Iterator[ChatClient]:
    with ChatClient(rill_server.url, policy=QUICK) as client:
        client.session()
        yield client


class CuttingTransport(httpx.BaseTransport):
    """Real HTTP, but the first ``POST /api/chat`` body is cut after ``cut`` bytes."""

    def __init__(self, cut: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.cut = cut
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.inner.handle_request(request)
        if request.method == "POST" and request.url.path == "/api/chat" and self.cut >= 0:
            cut, self.cut = self.cut, -1
            response.stream = _CutStream(response.stream, cut)  # type: ignore[arg-type]
        return response

    def close(self) -> None:
        self.inner.close()


class _CutStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, cut: int) -> None:
        self.inner, self.cut = inner, cut

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self.inner:
            if sent + len(chunk) >= self.cut:
                yield chunk[: self.cut - sent]
                break
            sent += len(chunk)
            yield chunk
        raise httpx.ReadError("cut by the test")

    def close(self) -> None:
        self.inner.close()


def deltas(events: Sequence[object]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# --- basics ----------------------------------------------------------------------------

def test_session_me_and_bots(rill_server: RunningServer) -> None:
    with ChatClient(rill_server.url) as client:
        session = client.session()
        assert client.token == session.token
        assert client.me() == session.user_id
        assert {"echo", "slow", "guide"} <= {b.id for b in client.bots()}


def test_send_streams_the_echo(chat: ChatClient) -> None:
    stream = chat.send("echo", f"hello streaming world {KOREAN}")
    events = list(stream)
    assert isinstance(events[0], MessageStart) and isinstance(events[-1], MessageStop)
    text = f"hello streaming world {KOREAN}"
    assert deltas(events) == text
    reply = stream.reply
    assert (reply.text, reply.stop_reason, reply.done) == (text, "end_turn", True)
    assert reply.message_id and reply.conversation_id and reply.user_message_id
    ids = [e.event_id for e in events]
    assert len(set(ids)) == len(ids) and all(ids)


async def test_async_send_and_history(rill_server: RunningServer) -> None:
    async with AsyncChatClient(rill_server.url, policy=QUICK) as client:
        await client.session()
        reply = await client.ask("echo", KOREAN)
        assert reply.text == KOREAN
        page = await client.history("echo", conversation_id=reply.conversation_id)
        assert [(m.role, m.content) for m in page.messages] == [
            ("user", KOREAN), ("assistant", KOREAN)]
        assert page.messages[1].id == reply.message_id
        assert page.messages[1].status == "complete"
        assert page.messages[1].parent_id == page.messages[0].id
        assert page.messages[1].versions == (reply.message_id,)


def test_edit_and_show_version(chat: ChatClient) -> None:
    first = chat.ask("echo", "frist")
    assert first.conversation_id is not None
    question = chat.history("echo", first.conversation_id).messages[0]
    edited = chat.ask("echo", "first", first.conversation_id, edit_of=question.id)
    assert edited.text == "first"
    page = chat.history("echo", first.conversation_id)
    assert [m.content for m in page.messages] == ["first", "first"]
    assert page.messages[0].versions == (question.id, page.messages[0].id)
    back = chat.show_version(first.conversation_id, question.id)
    assert [m.content for m in back.messages] == ["frist", "frist"]
    with pytest.raises(APIError) as refused:
        chat.show_version(first.conversation_id, "not an id")
    assert refused.value.status == 422


def test_guide_answers(chat: ChatClient) -> None:
    reply = chat.ask("guide", "What is Server-Sent Events?")
    assert reply.done and len(reply.text) > 20


def test_errors_are_problems(rill_server: RunningServer, chat: ChatClient) -> None:
    with pytest.raises(APIError) as info:
        chat.ask("no-such-bot", "hi")
    assert 400 <= info.value.status < 500
    assert info.value.type.startswith("https://rill.dev/problems/")
    with ChatClient(rill_server.url) as anonymous, pytest.raises(APIError) as info:
        anonymous.history("echo")
    assert info.value.status == 401


# --- resume ----------------------------------------------------------------------------

def read_events_then_disconnect(
    server: RunningServer, token: str, bot: str, text: str, keep: int, extra_bytes: int
) -> tuple[list[ServerSentEvent], SSEDecoder]:
    """POST a turn, read ``keep`` events plus ``extra_bytes`` of the next, then hang up."""
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    with httpx.Client(base_url=server.url, timeout=10) as http, http.stream(
        "POST", "/api/chat", json={"chatbotId": bot, "message": text}, headers=headers
    ) as response:
        assert response.status_code == 200
        leftover = extra_bytes
        for chunk in response.iter_bytes(1):
            if len(events) >= keep:
                if leftover <= 0:
                    break
                leftover -= 1
            events.extend(decoder.feed(chunk))
            if len(events) > keep:
                break
    return events[:keep], decoder


@pytest.mark.parametrize("bot", ["slow", "echo"])
@pytest.mark.parametrize(("keep", "extra_bytes"), [(1, 0), (2, 5), (4, 0), (6, 30), (9, 1)])
def test_resume_after_a_disconnect_yields_exactly_the_rest(
    rill_server: RunningServer, chat: ChatClient, bot: str, keep: int, extra_bytes: int
) -> None:
    text = "one two three four five six seven eight nine ten"
    events, _ = read_events_then_disconnect(
        rill_server, chat.token or "", bot, text, keep, extra_bytes)
    assert events[0].event == "message_start"
    message_id = events[0].json()["message"]["id"]  # type: ignore[index]
    before = "".join(
        e.json()["delta"]["text"] for e in events  # type: ignore[index]
        if e.event == "content_block_delta"
    )
    stream = chat.resume(message_id, last_event_id=events[-1].id)
    rest = list(stream)
    assert before + deltas(rest) == text
    assert isinstance(rest[-1], MessageStop)
    seen = [e.id for e in events] + [e.event_id for e in rest]
    assert len(seen) == len(set(seen)), "an event was replayed twice"
    stored = chat.history(bot, conversation_id=stream.reply.conversation_id)
    assert stored.messages[-1].content == text


def test_send_resumes_transparently_when_the_post_stream_drops(
    rill_server: RunningServer,
) -> None:
    for cut in (700, 1100, 1600):
        transport = CuttingTransport(cut)
        http = httpx.Client(base_url=rill_server.url, transport=transport, timeout=10)
        with ChatClient(http=http, policy=QUICK) as client:
            client.session()
            reply = client.ask("slow", LONG)
        http.close()
        assert reply.text == LONG, cut
        assert reply.done and reply.stop_reason == "end_turn"
        paths = [r.url.path for r in transport.requests]
        assert paths.count(f"/api/chat/{reply.message_id}/stream") == 1, paths


def test_send_resumes_exactly_after_a_random_cut_anywhere(rill_server: RunningServer) -> None:
    rng = random.Random(20240607)
    words = ["stream", "안녕하세요", "챗봇", "🦀", "resume", "id:", "data:", "\u00e9t\u00e9"]
    http = httpx.Client(base_url=rill_server.url, timeout=10)
    with ChatClient(http=http, policy=QUICK) as client:
        client.session()
        token = client.token
    http.close()
    for _ in range(25):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 15)))
        transport = CuttingTransport(rng.randint(0, 150 * len(text)))
        with httpx.Client(base_url=rill_server.url, transport=transport, timeout=10) as http:
            client = ChatClient(token=token, http=http, policy=QUICK)
            stream = client.send(rng.choice(["echo", "slow"]), text)
            received = deltas(list(stream))
            assert received == stream.reply.text == text
            stored = client.history(stream.reply.chatbot_id or "", stream.reply.conversation_id)
            assert stored.messages[-1].content == text


def test_send_resumes_even_when_the_post_drops_before_message_start(
    rill_server: RunningServer,
) -> None:
    # Why: Rill names the message in X-Rill-Message-Id, so no event is needed to resume.
    transport = CuttingTransport(5)
    http = httpx.Client(base_url=rill_server.url, transport=transport, timeout=10)
    with ChatClient(http=http, policy=QUICK) as client:
        client.session()
        reply = client.ask("slow", "early drop")
    http.close()
    assert (reply.text, reply.done) == ("early drop", True)


def test_resume_from_the_start_and_after_the_end(chat: ChatClient) -> None:
    full = chat.ask("echo", "from the top")
    assert full.message_id
    again = chat.resume(full.message_id).collect()
    assert (again.text, again.done) == ("from the top", True)
    nothing = chat.resume(full.message_id, last_event_id=full.last_event_id)
    assert list(nothing) == []  # 204: nothing after the last id


def test_resume_of_another_users_message_is_not_found(
    rill_server: RunningServer, chat: ChatClient
) -> None:
    reply = chat.ask("echo", "mine")
    with ChatClient(rill_server.url) as other:
        other.session()
        with pytest.raises(APIError) as info:
            other.resume(reply.message_id or "").collect()
    assert info.value.status == 404


# --- cancel ----------------------------------------------------------------------------

def test_cancel_mid_reply_keeps_the_partial_text(chat: ChatClient) -> None:
    stream = chat.send("slow", LONG)
    cancelled = False
    for event in stream:
        if isinstance(event, TextDelta) and not cancelled and len(stream.reply.text) > 20:
            assert stream.reply.message_id
            result = chat.cancel(stream.reply.message_id)
            assert result.id == stream.reply.message_id
            cancelled = True
    reply = stream.reply
    assert cancelled and reply.done
    assert reply.stop_reason == "cancelled"
    assert 0 < len(reply.text) < len(LONG)
    stored = chat.history("slow", conversation_id=reply.conversation_id).messages[-1]
    assert (stored.status, stored.content) == ("cancelled", reply.text)


def test_cancel_a_finished_reply_is_a_noop(chat: ChatClient) -> None:
    reply = chat.ask("echo", "done already")
    assert reply.message_id
    assert chat.cancel(reply.message_id).status == "complete"
    stored = chat.history("echo", conversation_id=reply.conversation_id).messages[-1]
    assert (stored.status, stored.content) == ("complete", "done already")


# --- history and conversations ---------------------------------------------------------

def test_history_pages_newest_first_each_in_time_order(chat: ChatClient) -> None:
    conversation = chat.new_conversation("echo", title="paging")
    texts = [f"turn {i}" for i in range(5)]
    for text in texts:
        assert chat.ask("echo", text, conversation_id=conversation.id).text == text
    pages = []
    before = None
    while True:
        page = chat.history("echo", conversation_id=conversation.id, before=before, limit=3)
        pages.append(page)
        if not page.has_more:
            assert page.next_cursor is None
            break
        assert page.next_cursor
        before = page.next_cursor
    assert [len(p.messages) for p in pages] == [3, 3, 3, 1]
    ordered = [m for page in reversed(pages) for m in page.messages]
    assert [(m.role, m.content) for m in ordered] == [
        (role, t) for t in texts for role in ("user", "assistant")]
    for page in pages:
        times = [m.created_at for m in page.messages]
        assert times == sorted(times)  # type: ignore[type-var]
    assert all(m.conversation_id == conversation.id for m in ordered)


def test_conversations_create_list_delete(chat: ChatClient) -> None:
    first = chat.new_conversation("echo", title="first")
    second = chat.new_conversation("echo")
    listed = [c.id for c in chat.conversations("echo")]
    assert listed[:2] == [second.id, first.id]
    chat.delete_conversation(first.id)
    assert first.id not in [c.id for c in chat.conversations("echo")]
    with pytest.raises(APIError) as info:
        chat.delete_conversation(first.id)
    assert info.value.status == 404


def test_a_turn_without_conversation_continues_the_latest(chat: ChatClient) -> None:
    a = chat.ask("echo", "first")
    b = chat.ask("echo", "second")
    assert a.conversation_id == b.conversation_id
    fresh = chat.new_conversation("echo")
    assert chat.ask("echo", "third").conversation_id == fresh.id


# --- rill chat -------------------------------------------------------------------------

def rill_chat(server: RunningServer, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
    return subprocess.Popen(
        [sys.executable, "-m", "rill.cli", "chat", "--url", server.url, *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, encoding="utf-8", env=env,
    )


def test_rill_chat_streams_an_answer(rill_server: RunningServer) -> None:
    proc = rill_chat(rill_server, "--bot", "echo")
    out, _ = proc.communicate(f"hello from the terminal\n{KOREAN}\n/quit\n", timeout=30)
    assert proc.returncode == 0, out
    assert "echo> hello from the terminal\n" in out
    assert f"echo> {KOREAN}\n" in out


def test_rill_chat_guide_and_commands(rill_server: RunningServer) -> None:
    token = rill_server.session_token()
    proc = rill_chat(rill_server, "--bot", "guide", "--token", token)
    out, _ = proc.communicate("/bots\nWhat is SSE?\n/bot echo\n/new\nping\n", timeout=30)
    assert proc.returncode == 0, out  # end of input exits cleanly
    assert "* guide" in out and "  echo" in out
    assert "guide> " in out and "echo> ping\n" in out
    assert "new conversation conv_" in out


def test_rill_chat_ctrl_c_cancels_the_reply(rill_server: RunningServer) -> None:
    token = rill_server.session_token()
    output: list[str] = []
    with rill_chat(rill_server, "--bot", "slow", "--token", token) as proc:
        assert proc.stdin and proc.stdout
        stdout = proc.stdout
        reader = threading.Thread(
            target=lambda: output.extend(iter(lambda: stdout.read(1), "")), daemon=True)
        reader.start()
        proc.stdin.write(LONG + "\n")
        proc.stdin.flush()
        deadline = time.monotonic() + 20
        while "word3" not in "".join(output) and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        while "[cancelled]" not in "".join(output) and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.stdin.write("/quit\n")
        proc.stdin.flush()
        assert proc.wait(10) == 0
        reader.join(5)
    out = "".join(output)
    assert "[cancelled]" in out, out
    with ChatClient(rill_server.url, token=token) as client:
        last = client.history("slow").messages[-1]
    assert last.status == "cancelled"
    assert 0 < len(last.content) < len(LONG)
