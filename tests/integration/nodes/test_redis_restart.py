"""Redis restarted under running nodes: they reconnect by themselves; a publish
during the outage is refused with 503 (never acknowledged and then lost); hub
subscribers carry on once Redis is back, and no live node is taken for dead.

The machine's shared Redis is never touched: this test runs its own
``redis-server`` (no persistence, like a crash that loses everything) on a free
port, kills it and starts it again on the same port.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import free_port

from .cluster import Cluster, Reader, chat_reader, database, hub_reader, publish, session, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


class RedisServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        try:
            wait_for(lambda: self._pings(client), 10)
        finally:
            client.close()

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def two_nodes(own_redis: RedisServer, tmp_path: Path) -> Iterator[Cluster]:
    with database() as url:
        cluster = Cluster(tmp_path, url, broker_url=own_redis.url,
                          extra_env={"RILL_NODE_TIMEOUT_SECONDS": "2"})
        try:
            cluster.start("a")
            cluster.start("b")
            yield cluster
        finally:
            cluster.stop_all()


def _acknowledges(url: str) -> bool:
    return _publish_status(url, "probe")[0] == 200


def _received(reader: Reader, update_id: str) -> bool:
    return update_id in [e.id for e in reader.events]


def _publish_status(url: str, data: str) -> tuple[int, str]:
    try:
        response = publish(url, "status", data)
    except httpx.HTTPError as exc:
        return 0, str(exc)
    return response.status_code, response.text


def test_nodes_ride_out_a_redis_restart(own_redis: RedisServer, two_nodes: Cluster) -> None:
    a, b = two_nodes["a"], two_nodes["b"]
    readers = [hub_reader(a.url, ["status"]), hub_reader(b.url, ["status"])]
    acknowledged: list[str] = []
    try:
        for reader in readers:
            assert reader.opened.wait(10) and reader.status == 200
        status, update_id = _publish_status(a.url, "before")
        assert status == 200
        acknowledged.append(update_id)
        for reader in readers:
            reader.wait_events(1)

        own_redis.kill()
        outage_started = time.monotonic()
        for n, node in enumerate((a, b, a, b)):
            status, _ = _publish_status(node.url, f"during {n}")
            assert status == 503, status
        token = session(a.url)
        refused = chat_reader(b.url, token, "hello", bot="echo")
        refused.wait_ended(15)
        assert refused.status == 503

        # Why a fixed wait: the outage must outlast the node timeout (2 s here), so that
        # every heartbeat is stale when Redis returns.
        time.sleep(max(0.0, 3.0 - (time.monotonic() - outage_started)))
        own_redis.start()
        # Reconnection is the nodes' own business: poll until each acknowledges again.
        for node in (a, b):
            wait_for(partial(_acknowledges, node.url), 20, 0.25)
        # A reply started at once must not be taken for a dead node's: every node's
        # heartbeats had a gap, so none judges the others until it has seen them again.
        slow = chat_reader(a.url, token, " ".join(f"s{i}" for i in range(60)))
        for n in range(3):
            status, update_id = _publish_status((a, b)[n % 2].url, f"after {n}")
            assert status == 200
            acknowledged.append(update_id)
        for reader in readers:
            wait_for(partial(_received, reader, acknowledged[-1]), 15)
            ids = [e.id for e in reader.events]
            assert len(ids) == len(set(ids)), "an update was delivered twice"
            assert set(acknowledged) <= set(ids), "an acknowledged update was lost"
            assert not any(e.data.startswith("during") for e in reader.events)
    finally:
        for reader in readers:
            reader.close()
    slow.wait_ended(30)
    assert json.loads(slow.events[-2].data)["delta"]["stop_reason"] == "end_turn"
    # Chat works again, and the outage did not make either node look dead to the other.
    echo = chat_reader(a.url, session(b.url), "back again", bot="echo")
    echo.wait_ended(15)
    assert echo.text == "back again"
    assert json.loads(echo.events[-2].data)["delta"]["stop_reason"] == "end_turn"
    for node in (a, b):
        assert "node_dead" not in node.logs()


