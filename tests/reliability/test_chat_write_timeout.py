"""A chat client that never reads loses its connection after ``write_timeout_seconds``
(issue 13: it kept the connection, and the reply's buffered bytes, after the reply
had ended, for ever)."""

from __future__ import annotations

import json
import re
import socket

import httpx

from tests.reliability.support import poll, raw_connect, read_until_closed, session

ECHO = '[[bots]]\nid = "echo"\nname = "Echo"\nprovider = "echo"\npace = 0\nmax_tokens = 200000\n'


def _open_chat_streams(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    found = re.search(r'^rill_sse_connections\{kind="chat"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


#: Echoed back as ~5 MB of events: more than the kernel's socket buffers take on
#: loopback (``tcp_wmem`` up to 4 MiB), so a writer to a client that never reads blocks.
MESSAGE = ("w" * 200 + " ") * 15_000
LIMITS = {"RILL_MAX_BODY_BYTES": "4194304", "RILL_MAX_MESSAGE_CHARS": "4000000"}


def _turn_request(token: str) -> bytes:
    body = json.dumps({"chatbotId": "echo", "message": MESSAGE}).encode()
    return (b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def test_a_client_that_never_reads_is_dropped_after_the_write_timeout(server_factory) -> None:
    server = server_factory(config=ECHO, env={**LIMITS, "RILL_WRITE_TIMEOUT_SECONDS": "1"})
    token, client = session(server.url)
    with client:
        stuck = raw_connect(server.port, _turn_request(token), rcvbuf=4096)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

        def reply_ended() -> bool:
            page = client.get("/api/history", params={"chatbotId": "echo"}).json()
            return any(m["role"] == "assistant" and m["status"] == "complete"
                       for m in page["messages"])

        poll(reply_ended, within=60, what="the reply to be stored whole")
        # The stream task and the connection go within the timeout (plus a tick).
        poll(lambda: _open_chat_streams(server.url) == 0, within=5,
             what="the chat stream to be dropped")
        # Reading now, the socket is found closed at once: nothing is still being sent.
        received = read_until_closed(stuck, within=3)
        stuck.close()
        # Other clients are served as before.
        assert client.get("/api/me").status_code == 200
    assert len(received) < 4_000_000, "the client did not get the whole reply"
