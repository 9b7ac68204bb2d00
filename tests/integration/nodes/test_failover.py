"""A Sentinel failover mid-traffic: the Redis primary is killed while two nodes
publish hub updates and generate a chat reply. With ``broker_wait_replicas = 1``
every acknowledged update is delivered or replayed after the failover; publishing
works again on the new primary; the reply ends in a final state, never stuck
``streaming``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.redis_topologies import SENTINEL_URL, clear, require, sentinel_primary

from .cluster import (
    LONG,
    Cluster,
    chat_reader,
    client,
    database,
    hub_reader,
    publish,
    session,
    wait_for,
)

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


def primary_port() -> int:
    primary = sentinel_primary(SENTINEL_URL)
    try:
        return int(primary.connection_pool.connection_kwargs["port"])
    finally:
        primary.close()


def replicas_in_sync(port: int) -> bool:
    """The primary on ``port`` has a replica that is online."""
    with redis.Redis(port=port, socket_timeout=1, decode_responses=True) as primary:
        info = primary.info("replication")
    # redis-py parses each "slaveN:ip=…,state=…" line into a dict.
    return any(isinstance(v, dict) and v.get("state") == "online" for v in info.values())


def start_topologies() -> None:
    """Start whatever server of the set-ups is down (idempotent)."""
    subprocess.run([str(ROOT / "scripts/redis-topologies.sh"), "start"], check=True,
                   capture_output=True)


@pytest.fixture
def sentinel_nodes(tmp_path: Path) -> Iterator[Cluster]:
    require(SENTINEL_URL)
    wait_for(lambda: replicas_in_sync(primary_port()), 30)
    clear(SENTINEL_URL)
    with database() as url:
        cluster = Cluster(tmp_path, url, broker_url=SENTINEL_URL, extra_env={
            "RILL_BROKER_WAIT_REPLICAS": "1", "RILL_BROKER_WAIT_TIMEOUT_SECONDS": "2"})
        try:
            for node in ("a", "b"):
                cluster.start(node)
            yield cluster
        finally:
            cluster.stop_all()
            # Bring the killed server back (as a replica of the new primary, which
            # the sentinels arrange) for whatever runs next.
            start_topologies()
            wait_for(lambda: replicas_in_sync(primary_port()), 60, step=0.5)
            clear(SENTINEL_URL)


def test_a_primary_killed_mid_traffic_loses_no_acknowledged_update(
    sentinel_nodes: Cluster,
) -> None:
    a, b = sentinel_nodes["a"], sentinel_nodes["b"]
    live = {n: hub_reader(sentinel_nodes[n].url, ["fo"]) for n in ("a", "b")}
    token = session(a.url)
    reply = chat_reader(a.url, token, LONG)
    acked: list[str] = []
    refused = 0
    stop = threading.Event()

    def publisher() -> None:
        nonlocal refused
        i = 0
        while not stop.is_set():
            i += 1
            try:
                status = publish(b.url, "fo", f"u{i}").status_code
            except httpx.HTTPError:
                status = 0
            if status == 200:
                acked.append(f"u{i}")
            else:
                refused += 1
            time.sleep(0.02)

    thread = threading.Thread(target=publisher, daemon=True)
    try:
        for reader in live.values():
            reader.opened.wait(10)
        message_id = json.loads(reply.wait_events(1)[0].data)["message"]["id"]
        thread.start()
        wait_for(lambda: len(acked) >= 20, 20)
        old = primary_port()
        with redis.Redis(port=old, decode_responses=True) as primary:
            pid = int(primary.info("server")["process_id"])
        os.kill(pid, signal.SIGKILL)
        killed, before = time.monotonic(), len(acked)
        wait_for(lambda: primary_port() != old, 30, step=0.2)
        promoted = time.monotonic() - killed
        # The promoted replica has no replica of its own until the dead server is
        # back (the sentinels make it one): until then WAIT 1 cannot be met, and
        # every publish is refused rather than acknowledged unsafely.
        start_topologies()
        wait_for(lambda: len(acked) >= before + 20, 45, step=0.2)
        recovered = time.monotonic() - killed
        stop.set()
        thread.join(10)
        print(f"failover: replica promoted after {promoted:.1f} s, "
              f"publishing back after {recovered:.1f} s; "
              f"{len(acked)} acknowledged, {refused} refused")

        # Every acknowledged update reached the live readers or is replayed.
        first = live["a"].wait_events(1)[0]
        replay = hub_reader(a.url, ["fo"], last_event_id=first.id)
        try:
            for reader in (*live.values(), replay):
                wait_for(lambda r=reader: set(acked) <= {e.data for e in r.events}  # type: ignore[misc]
                         | {first.data} or r.ended.is_set(), 20)
            for name, reader in live.items():
                got = {e.data for e in reader.events} | {e.data for e in replay.events}
                missing = [u for u in acked if u not in got]
                assert not missing, (name, missing[:10], len(missing))
        finally:
            replay.close()

        # The reply in flight ends in a final state, with its text.
        reply.wait_ended(60)
        with client(a.url, token) as http:
            page = http.get("/api/history", params={"chatbotId": "slow"}).json()["messages"]
        stored = next(m for m in page if m["id"] == message_id)
        assert stored["status"] in ("complete", "interrupted"), stored["status"]
        assert LONG.startswith(stored["content"]) and stored["content"], len(stored["content"])
    finally:
        stop.set()
        reply.close()
        for reader in live.values():
            reader.close()
