"""Which Redis the broker talks to, from its URL: one server, a Cluster, or Sentinel.

- ``redis://``, ``rediss://``, ``unix://``: one server (redis-py's own URL form).
- ``redis+cluster://host:port`` (``rediss+cluster://``): a Redis Cluster, found
  from that seed node (redis-py's ``RedisCluster``). Query options are redis-py's.
- ``redis+sentinel://host:port[,host:port...]/<service>[/<db>]``
  (``rediss+sentinel://``): the primary of ``<service>`` as the sentinels name
  it, re-resolved on every new connection, so the broker follows a failover.
  A user and password in the URL are the data servers', not the sentinels'.

Why a scheme rather than a setting: the URL is the one place a deployment names
its Redis (``RILL_BROKER_URL``), and a setting that contradicts it cannot arise.

RESP2 is forced everywhere: the code reads XREAD and script replies in their
RESP2 shapes (lists of pairs), which RESP3 answers as maps.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import redis.asyncio as redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from rill.broker.redis.errors import TRANSIENT

COMMON: dict[str, Any] = {
    "protocol": 2,
    "socket_connect_timeout": 2.0,
    # Why no retries: a write retried after a lost reply may land twice.
    "retry": Retry(NoBackoff(), 0),
}


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: list[tuple[str, int]]
    service: str
    db: int
    username: str | None
    password: str | None
    ssl: bool


def parse_sentinel(url: str) -> SentinelTarget:
    parts = urlsplit(url)
    hosts = parts.netloc.rpartition("@")[2]
    sentinels: list[tuple[str, int]] = []
    for host in filter(None, hosts.split(",")):
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "26379")
        sentinels.append((name or host, int(port or 26379)))
    path = [p for p in parts.path.split("/") if p]
    if not sentinels or not path or len(path) > 2:
        raise ValueError("a Sentinel URL is redis+sentinel://host:port[,host:port]/<service>[/<db>]")
    return SentinelTarget(
        sentinels=sentinels,
        service=unquote(path[0]),
        db=int(path[1]) if len(path) > 1 else 0,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        ssl=parts.scheme.startswith("rediss"),
    )


class Topology:
    """Builds the broker's clients for one kind of deployment.

    ``sharded`` says whether keys are spread over servers: then a command may only
    name keys of one hash slot, so the reader runs one XREAD per shard tag.
    """

    sharded = False

    def __init__(self, url: str) -> None:
        self.url = url

    def client(self, max_connections: int) -> redis.Redis | RedisCluster:
        """The command client: at most ``max_connections`` (per server of a Cluster)."""
        return redis.Redis.from_url(self.url, max_connections=max_connections,
                                    socket_timeout=5.0, **COMMON)

    def blocking_client(self, socket_timeout: float) -> redis.Redis | RedisCluster:
        """A client for XREAD BLOCK: one connection per reader loop, none shared."""
        return redis.Redis.from_url(self.url, socket_timeout=socket_timeout, **COMMON)

    async def signal_client(self, main: redis.Redis | RedisCluster) -> redis.Redis:
        """The client whose Pub/Sub connection carries signals (asked again on reconnect)."""
        assert isinstance(main, redis.Redis)
        return main

    async def close(self) -> None:
        """Close what the topology itself holds (not the clients it made)."""

    async def reset(self, client: redis.Redis | RedisCluster) -> None:
        """Drop a client's connections after an error, so the next ones are fresh."""
        if isinstance(client, redis.Redis):
            with contextlib.suppress(RedisError, *TRANSIENT):
                await client.connection_pool.disconnect()


class ClusterTopology(Topology):
    sharded = True

    def __init__(self, url: str) -> None:
        super().__init__(url.replace("+cluster", "", 1))

    def client(self, max_connections: int) -> RedisCluster:
        # max_connections is per cluster node in RedisCluster.
        return RedisCluster.from_url(self.url, max_connections=max_connections,
                                     socket_timeout=5.0, **COMMON)

    def blocking_client(self, socket_timeout: float) -> RedisCluster:
        return RedisCluster.from_url(self.url, socket_timeout=socket_timeout, **COMMON)

    async def signal_client(self, main: redis.Redis | RedisCluster) -> redis.Redis:
        # Why any node: classic PUBLISH is broadcast to every node of a cluster, so
        # one connection to any node hears every signal. A random one spreads the
        # listeners of many Rill nodes; after an error the next pick may differ.
        assert isinstance(main, RedisCluster)
        await main.initialize()
        node = random.choice(main.get_primaries())
        parts = urlsplit(self.url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{node.host}:{node.port}" if userinfo else f"{node.host}:{node.port}"
        return redis.Redis.from_url(urlunsplit(parts._replace(netloc=netloc)), **COMMON)

    async def reset(self, client: redis.Redis | RedisCluster) -> None:
        # RedisCluster re-reads the slot map itself after a MOVED or a dead node.
        return None


class SentinelTopology(Topology):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.target = parse_sentinel(url)
        self._sentinel = Sentinel(  # type: ignore[no-untyped-call]  # untyped upstream
            self.target.sentinels, socket_connect_timeout=2.0, socket_timeout=2.0, protocol=2
        )

    def _options(self, **extra: Any) -> dict[str, Any]:
        options: dict[str, Any] = dict(COMMON, db=self.target.db, **extra)
        if self.target.username:
            options["username"] = self.target.username
        if self.target.password:
            options["password"] = self.target.password
        if self.target.ssl:
            options["ssl"] = True
        return options

    def client(self, max_connections: int) -> redis.Redis:
        return self._sentinel.master_for(  # type: ignore[no-any-return]  # untyped upstream
            self.target.service,
            **self._options(max_connections=max_connections, socket_timeout=5.0),
        )

    async def close(self) -> None:
        for client in self._sentinel.sentinels:
            with contextlib.suppress(RedisError, *TRANSIENT):
                await client.aclose()

    def blocking_client(self, socket_timeout: float) -> redis.Redis:
        return self._sentinel.master_for(  # type: ignore[no-any-return]  # untyped upstream
            self.target.service, **self._options(socket_timeout=socket_timeout)
        )


def topology(url: str) -> Topology:
    scheme = urlsplit(url).scheme
    if scheme.endswith("+cluster"):
        return ClusterTopology(url)
    if scheme.endswith("+sentinel"):
        return SentinelTopology(url)
    return Topology(url)
