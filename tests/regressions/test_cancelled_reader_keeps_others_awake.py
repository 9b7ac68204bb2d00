"""Regression: a reader whose task was cancelled (its client went away) woke every
other reader of the same stream with CancelledError, because they all awaited one
shared future and cancelling an awaiting task cancels the future it awaits."""

from __future__ import annotations

import asyncio
import contextlib

from rill.broker.memory import MemoryBroker


async def test_cancelling_one_subscriber_leaves_the_others_running():
    broker = MemoryBroker()
    await broker.append("s", b"first")
    got: list[bytes] = []

    async def read(into: list[bytes] | None) -> None:
        async for entry in broker.subscribe("s"):
            if into is not None:
                into.append(entry.payload)

    doomed = asyncio.create_task(read(None))
    survivor = asyncio.create_task(read(got))
    await asyncio.sleep(0.01)
    doomed.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await doomed
    await broker.append("s", b"second")
    await broker.end("s", ttl=1)
    await asyncio.wait_for(survivor, 1)
    assert got == [b"first", b"second"]
