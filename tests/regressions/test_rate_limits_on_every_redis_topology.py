"""Rate limits are shared by every node on each Redis topology (issue 18).

Until Cluster and Sentinel URLs existed, only ``redis://`` URLs shared buckets; a
``redis+cluster://`` or ``redis+sentinel://`` broker left each node its own, so a
limit held per node. Two limiters here stand for two nodes.
"""

from __future__ import annotations

import uuid

import pytest

from rill.ratelimit import Rate, RedisLimiter, open_limiter
from tests.conftest import REDIS_URL
from tests.redis_topologies import CLUSTER_URL, SENTINEL_URL, require


@pytest.mark.redis
@pytest.mark.parametrize("url", [REDIS_URL, CLUSTER_URL, SENTINEL_URL],
                         ids=["redis", "cluster", "sentinel"])
async def test_two_nodes_share_one_bucket(url: str) -> None:
    if url != REDIS_URL:
        require(url)
    rate = Rate(per_second=1, burst=2)
    first, second = (open_limiter("topology-test", rate, "turns", url) for _ in range(2))
    try:
        assert isinstance(first, RedisLimiter)
        key = uuid.uuid4().hex
        assert await first.take(key) == 0.0
        assert await second.take(key) == 0.0
        # The burst of 2 is spent across both nodes: the third take waits ~1 s.
        assert 0.5 < await first.take(key) <= 1.0
    finally:
        await first.close()
        await second.close()
