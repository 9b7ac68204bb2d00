"""Reconnection, replay, unknown ids, concurrency, slow subscribers, shutdown."""

from __future__ import annotations

import asyncio
import socket

from tests.integration.hub.conftest import HubServer, hub_token, subscribe, wait_until


async def _publish_many(server: HubServer, topic: str, count: int, **fields) -> list[str]:
    return [(await server.publish(topic, f"{topic}#{i}", **fields)).text for i in range(count)]


async def test_replay_after_last_event_id_header_and_query(hub_server: HubServer) -> None:
    ids = await _publish_many(hub_server, "feed", 4)
    async with hub_server.client() as c:
        async with subscribe(c, {"match": "feed"}, {"Last-Event-ID": ids[1]}) as s:
            assert s.response.headers["last-event-id"] == ids[1]
            assert s.response.headers["mercure-last-event-id"] == ids[1]
            assert [e.id for e in await s.take(2)] == ids[2:]
            new = (await hub_server.publish("feed", "live")).text
            assert (await s.next()).id == new
        for name in ("lastEventID", "last_event_id"):
            async with subscribe(c, {"match": "feed", name: ids[2]}) as s:
                assert s.response.headers["last-event-id"] == ids[2]
                assert (await s.next()).id == ids[3]


async def test_header_takes_precedence_over_query(hub_server: HubServer) -> None:
    ids = await _publish_many(hub_server, "feed", 3)
    async with (
        hub_server.client() as c,
        subscribe(c, {"match": "feed", "lastEventID": ids[0]}, {"Last-Event-ID": ids[1]}) as s,
    ):
        assert (await s.next()).id == ids[2]


async def test_earliest_replays_everything_retained(hub_server: HubServer) -> None:
    ids = await _publish_many(hub_server, "feed", 3)
    await hub_server.publish("other", "no")
    async with (
        hub_server.client() as c,
        subscribe(c, {"match": "feed", "lastEventID": "earliest"}) as s,
    ):
        assert s.response.headers["last-event-id"] == "earliest"
        assert [e.id for e in await s.take(3)] == ids


async def test_unknown_id_is_reported_as_earliest(hub_server: HubServer) -> None:
    ids = await _publish_many(hub_server, "feed", 2)
    async with (
        hub_server.client() as c,
        subscribe(c, {"match": "feed"}, {"Last-Event-ID": "urn:uuid:never-published"}) as s,
    ):
        assert s.response.headers["last-event-id"] == "earliest"
        assert [e.id for e in await s.take(2)] == ids


async def test_retention_window_bounds_replay(hub_factory) -> None:
    server = await hub_factory(retention_count=3)
    ids = await _publish_many(server, "feed", 6)
    async with server.client() as c:
        async with subscribe(c, {"match": "feed"}, {"Last-Event-ID": ids[0]}) as s:
            # ids[0] fell out of the window: the subscriber is told, and gets what is left.
            assert s.response.headers["last-event-id"] == "earliest"
            assert [e.id for e in await s.take(3)] == ids[3:]
        async with subscribe(c, {"match": "feed"}, {"Last-Event-ID": ids[4]}) as s:
            assert s.response.headers["last-event-id"] == ids[4]
            assert (await s.next()).id == ids[5]


async def test_without_retention_nothing_is_replayed(hub_factory) -> None:
    server = await hub_factory(retention_count=0)
    ids = await _publish_many(server, "feed", 2)
    async with (
        server.client() as c,
        subscribe(c, {"match": "feed"}, {"Last-Event-ID": ids[0]}) as s,
    ):
        assert s.response.headers["last-event-id"] == "earliest"
        await s.nothing()
        live = (await server.publish("feed", "live")).text
        assert (await s.next()).id == live


