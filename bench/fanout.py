"""Benchmark 2: broadcast fan-out, one topic, 10k subscribers, 64-byte updates.

(a) burst: 20 updates published at once through the real publish endpoint;
    deliveries per second from the first publish until every subscriber has
    all 20 (and per second of server CPU, which noise from other jobs on the
    machine disturbs less);
(b) single updates, one at a time: publish-to-receive latency over all
    subscribers, p50 and p99 (the clock starts before the publish request is
    written, so it includes the publish round trip as a user would see it).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from bench.client import Subscriber, Tally, arrival_latencies, close_all, open_subscribers
from bench.common import own_cpu_seconds, percentile, table, write_results
from bench.idle import MARKER, counts, warm_up
from bench.targets import Target, all_targets

BURST = 20
SINGLES = 15
WAIT = 120.0


def payload(i: int) -> str:
    return f"Q7Z-{i:06d}-".ljust(64, "x")


async def deliver(target: Target, tally: Tally, subs: list[Subscriber], target_count: int,
                  updates: list[str]) -> tuple[float, float, int]:
    """Publish ``updates`` at once; (start, last arrival, subscribers that got all)."""
    loop = asyncio.get_running_loop()
    done = tally.arm(target_count, len(subs))
    start = loop.time()
    await asyncio.gather(*(target.publish(u) for u in updates))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done, WAIT)
    complete = [s.reached_at for s in subs if s.count >= target_count]
    return start, max(complete, default=start), len(complete)


async def measure(target: Target) -> dict[str, Any]:
    n = counts()[-1]
    with target.running() as proc:
        await warm_up(target)
        tally = Tally()
        subs: list[Subscriber] = []
        try:
            await open_subscribers(target.port, target.sub_path, n, MARKER, tally, into=subs)
            await asyncio.sleep(1.0)
            seen = 1
            await deliver(target, tally, subs, seen, [payload(0)])
            cpu0, client0 = proc.cpu_seconds(), own_cpu_seconds()
            start, end, complete = await deliver(
                target, tally, subs, seen + BURST, [payload(1 + i) for i in range(BURST)])
            cpu, client_cpu = proc.cpu_seconds() - cpu0, own_cpu_seconds() - client0
            seen += BURST
            burst = {"subscribers": n, "complete": complete, "seconds": end - start,
                     "deliveries_per_s": n * BURST / (end - start) if complete == n else 0.0,
                     "server_cpu_s": cpu, "client_cpu_s": client_cpu,
                     "deliveries_per_cpu_s": n * BURST / cpu if cpu else float("nan")}
            await asyncio.sleep(1.0)
            latencies: list[float] = []
            missing = 0
            cpu0, client0 = proc.cpu_seconds(), own_cpu_seconds()
            for i in range(SINGLES):
                seen += 1
                start, _, complete = await deliver(target, tally, subs, seen,
                                                   [payload(100 + i)])
                latencies += arrival_latencies(subs, start)
                missing += n - complete
                await asyncio.sleep(0.2)
            single = {"server_cpu_s": proc.cpu_seconds() - cpu0,
                      "client_cpu_s": own_cpu_seconds() - client0, "updates": SINGLES,
                      "samples": len(latencies), "missing": missing,
                      "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
                      "max_ms": max(latencies, default=float("nan"))}
            return {"subscribers": n, "burst": burst, "single": single}
        finally:
            close_all(subs)


async def run() -> dict[str, Any]:
    results: dict[str, Any] = {}
    for target in all_targets():
        print(f"fanout: {target.name} …", flush=True)
        results[target.name] = await measure(target)
    rows = [[name, r["subscribers"], r["burst"]["deliveries_per_s"],
             r["burst"]["deliveries_per_cpu_s"],
             r["burst"]["client_cpu_s"] / r["burst"]["server_cpu_s"],
             r["single"]["p50_ms"], r["single"]["p99_ms"]]
            for name, r in results.items()]
    print(table("Broadcast fan-out, one topic, 64-byte updates",
                ["server", "subscribers", "burst deliveries/s", "deliveries/CPU-s",
                 "client/server CPU", "single p50 ms", "single p99 ms"], rows))
    path = write_results("fanout", {"servers": results})
    print(f"→ {path}")
    return results
