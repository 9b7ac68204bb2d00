"""``rill chat``'s loop, on StringIO, against the in-memory fake API."""

from __future__ import annotations

import io

import httpx
import orjson

from rill.cli.chat import TerminalChat
from rill.client import ChatClient, ReconnectPolicy

from .fakes import FakeChatServer


def run_chat(server: FakeChatServer, typed: str, bot: str = "echo") -> str:
    http = httpx.Client(base_url="http://t", transport=server.transport())
    client = ChatClient(token="tok-1", http=http, policy=ReconnectPolicy(default_delay=0))
    out = io.StringIO()
    assert TerminalChat(client, bot, stdin=io.StringIO(typed), stdout=out).loop() == 0
    return out.getvalue()


def chat_bodies(server: FakeChatServer) -> list[dict[str, str]]:
    return [orjson.loads(r.content) for r in server.requests if r.url.path == "/api/chat"]


def test_streams_replies_and_exits_at_end_of_input() -> None:
    server = FakeChatServer()
    out = run_chat(server, "hello there\n안녕하세요 챗봇\n")
    assert "echo> hello there\n" in out
    assert "echo> 안녕하세요 챗봇\n" in out
    # The second turn goes to the conversation the first one landed in.
    assert [b.get("conversationId") for b in chat_bodies(server)] == [None, "conv_1"]


def test_quit_stops_reading() -> None:
    server = FakeChatServer()
    run_chat(server, "/quit\nnever sent\n")
    assert chat_bodies(server) == []


def test_commands() -> None:
    server = FakeChatServer()
    out = run_chat(server, "/bots\n/new\nhi\n/bot guide\nyo\n/help\n")
    assert "* echo" in out and "  guide" in out
    assert "new conversation conv_1" in out
    assert "now chatting with guide" in out and "/quit" in out
    bodies = chat_bodies(server)
    assert [(b["chatbotId"], b.get("conversationId")) for b in bodies] == [
        ("echo", "conv_1"), ("guide", None)]


def test_ctrl_c_during_a_reply_cancels_it_and_returns_to_the_prompt() -> None:
    body = FakeChatServer().stream_body_for("one two three four")
    cut = body.index(b"text_delta") + 60
    server = FakeChatServer(cut_post_at=cut, cut_error=KeyboardInterrupt())
    out = run_chat(server, "one two three four\nagain\n")
    assert "[cancelled]" in out
    assert server.cancelled == {"msg_1"}
    assert "echo> again\n" in out


def test_api_errors_are_shown_not_raised() -> None:
    out = run_chat(FakeChatServer(), "   \n/bot nobody\nhi\n/bot echo\nhi\n")
    assert "error: 404 Nope: no such bot" in out
    assert "echo> hi\n" in out