async def test_private_updates_are_not_replayed_or_disclosed(hub_server: HubServer) -> None:
    public = (await hub_server.publish("feed", "public")).text
    secret = (await hub_server.publish("feed", "secret", private=True)).text
    after = (await hub_server.publish("feed", "after")).text
    async with hub_server.client() as c:
        async with subscribe(c, {"match": "feed"}, {"Last-Event-ID": secret}) as s:
            # The header never names an event the subscriber may not see.
            assert s.response.headers["last-event-id"] == public
            assert (await s.next()).id == after
        async with subscribe(c, {"match": "feed", "lastEventID": "earliest"}) as s:
            assert [e.data for e in await s.take(2)] == ["public", "after"]
        token = hub_token(subscribe=["feed"])
        async with subscribe(
            c, {"match": "feed", "lastEventID": "earliest"}, {"Authorization": f"Bearer {token}"}
        ) as s:
            assert [e.data for e in await s.take(3)] == ["public", "secret", "after"]


async def test_concurrent_publishers_keep_ids_unique_and_order_per_topic(
    hub_server: HubServer,
) -> None:
    publishers, per_publisher, topics = 6, 25, ("a", "b", "c")

    async def publisher(p: int) -> list[str]:
        out = []
        for i in range(per_publisher):
            topic = topics[(p + i) % len(topics)]
            out.append((await hub_server.publish(topic, f"{p}:{i}")).text)
        return out

    total = publishers * per_publisher
    async with hub_server.client() as c, subscribe(c, {"match": "*"}) as live:
        acked = await asyncio.gather(*(publisher(p) for p in range(publishers)))
        received = await live.take(total)
    all_ids = [i for ids in acked for i in ids]
    assert len(set(all_ids)) == total
    assert sorted(e.id for e in received) == sorted(all_ids)
    for p in range(publishers):
        mine = [int(e.data.split(":")[1]) for e in received if e.data.startswith(f"{p}:")]
        assert mine == sorted(mine)
    # A late subscriber replaying everything sees the same order as the live one.
    async with (
        hub_server.client() as c,
        subscribe(c, {"match": "*", "lastEventID": "earliest"}) as s,
    ):
        replayed = await s.take(total)
    assert [e.id for e in replayed] == [e.id for e in received]


async def test_slow_subscriber_is_dropped_while_others_continue(hub_factory) -> None:
    server = await hub_factory(max_buffer_bytes=64 * 1024)
    port = int(server.url.rsplit(":", 1)[1])
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(slow, ("127.0.0.1", port))
    await loop.sock_sendall(slow, b"GET /.well-known/mercure?match=big HTTP/1.1\r\nHost: x\r\n\r\n")
    await wait_until(lambda: len(server.hub.registry) == 1)
    payload = "x" * 32 * 1024
    async with server.client() as c, subscribe(c, {"match": "big"}) as fast:
        for i in range(200):
            await server.publish("big", payload + str(i))
            assert (await fast.next()).data == payload + str(i)
            if len(server.hub.registry) == 1:
                break
        assert len(server.hub.registry) == 1, "the slow subscriber should have been dropped"
        await server.publish("big", "still flowing")
        assert (await fast.next()).data == "still flowing"
    slow.close()


async def test_close_ends_open_subscriptions(hub_factory) -> None:
    server = await hub_factory()
    async with server.client() as c, subscribe(c, {"match": "t"}) as s:
        await server.hub.close(deadline=2)
        await s.ended()
    assert len(server.hub.registry) == 0


async def test_expired_token_closes_the_stream(hub_factory) -> None:
    server = await hub_factory()
    token = hub_token(subscribe=["t"], ttl=2)
    async with (
        server.client() as c,
        subscribe(c, {"match": "t"}, {"Authorization": f"Bearer {token}"}) as s,
    ):
        await s.ended()
    assert len(server.hub.registry) == 0


async def test_heartbeats_and_dead_clients(hub_factory) -> None:
    server = await hub_factory(heartbeat_seconds=0.2)
    async with server.client() as c, subscribe(c, {"match": "t"}) as s:
        await wait_until(lambda: any(c.wrote or c.poll for c in server.hub.registry.connections))
        assert s.response.status_code == 200
    # The client went away: the next heartbeat notices and forgets it.
    await wait_until(lambda: not len(server.hub.registry))
