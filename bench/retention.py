"""Benchmark 5: server RSS under large publishes (issue 12: hub memory bounded in bytes).

Rill with its default settings, two live subscribers on one topic, then 1,200
updates of 512 KiB (600 MiB) published to that topic through the real publish
endpoint, a few at a time. Printed: the server's RSS before, its peak while
publishing (sampled every 100 ms) and after, and how many updates each live
subscriber received (every one, or the row says so).

``BENCH_RETENTION_UPDATES`` / ``BENCH_RETENTION_KIB`` scale it down for a quick run.
With ``RILL_BROKER_URL=redis://…`` in the environment the server uses Redis, and the
row adds what the hub's stream holds there afterwards (``MEMORY USAGE``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import redis.asyncio as redis

from bench.client import Tally, close_all, open_subscribers
from bench.common import Proc, table, write_results
from bench.idle import MARKER, warm_up
from bench.targets import Rill
from rill.broker.redis.streams import shard_of

UPDATES = int(os.environ.get("BENCH_RETENTION_UPDATES", "1200"))
SIZE = int(os.environ.get("BENCH_RETENTION_KIB", "512")) * 1024
BROKER_URL = os.environ.get("RILL_BROKER_URL", "")
SUBSCRIBERS = 2
IN_FLIGHT = 4
WAIT = 60.0


def payload(i: int) -> str:
    return f"Q7Z-{i:06d}-".ljust(SIZE, "x")


async def _sample_peak(proc: Proc, peak: list[int]) -> None:
    while True:
        peak[0] = max(peak[0], proc.rss_kib())
        await asyncio.sleep(0.1)


async def _redis_stream_kib() -> float:
    """What the hub's Redis stream takes in Redis, KiB (NaN with the memory broker)."""
    if not BROKER_URL.startswith(("redis://", "rediss://", "unix://")):
        return float("nan")
    client = redis.Redis.from_url(BROKER_URL)
    try:
        key = f"rill:{{{shard_of('hub:updates')}}}s:hub:updates"
        used = await client.memory_usage(key, samples=0)
    finally:
        await client.aclose()
    return (used or 0) / 1024


async def measure(target: Rill) -> dict[str, Any]:
    with target.running() as proc:
        await warm_up(target)
        tally = Tally()
        subs = await open_subscribers(target.port, target.sub_path, SUBSCRIBERS, MARKER, tally)
        try:
            await asyncio.sleep(0.5)
            before = proc.rss_kib()
            peak = [before]
            sampler = asyncio.create_task(_sample_peak(proc, peak))
            done = tally.arm(UPDATES, SUBSCRIBERS)
            gate = asyncio.Semaphore(IN_FLIGHT)

            async def one(i: int) -> None:
                async with gate:
                    await target.publish(payload(i))

            start = asyncio.get_running_loop().time()
            await asyncio.gather(*(one(i) for i in range(UPDATES)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done, WAIT)
            seconds = asyncio.get_running_loop().time() - start
            await asyncio.sleep(1.0)
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            after = proc.rss_kib()
            stream_kib = await _redis_stream_kib()
            return {"updates": UPDATES, "update_bytes": SIZE, "seconds": seconds,
                    "rss_before_kib": before, "rss_peak_kib": max(peak[0], after),
                    "rss_after_kib": after, "redis_stream_kib": stream_kib,
                    "received": [s.count for s in subs]}
        finally:
            close_all(subs)


async def run() -> dict[str, Any]:
    print("retention: rill …", flush=True)
    r = await measure(Rill())
    mib = 1024
    row = ["rill", f"{r['updates']:,} × {r['update_bytes'] // 1024} KiB",
           r["rss_before_kib"] / mib, r["rss_peak_kib"] / mib, r["rss_after_kib"] / mib,
           (r["rss_peak_kib"] - r["rss_before_kib"]) / mib,
           r["redis_stream_kib"] / mib, " / ".join(f"{n:,}" for n in r["received"])]
    print(table("Hub RSS under large publishes (default retention), MiB",
                ["server", "published", "RSS before", "RSS peak", "RSS after", "peak growth",
                 "Redis stream", "received per live subscriber"], [row]))
    path = write_results("retention", {"servers": {"rill": r}})
    print(f"→ {path}")
    return r
