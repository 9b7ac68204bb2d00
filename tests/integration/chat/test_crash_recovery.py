"""A server killed mid-reply: on restart the reply is 'interrupted' with its saved text."""

from __future__ import annotations

import signal

import httpx

from tests.conftest import start_server
from tests.reliability.support import poll

from .helpers import authed, read_stream, resume

CONFIG = '[[bots]]\nid = "slow"\nname = "Slow"\nprovider = "echo"\npace = 0.05\n'
LONG = " ".join(f"k{i}" for i in range(300))


def _saved_text(client: httpx.Client, message_id: str) -> int:
    """How many characters of the reply the store holds (its last checkpoint)."""
    page = client.get("/api/history", params={"chatbotId": "slow"}).json()
    reply = next(m for m in page["messages"] if m["id"] == message_id)
    assert reply["status"] == "streaming"
    return len(reply["content"])


def test_sigkill_mid_reply_leaves_it_interrupted_with_checkpointed_text(tmp_path):
    data = tmp_path / "node"
    server = start_server(data, config=CONFIG)
    try:
        with authed(server.url) as client:
            token = client.headers["Authorization"]
            with client.stream("POST", "/api/chat",
                               json={"chatbotId": "slow", "message": LONG}) as r:
                head = read_stream(r, stop_after_bytes=900)
            # The kill must come after a checkpoint has saved more than what was read.
            poll(lambda: _saved_text(client, head.message_id) > 20, within=15,
                 what="a checkpoint of the reply")
    finally:
        server.stop(signal.SIGKILL)
    restarted = start_server(data, config=None, args=["--config", str(data / "rill.toml")])
    try:
        with restarted.client(headers={"Authorization": token}) as client:
            page = client.get("/api/history", params={"chatbotId": "slow"}).json()
            reply = next(m for m in page["messages"] if m["id"] == head.message_id)
            assert reply["status"] == "interrupted"
            assert len(reply["content"]) > 20 and LONG.startswith(reply["content"])
            rest = resume(client, head.message_id, head.last_id)
            assert (head.text + rest.text) == reply["content"]
            assert rest.data("message_delta")["delta"]["rill_stop_reason"] == "interrupted"
    finally:
        restarted.stop()
