"""One heartbeat loop pings every idle stream, each with its own ping when it has one
(issue 16: OpenAI and AI SDK clients read every ``data:`` line, so they get a comment)."""

from __future__ import annotations

import asyncio

from rill.http.heartbeat import Heartbeat


async def test_each_stream_gets_its_own_ping() -> None:
    heartbeat = Heartbeat(0.05, b"event: ping\ndata: {}\n\n")
    written: dict[str, list[bytes]] = {"default": [], "comment": []}

    async def default(data: bytes) -> None:
        written["default"].append(data)

    async def comment(data: bytes) -> None:
        written["comment"].append(data)

    heartbeat.register(default)
    heartbeat.register(comment, b":\n\n")
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
