"""Regression: a cancel landing while a Redis command is in flight is never lost.

redis-py wraps socket writes in ``asyncio.wait_for``, which on Python 3.11 drops
a cancellation arriving just as the write completes (CPython gh-86296). A chat
cancel then left the reply generating to the end (about one cancel in five).
"""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from rill.broker.redis import RedisBroker

from .cluster import REDIS_URL, clear_redis

pytestmark = pytest.mark.redis


async def test_cancelling_a_task_mid_append_always_cancels_it() -> None:
    broker = RedisBroker(REDIS_URL, prefix=f"cancel:{uuid.uuid4().hex[:8]}:")
    await broker.start()

    async def append_for_ever(stream: str) -> None:
        for i in range(1, 1_000_000):
            await broker.append(stream, b"x", id=f"{i}-0")
            await asyncio.sleep(0.001)

    try:
        for n in range(150):
            task = asyncio.create_task(append_for_ever(f"s{n}"))
            await asyncio.sleep(random.uniform(0.005, 0.03))
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=2)
            assert done and task.cancelled(), f"cancel #{n} was lost"
    finally:
        await broker.close()
        clear_redis()
