"""Benchmark 1: memory per idle subscriber (server RSS growth ÷ connections).

Each server is warmed up (a few subscriptions opened and closed, one update
published), its RSS read as the baseline, then 1k and 10k subscribers are
opened and held idle; the growth is read from ``/proc/<pid>/status``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.client import Tally, close_all, open_subscribers
from bench.common import raise_nofile, table, write_results
from bench.targets import Target, all_targets

MARKER = b"Q7Z"
STEPS = (1_000, 10_000)


def counts() -> tuple[int, ...]:
    # Client and server are separate processes, each needs one fd per connection.
    limit = raise_nofile() - 200
    return tuple(min(n, limit) for n in STEPS)


async def warm_up(target: Target) -> None:
    tally = Tally()
    subs = await open_subscribers(target.port, target.sub_path, 50, MARKER, tally)
    await target.publish("Q7Z-warmup".ljust(64, "x"))
    await asyncio.sleep(0.3)
    close_all(subs)
    await asyncio.sleep(0.5)


async def measure(target: Target) -> dict[str, Any]:
    with target.running() as proc:
        await warm_up(target)
        base = proc.rss_kib()
        tally = Tally()
        subs: list[Any] = []
        result: dict[str, Any] = {"baseline_kib": base, "steps": []}
        try:
            for n in counts():
                await open_subscribers(target.port, target.sub_path, n - len(subs), MARKER,
                                       tally, into=subs)
                await asyncio.sleep(1.5)
                rss = proc.rss_kib()
                result["steps"].append({"connections": n, "rss_kib": rss,
                                        "kib_per_connection": (rss - base) / n})
        finally:
            close_all(subs)
        return result


async def run() -> dict[str, Any]:
    results: dict[str, Any] = {}
    for target in all_targets():
        print(f"idle: {target.name} …", flush=True)
        results[target.name] = await measure(target)
    headers = ["server"] + [f"KiB/conn @ {s['connections']:,}"
                            for s in next(iter(results.values()))["steps"]]
    rows = [[name] + [s["kib_per_connection"] for s in r["steps"]] for name, r in results.items()]
    print(table("Idle subscribers: server RSS growth per connection", headers, rows))
    path = write_results("idle", {"servers": results})
    print(f"→ {path}")
    return results
