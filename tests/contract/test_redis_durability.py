"""``broker_wait_replicas``: a write is acknowledged only once that many replicas
have it (Sentinel set-up: one primary, one replica)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from rill.broker.redis import RedisBroker
from rill.errors import BrokerError
from tests.redis_topologies import CLUSTER_URL, SENTINEL_URL, delete_prefix, require

pytestmark = pytest.mark.redis


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    require(SENTINEL_URL)
    name = f"rilltest:{uuid.uuid4().hex[:12]}:"
    yield name
    await delete_prefix(SENTINEL_URL, name)


async def test_a_write_waits_for_the_replica(prefix: str) -> None:
    broker = RedisBroker(SENTINEL_URL, prefix=prefix, wait_replicas=1, wait_timeout=5)
    await broker.start()
    try:
        first = await broker.append("s", b"a", maxlen=10)
        await broker.append_many("s", [(b"b", "99999999999999-1")])
        await broker.end("s", ttl=60)
        assert [e.id for e in await broker.read("s")] == [first, "99999999999999-1"]
    finally:
        await broker.close()


async def test_fewer_replicas_than_asked_is_an_error_not_an_acknowledgement(prefix: str) -> None:
    broker = RedisBroker(SENTINEL_URL, prefix=prefix, wait_replicas=2, wait_timeout=0.2)
    await broker.start()
    try:
        with pytest.raises(BrokerError, match="1 of 2 replicas"):
            await broker.append("s", b"a")
        with pytest.raises(BrokerError, match="1 of 2 replicas"):
            await broker.end("s", ttl=60)
    finally:
        await broker.close()


def test_waiting_is_refused_on_a_cluster() -> None:
    with pytest.raises(ValueError, match="Cluster"):
        RedisBroker(CLUSTER_URL, wait_replicas=1)
