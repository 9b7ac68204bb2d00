"""The shared heartbeat: pings idle streams, each with its own ping when it has one
(issue 16: OpenAI and AI SDK clients read every ``data:`` line, so they get a comment),
and drops streams whose client stopped reading."""

from __future__ import annotations

import asyncio

from rill.http.heartbeat import Heartbeat


class _Transport:
    def __init__(self, queued: int) -> None:
        self.queued = queued
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return self.queued


async def test_a_write_stalled_past_the_timeout_aborts_only_that_stream() -> None:
    heartbeat = Heartbeat(interval=10, payload=b": ping\n\n", write_timeout=0.2)
    stuck, fine = asyncio.Event(), asyncio.Event()
    writes: list[bytes] = []

    async def write(data: bytes) -> None:
        writes.append(data)

    stalled = heartbeat.register(write, stuck.set)
    heartbeat.register(write, fine.set)
    stalled.sending = True  # a write began and never completed
    heartbeat.start()
    try:
        await asyncio.wait_for(stuck.wait(), 2)
        assert not fine.is_set()
        assert len(heartbeat) == 1, "the dropped stream is forgotten"
    finally:
        await heartbeat.close()


async def test_a_finished_stream_whose_bytes_stay_queued_is_aborted() -> None:
    heartbeat = Heartbeat(interval=10, payload=b"", write_timeout=0.2)
    never_read, drained = _Transport(queued=4096), _Transport(queued=4096)
    heartbeat.ended(never_read)
    heartbeat.ended(drained)
    heartbeat.ended(_Transport(queued=0))  # nothing queued: nothing to watch
    heartbeat.start()
    try:
        drained.queued = 0
        for _ in range(40):
            await asyncio.sleep(0.05)
            if never_read.aborted:
                break
        assert never_read.aborted and not drained.aborted
    finally:
        await heartbeat.close()


async def test_each_stream_gets_its_own_ping() -> None:
    heartbeat = Heartbeat(0.05, b"event: ping\ndata: {}\n\n")
    written: dict[str, list[bytes]] = {"default": [], "comment": []}

    async def default(data: bytes) -> None:
        written["default"].append(data)

    async def comment(data: bytes) -> None:
        written["comment"].append(data)

    heartbeat.register(default, lambda: None)
    heartbeat.register(comment, lambda: None, b":\n\n")
    heartbeat.start()
    try:
        for _ in range(100):
            if written["default"] and written["comment"]:
                break
            await asyncio.sleep(0.02)
    finally:
        await heartbeat.close()
    assert set(written["default"]) == {b"event: ping\ndata: {}\n\n"}
    assert set(written["comment"]) == {b":\n\n"}
