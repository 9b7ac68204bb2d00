"""Live demo data for the web app's live pages (``rill demo``).

Topics and payloads are the ones ``docs/api.md`` lists: a price random walk
several times a second, inventory changes, parcels moving through delivery
states, notifications and a live activity feed (private ones too, when given a user).

The hub may restart while the demo runs: publishing waits and tries again (capped
backoff) instead of ending the demo with a traceback.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson

from rill.client.errors import APIError

Publish = Callable[..., Awaitable[str]]

_log = logging.getLogger(__name__)
#: Waits between attempts while the hub is unreachable: doubled up to the cap.
RETRY_FIRST_S = 0.5
RETRY_CAP_S = 5.0

PRICES = {"BTC": 64000.0, "ETH": 3100.0, "AAPL": 190.0, "TSLA": 175.0}
PRODUCTS = {
    "sku-1001": "Trail shoes",
    "sku-1002": "Rain jacket",
    "sku-1003": "Headlamp",
    "sku-1004": "Water bottle",
}
PARCEL_STEPS = [
    "label_created",
    "picked_up",
    "in_transit",
    "at_hub",
    "out_for_delivery",
    "delivered",
]
CITIES = ["Seoul", "Busan", "Daejeon", "Incheon", "Gwangju", "Suwon"]
NOTES = [
    ("Order shipped", "Your order is on its way.", "info"),
    ("Price alert", "BTC moved more than 1% in the last minute.", "alert"),
    ("Back in stock", "Rain jacket is available again.", "success"),
    ("Maintenance", "Scheduled maintenance tonight at 02:00.", "warning"),
]


def _ms() -> int:
    return int(time.time() * 1000)


def _json(body: dict[str, Any]) -> str:
    return orjson.dumps(body).decode()


async def _prices(publish: Publish, rng: random.Random, rate: float) -> None:
    prices = dict(PRICES)
    while True:
        for symbol, price in prices.items():
            change = price * rng.gauss(0, 0.0015)
            prices[symbol] = max(price + change, 0.01)
            await publish(
                f"prices/{symbol}",
                _json(
                    {
                        "symbol": symbol,
                        "price": round(prices[symbol], 2),
                        "change": round(prices[symbol] - PRICES[symbol], 2),
                        "changePct": round((prices[symbol] / PRICES[symbol] - 1) * 100, 3),
                        "ts": _ms(),
                    }
                ),
                type="price",
            )
        await asyncio.sleep(1 / rate)


async def _inventory(publish: Publish, rng: random.Random) -> None:
    stock = {sku: rng.randint(5, 40) for sku in PRODUCTS}
    while True:
        sku = rng.choice(list(PRODUCTS))
        delta = rng.choice([-3, -2, -1, -1, 1, 5]) if stock[sku] > 3 else rng.randint(5, 20)
        stock[sku] = max(stock[sku] + delta, 0)
        await publish(
            f"inventory/{sku}",
            _json(
                {
                    "sku": sku,
                    "name": PRODUCTS[sku],
                    "stock": stock[sku],
                    "delta": delta,
                    "ts": _ms(),
                }
            ),
            type="inventory",
        )
        await asyncio.sleep(rng.uniform(0.8, 2.5))


async def _parcels(publish: Publish, rng: random.Random) -> None:
    # Why a random first number: a parcel id names one delivery, and the hub replays the
    # last run's updates; a new run reusing P1001 would look like that finished parcel.
    first = rng.randrange(9000)
    for number in itertools.count(first):
        parcel = f"P{1000 + number % 9000}"
        for step, status in enumerate(PARCEL_STEPS, start=1):
            remaining = len(PARCEL_STEPS) - step
            await publish(
                f"parcels/{parcel}",
                _json(
                    {
                        "id": parcel,
                        "status": status,
                        "location": rng.choice(CITIES),
                        "eta": _ms() + remaining * 3_600_000,
                        "ts": _ms(),
                        "step": step,
                        "steps": len(PARCEL_STEPS),
                    }
                ),
                type="parcel",
            )
            await asyncio.sleep(rng.uniform(2, 4))


def _unreachable(exc: Exception) -> bool:
    """The hub is down or restarting (no answer, or a 5xx), not refusing us."""
    if isinstance(exc, APIError):
        return exc.status >= 500
    return isinstance(exc, httpx.TransportError)


def resilient(publish: Publish, *, first: float | None = None, cap: float | None = None) -> Publish:
    """``publish`` that waits out a hub restart (issue 17: ``rill demo`` died on ConnectError)."""
    first_s = RETRY_FIRST_S if first is None else first
    cap_s = RETRY_CAP_S if cap is None else cap

    async def send(*args: Any, **kwargs: Any) -> str:
        delay = first_s
        while True:
            try:
                return await publish(*args, **kwargs)
            except (httpx.TransportError, APIError) as exc:
                if not _unreachable(exc):
                    raise
                _log.warning(
                    "demo: hub unreachable (%s), retrying in %.1f s", type(exc).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, cap_s)

    return send


async def _notifications(publish: Publish, rng: random.Random, user: str | None) -> None:
    while True:
        title, body, kind = rng.choice(NOTES)
        note = {"id": str(uuid.uuid4()), "title": title, "body": body, "kind": kind, "ts": _ms()}
        if user:
            # Why the same id: it is one notification; the bell shows it once (issue 17),
            # and the personal copy goes first so that is the one a subscriber keeps.
            personal = {**note, "title": f"For you: {title}"}
            await publish(
                f"users/{user}/notifications", _json(personal), private=True, type="notification"
            )
        await publish("notifications", _json(note), type="notification")
        await asyncio.sleep(rng.uniform(5, 10))


PEOPLE = ["Minji", "Jisoo", "Hyun", "Alex", "Sam", "Yuna"]
#: ``(verb, targets)``: the web app words each verb in the reader's language.
ACTIVITIES = [
    ("commented", ["Trip to Busan", "Weekend hike", "Rain jacket review"]),
    ("liked", ["Night market photos", "Headlamp guide", "Trail shoes"]),
    ("shared", ["Seoul coffee map", "Packing list", "Camping checklist"]),
    ("followed", PEOPLE),
    ("ordered", list(PRODUCTS.values())),
]


async def _feed(publish: Publish, rng: random.Random, user: str | None) -> None:
    """The live feed (issue 17, the seed's 실시간 피드): public activity for everyone,
    and, given a user, now and then an item only that user may see."""
    while True:
        verb, targets = rng.choice(ACTIVITIES)
        item = {"id": str(uuid.uuid4()), "actor": rng.choice(PEOPLE), "verb": verb,
                "target": rng.choice(targets), "ts": _ms()}
        if user and rng.random() < 0.25:
            await publish(f"users/{user}/feed", _json({**item, "private": True}),
                          private=True, type="activity")
        else:
            await publish("feed", _json(item), type="activity")
        await asyncio.sleep(rng.uniform(0.4, 1.6))


async def run_demo(
    publish: Publish, *, user: str | None = None, rate: float = 4.0, seed: int | None = None
) -> None:
    """Publish until cancelled; ``publish`` is ``HubClient.publish`` or ``Hub.publish_local``."""
    rng = random.Random(seed)
    publish = resilient(publish)
    async with asyncio.TaskGroup() as group:
        group.create_task(_prices(publish, rng, rate))
        group.create_task(_inventory(publish, rng))
        group.create_task(_parcels(publish, rng))
        group.create_task(_notifications(publish, rng, user))
        group.create_task(_feed(publish, rng, user))
