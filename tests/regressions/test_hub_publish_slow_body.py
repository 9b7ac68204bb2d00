"""A publisher trickling its body gets 408 and the connection is closed.

Found by tests/security/test_bad_input.py: the hub's publish path is raw ASGI, outside
the API's BodyLimit, and read its body with no deadline, so a slowloris client held a
connection (and a handler) for as long as it liked.
"""

from __future__ import annotations

import time

from rill.auth.tokens import TokenIssuer
from tests.reliability.support import raw_connect, read_until_closed

SECRET = "slow-body-regression-secret-0123456789ab"


def test_slow_publish_body_times_out_and_closes(server_factory) -> None:
    server = server_factory(env={"RILL_JWT_SECRET": SECRET, "RILL_BODY_TIMEOUT_SECONDS": "1"})
    token = TokenIssuer(SECRET).mint("p", ttl=600, mercure={"publish": ["*"]})
    sock = raw_connect(server.port, (
        "POST /.well-known/mercure HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\ntopic=t&da").encode())
    started = time.monotonic()
    try:
        answer = read_until_closed(sock, within=4)
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert time.monotonic() - started < 4
