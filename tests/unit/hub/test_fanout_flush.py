"""The fan-out's direct writes: one write per connection for what a burst brings."""

from __future__ import annotations

import asyncio

from rill.hub import fanout
from rill.hub.fanout import Connection, Registry, chunk
from rill.hub.grants import Grants
from rill.hub.matchers import matcher
from rill.hub.update import Record, Update, read_head


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return False


class Owner:
    def dropped(self) -> None:
        pass


def record(seq: int) -> Record:
    payload = Update(id=f"urn:uuid:{seq}", topics=("t",), data=f"u{seq}").to_payload()
    head = read_head(payload)
    assert head is not None
    return Record(seq, f"{seq}-0", 0, payload, head)


def direct_connection(registry: Registry) -> Transport:
    conn = Connection((matcher("Exact", "t"),), Grants(), "")
    transport = Transport()
    conn.transport, conn.owner = transport, Owner()  # type: ignore[assignment]
    registry.add(conn)
    return transport


async def test_a_lone_update_is_written_in_the_next_loop_turn() -> None:
    registry = Registry(max_buffer_bytes=1 << 20)
    transport = direct_connection(registry)
    registry.deliver(record(1))
    assert transport.writes == []
    await asyncio.sleep(0)
    assert transport.writes == [chunk(bytes(record(1).wire))]


async def test_updates_arriving_in_a_burst_are_written_together() -> None:
    registry = Registry(max_buffer_bytes=1 << 20)
    transports = [direct_connection(registry) for _ in range(3)]
    registry.deliver(record(1))
    await asyncio.sleep(0)  # the first update goes out at once
    # The rest of the burst arrives over a few loop turns, well inside BURST_GAP.
    for seq in (2, 3, 4):
        registry.deliver(record(seq))
        await asyncio.sleep(0)
    await asyncio.sleep(fanout.COALESCE_DELAY * 3)
    rest = b"".join(chunk(bytes(record(seq).wire)) for seq in (2, 3, 4))
    for transport in transports:
        assert transport.writes == [chunk(bytes(record(1).wire)), rest]
    # Once the burst is over, a lone update is immediate again.
    await asyncio.sleep(fanout.BURST_GAP * 2)
    registry.deliver(record(5))
    await asyncio.sleep(0)
    assert transports[0].writes[-1] == chunk(bytes(record(5).wire))
