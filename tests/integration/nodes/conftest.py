"""Fixtures: a three-node cluster per test module, on a fresh PostgreSQL database
and this suite's Redis database (emptied first, so no earlier run's streams,
heartbeats or rate-limit buckets leak in); once on one Redis, once on a Redis
Cluster and once on Sentinel (``broker``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .cluster import BROKER_URLS, Cluster, broker_url, clear_redis, database

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture(scope="module", params=list(BROKER_URLS))
def broker(request: pytest.FixtureRequest) -> Iterator[str]:
    """The nodes' shared Redis, emptied before and after the module's tests."""
    url = broker_url(request.param)
    clear_redis(url)
    yield url
    clear_redis(url)


@pytest.fixture(scope="module")
def three_nodes(tmp_path_factory: pytest.TempPathFactory, broker: str) -> Iterator[Cluster]:
    with database() as url:
        cluster = Cluster(Path(tmp_path_factory.mktemp("nodes")), url, broker_url=broker,
                          extra_env={"RILL_MAX_CONCURRENT_GENERATIONS": "2"})
        try:
            for node in ("a", "b", "c"):
                cluster.start(node)
            yield cluster
        finally:
            cluster.stop_all()
