"""``rill demo`` keeps publishing through a hub restart (issue 17 bug 4)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from rill.client.errors import APIError
from rill.hub import demo


class FlakyHub:
    """Refuses connections for its first ``down`` publishes, then stores them."""

    def __init__(self, down: int, error: Exception) -> None:
        self.down = down
        self.error = error
        self.published: list[tuple[str, str, dict[str, Any]]] = []
        self.private_seen = asyncio.Event()

    async def publish(self, topic: str, data: str, **kwargs: Any) -> str:
        if self.down > 0:
            self.down -= 1
            raise self.error
        self.published.append((topic, data, kwargs))
        if topic.startswith("users/"):
            self.private_seen.set()
        return f"urn:uuid:{len(self.published)}"


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadError("connection reset"),
        APIError(503, title="Service Unavailable", detail="shutting down"),
    ],
)
async def test_publish_waits_out_an_unreachable_hub(error: Exception) -> None:
    hub = FlakyHub(down=4, error=error)
    publish = demo.resilient(hub.publish, first=0.001, cap=0.004)
    assert await publish("prices/BTC", "{}", type="price") == "urn:uuid:1"
    assert hub.published == [("prices/BTC", "{}", {"type": "price"})]


async def test_a_refusal_is_not_retried() -> None:
    hub = FlakyHub(down=1, error=APIError(403, title="Forbidden", detail="not allowed"))
    with pytest.raises(APIError):
        await demo.resilient(hub.publish, first=0.001)("prices/BTC", "{}")


async def test_run_demo_survives_a_restart_and_sends_one_notification_id_for_both_copies() -> None:
    hub = FlakyHub(down=20, error=httpx.ConnectError("connection refused"))
    original = demo.RETRY_FIRST_S
    demo.RETRY_FIRST_S = 0.001
    try:
        task = asyncio.create_task(demo.run_demo(hub.publish, user="usr_1", rate=50, seed=1))
        async with asyncio.timeout(10):
            await hub.private_seen.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        demo.RETRY_FIRST_S = original
    public = [orjson.loads(d) for t, d, _ in hub.published if t == "notifications"]
    private = [orjson.loads(d) for t, d, _ in hub.published if t.startswith("users/")]
    assert private[0]["id"] == public[0]["id"]


class _Enough(Exception):
    pass


async def test_the_feed_keeps_private_items_on_the_users_topic(monkeypatch) -> None:
    published: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    async def publish(topic: str, data: str, **kwargs: Any) -> str:
        published.append((topic, orjson.loads(data), kwargs))
        if len(published) == 60:
            raise _Enough
        return "urn:uuid:x"

    async def no_wait(_: float) -> None:
        return None

    monkeypatch.setattr(demo.asyncio, "sleep", no_wait)
    with pytest.raises(_Enough):
        await demo._feed(publish, demo.random.Random(7), "u1")
    topics = {topic for topic, _, _ in published}
    assert topics == {"feed", "users/u1/feed"}
    for topic, item, kwargs in published:
        assert kwargs.get("private", False) == (topic == "users/u1/feed") == item.get("private", False)
        assert kwargs["type"] == "activity"
        assert item["verb"] in {verb for verb, _ in demo.ACTIVITIES}
    assert len({item["id"] for _, item, _ in published}) == len(published)


async def test_parcel_ids_of_two_runs_do_not_collide(monkeypatch) -> None:
    """A parcel id names one delivery; the hub replays a finished run's parcels, so a new
    run reusing their ids looked like those delivered parcels and never moved (live.spec)."""

    async def no_wait(_: float) -> None:
        return None

    monkeypatch.setattr(demo.asyncio, "sleep", no_wait)

    async def parcels_of_a_run(rng: demo.random.Random) -> set[str]:
        seen: set[str] = set()

        async def publish(topic: str, data: str, **kwargs: Any) -> str:
            seen.add(orjson.loads(data)["id"])
            if len(seen) == 5:
                raise _Enough
            return "urn:uuid:x"

        with pytest.raises(_Enough):
            await demo._parcels(publish, rng)
        return seen

    runs = [await parcels_of_a_run(demo.random.Random(seed)) for seed in range(20)]
    # Twenty runs of five parcels each: no two runs share a parcel (by chance they could,
    # with ids drawn from 9,000; these seeds do not, and the old code shared P1001 always).
    assert all(not (a & b) for i, a in enumerate(runs) for b in runs[i + 1:])
