"""Issue 13: a broker outage under a streaming reply must not leave its reader hanging.

Redis was killed under a single node while a reply streamed and restarted empty:
the reply ended in the store (``error``, its text saved), but the original reader
of the POST got nothing but ``ping`` events for ever, because the stream it was
following no longer existed. Now a reader whose stream goes silent looks at the
store, and one whose stream is gone takes the rest from it: the reader ends with
the same finale a resume would give. The 503 that publishing answers during the
outage says "broker unavailable" without the broker's address (the log has it).

The machine's shared Redis is never touched: the test runs its own ``redis-server``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.integration.nodes.cluster import chat_reader, wait_for
from tests.integration.nodes.test_redis_restart import RedisServer, own_redis  # noqa: F401

pytestmark = [pytest.mark.redis, pytest.mark.slow]

SLOW = '[[bots]]\nid = "slow"\nname = "Slow"\nprovider = "echo"\npace = 0.05\n'
NODE_TIMEOUT = 2


@pytest.fixture
def node(own_redis: RedisServer, tmp_path: Path) -> Iterator[RunningServer]:  # noqa: F811
    server = start_server(tmp_path / "node", config=SLOW, env={
        "RILL_BROKER_URL": own_redis.url, "RILL_NODE_TIMEOUT_SECONDS": str(NODE_TIMEOUT),
        "RILL_CHAT_TURNS_PER_MINUTE": "0"})
    yield server
    server.stop()


def test_the_reader_of_a_reply_ends_when_redis_restarts_empty(
    own_redis: RedisServer, node: RunningServer  # noqa: F811
) -> None:
    token = node.session_token()
    words = " ".join(f"w{i}" for i in range(300))  # ~15 s of reply at this pace
    reader = chat_reader(node.url, token, words)
    reader.wait_events(8)
    own_redis.kill()
    killed = time.monotonic()

    # Publishing during the outage: an honest 503, without the broker's address.
    refused = httpx.post(f"{node.url}/api/chat", json={"chatbotId": "slow", "message": "hi"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert refused.status_code == 503, refused.text
    assert refused.json()["detail"] == "broker unavailable"
    assert str(own_redis.port) not in refused.text
    assert f"127.0.0.1:{own_redis.port}" in node.logs()

    own_redis.start()  # empty: the reply's stream is gone
    reader.wait_ended(within=NODE_TIMEOUT * 4 + 5)
    print(f"outage: the reader ended {time.monotonic() - killed:.1f} s after Redis died")
    assert reader.error is None and reader.status == 200
    names = reader.names
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"], names[-5:]
    # A generation that loses its broker ends ``interrupted``, its text kept (issue 18).
    assert json.loads(reader.events[-2].data)["delta"]["rill_stop_reason"] == "interrupted"

    # The reader has exactly the text the store kept, each event once.
    ids = [e.id for e in reader.events]
    assert len(ids) == len(set(ids))
    message_id = json.loads(reader.events[0].data)["message"]["id"]

    def stored() -> dict[str, object] | None:
        history = httpx.get(f"{node.url}/api/history", params={"chatbotId": "slow"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        return next((m for m in history["messages"] if m["id"] == message_id), None)

    message = wait_for(stored, 10)
    assert message["status"] == "interrupted"
    assert reader.text == message["content"]
    assert 0 < len(reader.text) < len(words)
