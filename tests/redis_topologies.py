"""The Redis Cluster and Sentinel set-ups the broker's tests run on.

``scripts/redis-topologies.sh start`` (``make redis-topologies``; ``.ci/run``
does it) starts both; the URLs can be pointed elsewhere through the environment.
A test on a topology that is not running skips, saying how to start it.
"""

from __future__ import annotations

import os

import pytest
import redis as syncredis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.cluster import RedisCluster as SyncRedisCluster

from rill.broker.redis.topology import parse_sentinel

CLUSTER_URL = os.environ.get("RILL_TEST_REDIS_CLUSTER_URL", "redis+cluster://127.0.0.1:7000")
SENTINEL_URL = os.environ.get(
    "RILL_TEST_REDIS_SENTINEL_URL",
    "redis+sentinel://127.0.0.1:26390,127.0.0.1:26391,127.0.0.1:26392/rill",
)
HOW = "start it with `make redis-topologies` (.ci/run does)"


def _cluster(url: str) -> SyncRedisCluster:
    return SyncRedisCluster.from_url(url.replace("+cluster", "", 1), socket_connect_timeout=1)


def sentinel_primary(url: str) -> syncredis.Redis:
    """A plain client to the current primary (asked once of the first sentinel that answers)."""
    target = parse_sentinel(url)
    for host, port in target.sentinels:
        sentinel = syncredis.Redis(host=host, port=port, socket_connect_timeout=1,
                                   socket_timeout=1, decode_responses=True)
        try:
            addr = sentinel.sentinel_get_master_addr_by_name(target.service)
        except (syncredis.RedisError, OSError):
            continue
        finally:
            sentinel.close()
        if isinstance(addr, tuple):
            host, port = str(addr[0]), int(addr[1])
            return syncredis.Redis(host=host, port=port, db=target.db, socket_timeout=5)
    raise syncredis.ConnectionError(f"no sentinel of {url} names a primary")


def sync_client(url: str) -> syncredis.Redis | SyncRedisCluster:
    """A plain client for ``url`` in any of the broker's forms (for set-up and checks)."""
    if "+cluster" in url:
        return _cluster(url)
    if "+sentinel" in url:
        return sentinel_primary(url)
    return syncredis.Redis.from_url(url)


def require(url: str) -> None:
    """Skip the calling test when the topology at ``url`` is not running."""
    try:
        client = sync_client(url)
        client.ping()
        client.close()
    except (syncredis.RedisError, OSError) as exc:
        what = "Redis Cluster" if "+cluster" in url else "Sentinel set-up"
        pytest.skip(f"the {what} at {url} is not running ({exc}); {HOW}")


def clear(url: str, match: str = "*") -> None:
    """Delete every key matching ``match`` (on a Cluster: on every primary)."""
    client = sync_client(url)
    try:
        keys = set(client.scan_iter(match=match, count=1000))
        for key in keys:  # one by one: a Cluster refuses a DEL across slots
            client.delete(key)
    finally:
        client.close()


async def delete_prefix(url: str, prefix: str) -> None:
    client: aioredis.Redis | RedisCluster
    if "+cluster" in url or "+sentinel" in url:
        clear(url, f"{prefix}*")
        return
    client = aioredis.Redis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
