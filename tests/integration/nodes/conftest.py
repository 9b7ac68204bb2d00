"""Fixtures: a three-node cluster per test module, on a fresh PostgreSQL database
and this suite's Redis database (emptied first, so no earlier run's streams,
heartbeats or rate-limit buckets leak in)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .cluster import Cluster, clear_redis, database

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture(scope="module")
def three_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    clear_redis()
    with database() as url:
        cluster = Cluster(Path(tmp_path_factory.mktemp("nodes")), url,
                          extra_env={"RILL_MAX_CONCURRENT_GENERATIONS": "2"})
        try:
            for node in ("a", "b", "c"):
                cluster.start(node)
            yield cluster
        finally:
            cluster.stop_all()
            clear_redis()
