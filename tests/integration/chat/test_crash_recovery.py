"""A server killed mid-reply: on restart the reply is 'interrupted' with its saved text."""

from __future__ import annotations

import signal
import time

from tests.conftest import start_server

from .helpers import authed, read_stream, resume

CONFIG = '[[bots]]\nid = "slow"\nname = "Slow"\nprovider = "echo"\npace = 0.05\n'
LONG = " ".join(f"k{i}" for i in range(300))


def test_sigkill_mid_reply_leaves_it_interrupted_with_checkpointed_text(tmp_path):
    data = tmp_path / "node"
    server = start_server(data, config=CONFIG)
    try:
        with authed(server.url) as client:
            token = client.headers["Authorization"]
            with client.stream("POST", "/api/chat",
                               json={"chatbotId": "slow", "message": LONG}) as r:
                head = read_stream(r, stop_after_bytes=900)
            time.sleep(2.5)  # past at least two checkpoints
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
