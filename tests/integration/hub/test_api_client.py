"""Active subscriptions, discovery metadata, and the Python client."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import orjson

from rill.client.hub import HubClient, HubError
from tests.integration.hub.conftest import HubServer, hub_token, subscribe, wait_until


async def test_subscription_events_and_api(hub_factory) -> None:
    # Disconnects are noticed at the next heartbeat: keep it short here.
    server = await hub_factory(subscriptions=True, heartbeat_seconds=0.3)
    watcher = hub_token(
        subscribe=[
            "/.well-known/mercure/subscriptions{/topic}{/subscriber}",
            "/.well-known/mercure/subscriptions",
        ]
    )
    auth = {"Authorization": f"Bearer {watcher}"}
    async with (
        server.client() as c,
        subscribe(
            c, {"matchURLPattern": "/.well-known/mercure/subscriptions/:type/:match/:sub"}, auth
        ) as events,
    ):
        member = hub_token(
            subscribe=["x"],
            sub="alice",
            details=[
                {
                    "type": "mercure",
                    "actions": ["subscribe"],
                    "topics": [{"match": "*"}],
                    "payload": {"team": "blue"},
                }
            ],
        )
        async with (
            server.client() as c2,
            subscribe(c2, {"match": "books/1"}, {"Authorization": f"Bearer {member}"}),
        ):
            doc = orjson.loads((await events.next()).data)
            if doc["match"] != "books/1":  # the watcher's own subscription comes first
                doc = orjson.loads((await events.next()).data)
            assert doc["type"] == "subscription" and doc["active"] is True
            assert doc["match"] == "books/1" and doc["match_type"] == "exact"
            # The hub makes the subscriber id itself, never from ``sub`` (spec).
            subscriber = doc["subscriber"]
            assert subscriber.startswith("urn:uuid:") and doc["payload"] == {"team": "blue"}
            assert doc["id"] == (
                f"/.well-known/mercure/subscriptions/exact/{quote('books/1', safe='')}/"
                f"{quote(subscriber, safe='')}"
            )

            r = await c.get("/.well-known/mercure/subscriptions", headers=auth)
            assert r.status_code == 200
            assert r.headers["content-type"] == "application/json"
            assert 'rel="mercure"; last-event-id="urn:uuid:' in r.headers["link"]
            listing = r.json()
            assert listing["type"] == "subscriptions"
            assert "books/1" in [s["match"] for s in listing["subscriptions"]]
            r = await c.get(doc["id"], headers=auth)
            assert r.status_code == 200 and r.json()["subscriber"] == subscriber
            r = await c.get("/.well-known/mercure/subscriptions")
            assert r.status_code == 401
            r = await c.get(
                "/.well-known/mercure/subscriptions",
                headers={"Authorization": f"Bearer {hub_token(subscribe=['books/1'])}"},
            )
            assert r.status_code == 403
        gone = orjson.loads((await events.next()).data)
        assert gone["active"] is False and gone["subscriber"] == subscriber
        r = await c.get(doc["id"], headers=auth)
        assert r.status_code == 404


async def test_subscriptions_api_off_by_default(hub_server: HubServer) -> None:
    async with hub_server.client() as c:
        r = await c.get(
            "/.well-known/mercure/subscriptions",
            headers={"Authorization": f"Bearer {hub_token(subscribe=['*'])}"},
        )
    assert r.status_code == 404


async def test_protected_resource_metadata_and_link(hub_server: HubServer) -> None:
    async with hub_server.client() as c:
        r = await c.get("/.well-known/oauth-protected-resource/.well-known/mercure")
    body = r.json()
    assert body["resource"] == f"{hub_server.url}/.well-known/mercure"
    assert body["mercure_cookie"] == "__Secure-mercure_access_token"
    assert body["bearer_methods_supported"] == ["header"]
    assert hub_server.hub.link_header("https://app.example/") == (
        '<https://app.example/.well-known/mercure>; rel="mercure"'
    )


async def test_publish_local(hub_server: HubServer) -> None:
    async with hub_server.client() as c, subscribe(c, {"match": "notifications"}) as s:
        update_id = await hub_server.hub.publish_local(
            "notifications", '{"title": "hi"}', type="notification"
        )
        event = await s.next()
        assert (event.id, event.event, event.data) == (update_id, "notification", '{"title": "hi"}')


async def test_client_publishes_and_resumes_without_loss(hub_server: HubServer) -> None:
    publisher = HubClient(hub_server.url, hub_token(publish=["*"]))
    subscriber = HubClient(hub_server.url, reconnect_delay=0.05)
    received: list[str] = []

    async def consume() -> None:
        async for event in subscriber.subscribe(["ticks"]):
            received.append(event.data)
            if len(received) == 3:
                # Cut every open subscription: the client must come back with its last id.
                for conn in list(hub_server.hub.registry.connections):
                    hub_server.hub.registry.drop(conn, "test")
            if len(received) == 10:
                return

    task = asyncio.create_task(consume())
    await wait_until(lambda: len(hub_server.hub.registry))
    for i in range(10):
        await publisher.publish("ticks", str(i))
        await asyncio.sleep(0.02)
    await asyncio.wait_for(task, 10)
    assert received == [str(i) for i in range(10)]
    async with HubClient(hub_server.url, "bad-token") as stranger:
        try:
            await stranger.publish("ticks", "x")
        except HubError as exc:
            assert exc.status == 401
        else:
            raise AssertionError("expected a 401")
    await publisher.aclose()
    await subscriber.aclose()
