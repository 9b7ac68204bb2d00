"""Spec § Active Subscriptions: subscription events and the subscriptions API."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import orjson

from tests.conformance.conftest import SUBSCRIBER_KEY, Hub, detail, pattern
from tests.integration.hub.conftest import subscribe

EVENTS = "/.well-known/mercure/subscriptions/:type/:match/:subscriber"


async def test_events_and_api(strict: Hub) -> None:
    watcher = strict.token(
        [detail(["subscribe"], pattern(EVENTS), pattern("/.well-known/mercure/subscriptions"),
                pattern("/.well-known/mercure/subscriptions/:type/:match"))],
        key=SUBSCRIBER_KEY,
    )
    member = strict.token(
        [detail(["subscribe"], "https://example.com/doc/1", payload={"team": "blue"}),
         detail(["subscribe"], "*", payload={"team": "default"})],
        key=SUBSCRIBER_KEY,
    )
    auth = {"Authorization": f"Bearer {watcher}"}
    async with (
        httpx.AsyncClient(base_url=strict.url, timeout=10) as c,
        subscribe(c, [("match_urlpattern", EVENTS)], auth) as events,
    ):
        async with subscribe(c, [("match", "https://example.com/doc/1"),
                                 ("match_urlpattern", "https://example.com/x/:id")],
                             {"Authorization": f"Bearer {member}"}):
            docs = {}
            while len(docs) < 2:
                event = await events.next()
                assert event.event == "mercure"  # the reserved type of hub events
                doc = orjson.loads(event.data)
                if doc["match"].startswith("https://example.com/"):
                    docs[doc["match_type"]] = (event, doc)
            exact_event, exact = docs["exact"]
            _, url = docs["urlpattern"]
            subscriber = exact["subscriber"]
            assert subscriber.startswith("urn:uuid:") and url["subscriber"] == subscriber
            assert exact["type"] == "subscription" and exact["active"] is True
            assert exact["payload"] == {"team": "blue"} and url["payload"] == {"team": "default"}
            # The topic: each variable percent-encoded exactly once, as a whole.
            topic = ("/.well-known/mercure/subscriptions/exact/"
                     f"{quote('https://example.com/doc/1', safe='')}/{quote(subscriber, safe='')}")
            assert exact["id"] == topic

            r = await c.get("/.well-known/mercure/subscriptions", headers=auth)
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/json"
            link = r.headers["link"]
            found = re.fullmatch(
                rf'<{re.escape(strict.hub_url)}>; rel="mercure"; last-event-id="([^"]+)"', link)
            assert found is not None, link
            cursor = found.group(1)
            listing = r.json()
            assert listing["type"] == "subscriptions"
            assert listing["id"] == "/.well-known/mercure/subscriptions"
            assert exact in listing["subscriptions"] and url in listing["subscriptions"]

            one = await c.get(topic, headers=auth)
            assert one.status_code == 200 and one.json() == exact
            collection = topic.rsplit("/", 1)[0]
            by_matcher = await c.get(collection, headers=auth)
            assert by_matcher.json()["subscriptions"] == [exact]
            assert (await c.get(topic + "x", headers=auth)).status_code == 404
        # The cursor from the API replays what happened since: here the two ends.
        async with subscribe(c, [("match_urlpattern", EVENTS), ("last_event_id", cursor)],
                             auth) as since:
            ended = []
            while len(ended) < 2:
                doc = orjson.loads((await since.next()).data)
                if doc["subscriber"] == subscriber:
                    ended.append(doc)
            assert all(d["active"] is False for d in ended)
        gone = await c.get(topic, headers=auth)
        assert gone.status_code == 404


def test_api_needs_a_token_and_a_grant_on_the_url(strict: Hub) -> None:
    url = f"{strict.url}/.well-known/mercure/subscriptions"
    r = httpx.get(url)
    assert r.status_code == 401 and "error=" not in r.headers["www-authenticate"]
    narrow = strict.subscriber("https://example.com/doc/1")
    r = httpx.get(url, headers={"Authorization": f"Bearer {narrow}"})
    assert r.status_code == 403 and 'error="insufficient_scope"' in r.headers["www-authenticate"]
    wildcard = strict.subscriber("*")
    assert httpx.get(url, headers={"Authorization": f"Bearer {wildcard}"}).status_code == 200


async def test_subscription_events_are_private(strict: Hub) -> None:
    async with (
        httpx.AsyncClient(base_url=strict.url, timeout=10) as c,
        subscribe(c, [("match_urlpattern", EVENTS)]) as anonymous,
        subscribe(c, [("match", "conf/someone")]),
    ):
        await anonymous.nothing(0.5)


def test_publishers_cannot_forge_subscription_events(strict: Hub) -> None:
    forged = "/.well-known/mercure/subscriptions/exact/a/urn%3Auuid%3Ax"
    r = strict.publish([("topic", forged), ("data", "{}")], strict.publisher())
    assert r.status_code == 400
