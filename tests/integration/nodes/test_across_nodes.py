"""Three nodes behave as one: a chat reply resumed or cancelled on any node, one
generation limit, and hub updates delivered and replayed on every node."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from .cluster import (
    LONG,
    Cluster,
    Reader,
    chat_reader,
    client,
    hub_reader,
    publish,
    resume_reader,
    session,
    wait_for,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


def _message_id(reader: Reader) -> str:
    reader.wait_events(1)
    return str(json.loads(reader.events[0].data)["message"]["id"])


def test_resume_on_another_node_mid_reply_and_after(three_nodes: Cluster) -> None:
    a, b, c = three_nodes["a"], three_nodes["b"], three_nodes["c"]
    token = session(a.url)
    text = " ".join(f"r{i}" for i in range(60))
    origin = chat_reader(a.url, token, text)
    try:
        head = origin.wait_events(8)
    finally:
        origin.close()
    message_id = json.loads(head[0].data)["message"]["id"]
    # Mid-reply on node B: exactly the rest, live until message_stop.
    rest = resume_reader(b.url, token, message_id, head[-1].id)
    rest.wait_ended(30)
    assert rest.status == 200 and rest.error is None
    assert rest.names[-1] == "message_stop"
    so_far = "".join(json.loads(e.data)["delta"]["text"] for e in head
                     if e.event == "content_block_delta")
    assert so_far + rest.text == text
    ids = [e.id for e in head + rest.events]
    assert len(ids) == len(set(ids))
    # After it finished, on node C, from the start and from the middle.
    whole = resume_reader(c.url, token, message_id, None)
    whole.wait_ended(10)
    assert whole.text == text and whole.names[0] == "message_start"
    tail = resume_reader(c.url, token, message_id, head[-1].id)
    tail.wait_ended(10)
    assert [e.id for e in tail.events] == [e.id for e in rest.events]
    with client(c.url, token) as http:
        stored = http.get("/api/history", params={"chatbotId": "slow"}).json()["messages"]
    assert next(m for m in stored if m["id"] == message_id)["content"] == text


def test_cancel_on_a_third_node_stops_the_generation(three_nodes: Cluster) -> None:
    a, b, c = three_nodes["a"], three_nodes["b"], three_nodes["c"]
    token = session(b.url)
    origin = chat_reader(a.url, token, LONG)
    watcher = None
    try:
        message_id = _message_id(origin)
        origin.wait_events(5)
        watcher = resume_reader(b.url, token, message_id, origin.events[2].id)
        watcher.wait_events(2)
        with client(c.url, token) as http:
            response = http.post(f"/api/chat/{message_id}/cancel")
        assert response.status_code == 202, response.text
        origin.wait_ended(10)
        watcher.wait_ended(10)
    finally:
        origin.close()
        if watcher is not None:
            watcher.close()
    for reader in (origin, watcher):
        assert reader.names[-2:] == ["message_delta", "message_stop"]
        assert json.loads(reader.events[-2].data)["delta"]["rill_stop_reason"] == "cancelled"
    with client(c.url, token) as http:
        stored = http.get("/api/history", params={"chatbotId": "slow"}).json()["messages"]
    reply = next(m for m in stored if m["id"] == message_id)
    assert reply["status"] == "cancelled"
    assert reply["content"] == origin.text and LONG.startswith(origin.text)
    assert len(origin.text) < len(LONG)


def test_the_generation_limit_holds_across_nodes(three_nodes: Cluster) -> None:
    # RILL_MAX_CONCURRENT_GENERATIONS is 2 for this cluster (see the fixture below).
    token = session(three_nodes["a"].url)
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def turn(url: str) -> None:
        with httpx.Client(base_url=url, timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as http:
            barrier.wait(10)
            with http.stream("POST", "/api/chat", json={"chatbotId": "slow",
                             "message": LONG}) as response:
                statuses.append(response.status_code)

    urls = [three_nodes[n].url for n in ("a", "b", "c")] * 2
    threads = [threading.Thread(target=turn, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [200, 200, 429, 429, 429, 429]
    # The two accepted replies go on without their readers; cancel them for the next tests.
    with client(three_nodes["c"].url, token) as http:
        page = http.get("/api/history", params={"chatbotId": "slow"}).json()["messages"]
        streaming = [m["id"] for m in page if m["status"] == "streaming"]
        assert len(streaming) == 2
        for message_id in streaming:
            assert http.post(f"/api/chat/{message_id}/cancel").status_code == 202
        wait_for(lambda: not any(
            m["status"] == "streaming"
            for m in http.get("/api/history", params={"chatbotId": "slow"}).json()["messages"]
        ), 10)


# The Mercure hub across nodes.


def _hub_data(reader: Reader) -> list[str]:
    return [e.data for e in reader.events]


def test_a_publish_on_one_node_reaches_subscribers_on_every_node(three_nodes: Cluster) -> None:
    readers = {n: hub_reader(three_nodes[n].url, ["news"]) for n in ("a", "b", "c")}
    try:
        for reader in readers.values():
            assert reader.opened.wait(10) and reader.status == 200
        ids = []
        for i in range(3):
            response = publish(three_nodes["a"].url, "news", f"update {i}")
            assert response.status_code == 200, response.text
            ids.append(response.text)
        for reader in readers.values():
            got = reader.wait_events(3)
            assert [e.data for e in got] == ["update 0", "update 1", "update 2"]
            assert [e.id for e in got] == ids
    finally:
        for reader in readers.values():
            reader.close()


def test_reconnecting_to_another_node_misses_nothing_and_repeats_nothing(
    three_nodes: Cluster,
) -> None:
    a, b, c = three_nodes["a"], three_nodes["b"], three_nodes["c"]
    first = hub_reader(b.url, ["parcels/1"])
    try:
        assert first.opened.wait(10)
        sent = [publish(a.url, "parcels/1", f"step {i}").text for i in range(2)]
        seen = first.wait_events(2)
    finally:
        first.close()
    # Published while the subscriber is away, on yet another node.
    sent += [publish(c.url, "parcels/1", f"step {i}").text for i in range(2, 5)]
    again = hub_reader(c.url, ["parcels/1"], last_event_id=seen[-1].id)
    try:
        assert again.opened.wait(10) and again.status == 200
        replayed = again.wait_events(3)
        sent.append(publish(a.url, "parcels/1", "step 5").text)
        live = again.wait_events(4)[3]
        time.sleep(0.5)  # a duplicate would arrive right behind
    finally:
        again.close()
    received = [*seen, *replayed, live]
    assert [e.id for e in received] == sent
    assert [e.data for e in received] == [f"step {i}" for i in range(6)]
    assert len(again.events) == 4
