"""Fixtures that hand every contract test each implementation in turn.

Redis tests use database 15 (``REDIS_URL``) and a fresh key prefix per broker,
and run again on a Redis Cluster and a Sentinel set-up (``tests/redis_topologies``);
PostgreSQL tests get a fresh schema per test (selected through ``search_path``
in the URL), dropped afterwards. Neither skips when its server is down: the
issue asks that CI never silently skip them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # ships no type information
import pytest

from rill.broker.base import Broker
from rill.broker.memory import MemoryBroker
from rill.broker.redis import RedisBroker
from rill.store.base import Store
from rill.store.postgres import PostgresStore
from rill.store.sqlite import SQLiteStore
from tests.conftest import POSTGRES_URL, REDIS_URL
from tests.redis_topologies import CLUSTER_URL, SENTINEL_URL, delete_prefix, require

BrokerFactory = Callable[[], Awaitable[RedisBroker]]

#: One Redis server, a Redis Cluster, a Sentinel set-up.
REDIS_URLS = {"redis": REDIS_URL, "redis-cluster": CLUSTER_URL, "redis-sentinel": SENTINEL_URL}


def redis_url(kind: str) -> str:
    url = REDIS_URLS[kind]
    if kind != "redis":
        require(url)
    return url


@pytest.fixture(params=list(REDIS_URLS))
async def redis_nodes(request: pytest.FixtureRequest) -> AsyncIterator[BrokerFactory]:
    """Make RedisBrokers sharing one fresh prefix: several "nodes" on one Redis."""
    url = redis_url(request.param)
    prefix = f"rilltest:{uuid.uuid4().hex[:12]}:"
    made: list[RedisBroker] = []

    async def node() -> RedisBroker:
        broker = RedisBroker(url, prefix=prefix)
        await broker.start()
        made.append(broker)
        return broker

    yield node
    for broker in made:
        await broker.close()
    await delete_prefix(url, prefix)


@pytest.fixture(params=["memory", *(pytest.param(k, marks=pytest.mark.redis) for k in REDIS_URLS)])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    if request.param == "memory":
        memory = MemoryBroker()
        await memory.start()
        yield memory
        await memory.close()
        return
    url = redis_url(request.param)
    prefix = f"rilltest:{uuid.uuid4().hex[:12]}:"
    redis_broker = RedisBroker(url, prefix=prefix)
    await redis_broker.start()
    yield redis_broker
    await redis_broker.close()
    await delete_prefix(url, prefix)


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """A URL whose connections use a fresh, empty schema, dropped on exit."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in POSTGRES_URL else "?"
        yield f"{POSTGRES_URL}{sep}search_path={schema}"
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        sqlite = SQLiteStore(tmp_path / "rill.db")
        await sqlite.start()
        yield sqlite
        await sqlite.close()
        return
    async with fresh_schema() as url:
        postgres = PostgresStore(url, max_size=12)
        await postgres.start()
        yield postgres
        await postgres.close()
