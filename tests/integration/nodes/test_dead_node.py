"""A node killed with SIGKILL mid-reply: the surviving nodes end its replies as
``interrupted`` (live readers elsewhere see the ending), or it does so itself at
restart; nothing else is lost and the other nodes keep serving."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.support import poll

from .cluster import (
    LONG,
    Cluster,
    chat_reader,
    client,
    database,
    hub_reader,
    publish,
    resume_reader,
    session,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

#: The default ``node_timeout_seconds`` (8) promises detection within this.
DETECTION_BOUND = 10.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, broker: str) -> Iterator[Cluster]:
    with database() as url:
        nodes = Cluster(Path(tmp_path_factory.mktemp("dead")), url, broker_url=broker)
        try:
            for node in ("a", "b", "c"):
                nodes.start(node)
            yield nodes
        finally:
            nodes.stop_all()


def _reply(url: str, token: str, message_id: str) -> dict[str, object]:
    with client(url, token) as http:
        page = http.get("/api/history", params={"chatbotId": "slow"}).json()["messages"]
    return next(m for m in page if m["id"] == message_id)


def test_survivors_end_a_dead_nodes_reply_for_live_readers(cluster: Cluster) -> None:
    a, b, c = cluster["a"], cluster["b"], cluster["c"]
    token, other = session(b.url), session(c.url)
    origin = chat_reader(a.url, token, LONG)
    bystander = chat_reader(c.url, other, " ".join(f"z{i}" for i in range(60)))
    try:
        message_id = json.loads(origin.wait_events(1)[0].data)["message"]["id"]
        watcher = resume_reader(b.url, token, message_id, "1-0")
        watcher.wait_events(10)
        # Killed after a checkpoint, so the store has some of the text too.
        poll(lambda: _reply(b.url, token, message_id)["content"], within=10,
             what="a checkpoint of the reply")
        cluster.kill("a")
        killed = time.monotonic()
        watcher.wait_ended(DETECTION_BOUND + 5)
        detected = time.monotonic() - killed
    finally:
        origin.close()
    print(f"dead node detected and its reply ended after {detected:.1f} s")
    assert detected <= DETECTION_BOUND + 2, detected  # slack for a loaded 2-core machine
    assert watcher.error is None and watcher.names[-2:] == ["message_delta", "message_stop"]
    assert json.loads(watcher.events[-2].data)["delta"]["rill_stop_reason"] == "interrupted"
    streamed = watcher.text
    assert 0 < len(streamed) < len(LONG) and LONG.startswith(streamed)
    reply = _reply(c.url, token, message_id)
    assert reply["status"] == "interrupted", reply["status"]
    assert reply["content"] == streamed, (len(str(reply["content"])), len(streamed), watcher.names)
    # A resume on another node, from the middle and from the end, agrees exactly.
    middle = watcher.events[len(watcher.events) // 2]
    rest = resume_reader(c.url, token, message_id, middle.id)
    rest.wait_ended(10)
    before = "".join(json.loads(e.data)["delta"]["text"] for e in watcher.events
                     if e.event == "content_block_delta" and e is not middle
                     and watcher.events.index(e) < watcher.events.index(middle))
    assert before + json.loads(middle.data).get("delta", {}).get("text", "") + rest.text == (
        streamed)
    assert [e.id for e in rest.events] == [e.id for e in watcher.events[
        watcher.events.index(middle) + 1:]]
    with client(c.url, token) as http:
        done = http.get(f"/api/chat/{message_id}/stream",
                        headers={"Last-Event-ID": watcher.events[-1].id})
    assert done.status_code == 204
    # The live node's reply was never touched, and the survivors keep serving.
    bystander.wait_ended(30)
    assert bystander.names[-1] == "message_stop"
    assert json.loads(bystander.events[-2].data)["delta"]["stop_reason"] == "end_turn"
    hub = hub_reader(c.url, ["after-crash"])
    try:
        hub.opened.wait(10)
        assert publish(b.url, "after-crash", "still here").status_code == 200
        assert hub.wait_events(1)[0].data == "still here"
    finally:
        hub.close()
    echo = chat_reader(b.url, token, "hello again", bot="echo")
    echo.wait_ended(15)
    assert echo.text == "hello again"
    for node in (b, c):
        assert httpx.get(f"{node.url}/readyz", timeout=10).status_code == 200


def test_a_node_restarted_under_its_id_ends_its_own_replies_at_once(cluster: Cluster) -> None:
    b = cluster["b"]
    token = session(b.url)
    origin = chat_reader(b.url, token, LONG)
    try:
        message_id = json.loads(origin.wait_events(1)[0].data)["message"]["id"]
        origin.wait_events(8)
    finally:
        cluster.kill("b")
        origin.close()
    restarted = cluster.start("b")
    reply = _reply(restarted.url, token, message_id)
    # Already ended by the restarted node's start-up, long before the survivors'
    # timeout could have found it.
    assert reply["status"] == "interrupted", reply["status"]
    assert LONG.startswith(str(reply["content"]))
    resumed = resume_reader(cluster["c"].url, token, message_id, None)
    resumed.wait_ended(10)
    assert resumed.text == reply["content"]
    assert json.loads(resumed.events[-2].data)["delta"]["rill_stop_reason"] == "interrupted"
