"""Signals sent while a node's Pub/Sub connection is down reach it on reconnect
(issue 18: a cancel must reach the generating node even if it was disconnected
from Redis when the cancel was sent), on one Redis, a Cluster and Sentinel."""

from __future__ import annotations

import asyncio

import pytest

from tests.contract.conftest import BrokerFactory
from tests.contract.test_broker_contract import signals, start_listeners

pytestmark = pytest.mark.redis


async def test_signals_sent_while_a_listener_was_disconnected_arrive_once_in_order(
    redis_nodes: BrokerFactory,
) -> None:
    a, b = await redis_nodes(), await redis_nodes()
    inboxes, tasks = await start_listeners(a, "cancel", 2)
    hub = a._signals  # noqa: SLF001 - the test holds the node's reconnect back
    expected: list[bytes] = []
    for round_ in range(3):
        # Holding the hub's lock keeps it from reconnecting: every signal below is
        # published while node a has no Pub/Sub connection at all.
        async with hub._lock:  # noqa: SLF001
            pubsub, client = hub._pubsub, hub._client  # noqa: SLF001
            assert pubsub is not None and pubsub.connection is not None and client is not None
            host, port = pubsub.connection._writer.get_extra_info("sockname")[:2]  # noqa: SLF001
            await client.client_kill(f"{host}:{port}")
            for i in range(5):
                payload = f"r{round_}m{i}".encode()
                await b.publish("cancel", payload)
                expected.append(payload)
            await asyncio.sleep(0.2)
            assert all(signals(inbox) == expected[:-5] for inbox in inboxes)
        for _ in range(100):
            if all(len(signals(inbox)) >= len(expected) for inbox in inboxes):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # nothing arrives twice from the log and the channel
        for inbox in inboxes:
            assert signals(inbox) == expected
    # Live signals still flow, once each.
    await b.publish("cancel", b"live")
    await asyncio.sleep(0.3)
    for inbox in inboxes:
        assert signals(inbox) == [*expected, b"live"]
    for task in tasks:
        task.cancel()
