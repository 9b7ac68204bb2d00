"""``rill serve --workers 2`` on Redis and PostgreSQL: two processes on one port
sharing the engines behave as one server (chat, resume, hub)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from rill.broker.redis.streams import shard_of
from tests.conftest import RunningServer, start_server

from .cluster import (
    CONFIG,
    REDIS_URL,
    SECRET,
    chat_reader,
    clear_redis,
    database,
    hub_reader,
    publish,
    resume_reader,
    session,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[RunningServer]:
    clear_redis()
    with database() as url:
        env = {"RILL_BROKER_URL": REDIS_URL, "RILL_DATABASE_URL": url,
               "RILL_SESSION_SECRET": SECRET}
        server = start_server(tmp_path / "w", env=env, config=CONFIG, args=["--workers", "2"])
        try:
            yield server
        finally:
            server.stop()
            clear_redis()


def test_two_workers_share_chat_and_hub(workers: RunningServer) -> None:
    token = session(workers.url)
    hub = hub_reader(workers.url, ["workers"])
    try:
        assert hub.opened.wait(10) and hub.status == 200
        text = " ".join(f"q{i}" for i in range(40))
        origin = chat_reader(workers.url, token, text)
        try:
            head = origin.wait_events(6)
        finally:
            origin.close()
        message_id = json.loads(head[0].data)["message"]["id"]
        # Several resumes: the kernel spreads connections over both workers.
        for _ in range(4):
            rest = resume_reader(workers.url, token, message_id, head[-1].id)
            rest.wait_ended(20)
            assert rest.status == 200 and rest.names[-1] == "message_stop"
            done = "".join(json.loads(e.data)["delta"]["text"] for e in head
                           if e.event == "content_block_delta")
            assert done + rest.text == text
        ids = [publish(workers.url, "workers", f"n{i}").text for i in range(6)]
        assert [e.id for e in hub.wait_events(6)] == ids
    finally:
        hub.close()
    # Both workers are up as distinct nodes: each heartbeats under its own id.
    beats = redis.Redis.from_url(REDIS_URL)
    try:
        # Any: redis-py types a reply as the union of every RESP shape.
        entries: Any = beats.xrange(f"rill:{{{shard_of('nodes:heartbeat')}}}s:nodes:heartbeat")
        nodes = {fields[b"d"] for _, fields in entries}
    finally:
        beats.close()
    assert len(nodes) == 2, nodes
