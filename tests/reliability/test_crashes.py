"""SIGKILL mid-generation and mid-publish, then restart.

Chat (SQLite; PostgreSQL with the memory broker; PostgreSQL with Redis): the store is
consistent, no reply is left ``streaming``, interrupted replies keep their
checkpointed text, and a resume ends them cleanly. What is *not* recoverable is said
plainly: text a client received after the last checkpoint (at most
``checkpoint_seconds`` of it) is not in the store.

Hub: with Redis every acknowledged update survives the crash and is replayed; with
the in-process broker retention lives in memory, so after a restart the hub answers a
pre-crash ``Last-Event-ID`` with ``earliest`` (telling the subscriber it may have
missed updates) rather than pretending nothing happened.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from rill.auth.tokens import TokenIssuer
from rill.sse import SSEDecoder
from tests.conftest import RunningServer, start_server
from tests.reliability.support import REDIS_URL, clean_redis, poll, postgres_database

SECRET = "crash-test-secret-0123456789abcdef-xyz"
CONFIG = '[[bots]]\nid = "slow"\nname = "Slow"\nprovider = "echo"\npace = 0.02\n'
USERS = 3
REPLIES_PER_USER = 2


@contextlib.contextmanager
def _engines(kind: str) -> Iterator[dict[str, str]]:
    env = {"RILL_JWT_SECRET": SECRET, "RILL_CHECKPOINT_SECONDS": "0.3",
           "RILL_NODE_ID": "crash-node", "RILL_CHAT_TURNS_PER_MINUTE": "0"}
    if kind == "sqlite":
        yield env
        return
    with postgres_database() as url:
        env["RILL_DATABASE_URL"] = url
        if kind == "postgres+redis":
            clean_redis()
            env["RILL_BROKER_URL"] = REDIS_URL
        yield env


class Reader(threading.Thread):
    """Reads one reply's stream until the server dies, keeping what arrived."""

    def __init__(self, url: str, token: str, message: str) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.message = url, token, message
        # One conversation per reply: concurrent turns in one conversation see each
        # other's questions (merged), which would blur what each reply should be.
        self.conversation = httpx.post(
            f"{url}/api/conversations", json={"chatbotId": "slow"}, timeout=10,
            headers={"Authorization": f"Bearer {token}"}).json()["id"]
        self.events: list = []
        self.message_id: str | None = None

    def run(self) -> None:
        decoder = SSEDecoder()
        with contextlib.suppress(httpx.HTTPError), httpx.Client(timeout=30) as client, \
                client.stream("POST", f"{self.url}/api/chat",
                              json={"chatbotId": "slow", "message": self.message,
                                    "conversationId": self.conversation},
                              headers={"Authorization": f"Bearer {self.token}"}) as r:
            self.message_id = r.headers.get("x-rill-message-id")
            for chunk in r.iter_raw():
                self.events += [e for e in decoder.feed(chunk) if e.event != "ping"]

    @property
    def text(self) -> str:
        return "".join(e.json()["delta"]["text"] for e in self.events
                       if e.event == "content_block_delta")


def _history(server: RunningServer, token: str) -> list[dict]:
    with server.client(headers={"Authorization": f"Bearer {token}"}) as c:
        return c.get("/api/history", params={"chatbotId": "slow", "limit": 100}).json()["messages"]


@pytest.mark.parametrize("kind", [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("postgres+redis", marks=[pytest.mark.postgres, pytest.mark.redis]),
])
def test_sigkill_mid_generation(tmp_path, kind) -> None:
    with _engines(kind) as env:
        data = tmp_path / "node"
        server = start_server(data, config=CONFIG, env=env)
        tokens = [TokenIssuer(SECRET).mint(f"user{u}", ttl=3600) for u in range(USERS)]
        readers: list[Reader] = []
        try:
            with server.client(headers={"Authorization": f"Bearer {tokens[0]}"}) as c, \
                    c.stream("POST", "/api/chat",
                             json={"chatbotId": "slow", "message": "done before"}) as r:
                r.read()
            for u in range(USERS):
                for n in range(REPLIES_PER_USER):
                    message = " ".join(f"u{u}r{n}w{i}" for i in range(400))
                    readers.append(Reader(server.url, tokens[u], message))
            for reader in readers:
                reader.start()
            # Mid-generation, and past a few checkpoints.
            poll(lambda: all(len(r.text) > 300 for r in readers), within=30, what="deltas")
            time.sleep(0.7)
        finally:
            server.stop(signal.SIGKILL)
        for reader in readers:
            reader.join(timeout=10)
        restarted = start_server(data, config=None, env=env,
                                 args=["--config", str(data / "rill.toml")])
        try:
            _check_after_restart(restarted, tokens, readers)
        finally:
            restarted.stop()


def _check_after_restart(server: RunningServer, tokens: list[str], readers: list[Reader]) -> None:
    beyond_checkpoint = 0
    for u, token in enumerate(tokens):
        messages = _history(server, token)
        assert not [m for m in messages if m["status"] == "streaming"], "left streaming"
        mine = [r for r in readers if r.message.startswith(f"u{u}r")]
        users = [m for m in messages if m["role"] == "user"]
        replies = {m["id"]: m for m in messages if m["role"] == "assistant"}
        assert len(replies) == len(users), "every question has exactly one reply row"
        assert {m["content"] for m in users} >= {r.message for r in mine}
        for reader in mine:
            reply = replies[reader.message_id]
            assert reply["status"] == "interrupted" and reply["stopReason"] == "interrupted"
            stored = reply["content"]
            assert stored and reader.message.startswith(stored), "checkpointed text kept"
            # Both are prefixes of the same reply: consistent, never contradictory.
            assert reader.text.startswith(stored) or stored.startswith(reader.text)
            beyond_checkpoint += max(0, len(reader.text) - len(stored))
            # A resume from where the client was ends the reply cleanly.
            with server.client(headers={"Authorization": f"Bearer {token}"}) as c:
                r = c.get(f"/api/chat/{reader.message_id}/stream",
                          headers={"Last-Event-ID": reader.events[-1].id})
            assert r.status_code == 200
            rest = SSEDecoder().feed(r.content)
            assert [e.event for e in rest][-2:] == ["message_delta", "message_stop"]
            assert rest[-2].json()["delta"]["rill_stop_reason"] == "interrupted"
            tail = "".join(e.json()["delta"]["text"] for e in rest
                           if e.event == "content_block_delta")
            assert (reader.text + tail).startswith(stored) or stored.startswith(reader.text)
    # The restarted node serves new turns.
    with server.client(headers={"Authorization": f"Bearer {tokens[0]}"}) as c, \
            c.stream("POST", "/api/chat", json={"chatbotId": "slow", "message": "after"}) as r:
        assert r.status_code == 200
        assert b"message_stop" in r.read()
    print(f"crash: {len(readers)} replies interrupted, all marked; "
          f"{beyond_checkpoint} chars had reached clients after the last checkpoint")


def _publisher(url: str, stop: threading.Event, acked: list[str]) -> None:
    token = TokenIssuer(SECRET).mint("pub", ttl=3600, mercure={"publish": ["*"]})
    with httpx.Client(base_url=url, timeout=5, headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/x-www-form-urlencoded"}) as client:
        i = 0
        while not stop.is_set() and i < 100_000:
            try:
                r = client.post("/.well-known/mercure",
                                content=urlencode({"topic": "crash/t", "data": str(i)}))
            except httpx.HTTPError:
                return
            if r.status_code == 200:
                acked.append(r.text)
            i += 1


def _publish_until_killed(server: RunningServer) -> list[list[str]]:
    stop = threading.Event()
    acked: list[list[str]] = [[], []]
    threads = [threading.Thread(target=_publisher, args=(server.url, stop, a)) for a in acked]
    for t in threads:
        t.start()
    poll(lambda: min(len(a) for a in acked) >= 100, within=30, what="publishes")
    server.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    return acked


def _replay(url: str, last_event_id: str, want: int, within: float = 20
            ) -> tuple[httpx.Headers, list[str]]:
    ids: list[str] = []
    with httpx.Client(timeout=within) as c, c.stream(
            "GET", f"{url}/.well-known/mercure", params={"match": "crash/t"},
            headers={"Last-Event-ID": last_event_id}) as r:
        decoder = SSEDecoder()
        deadline = time.monotonic() + within
        with contextlib.suppress(httpx.ReadTimeout):  # nothing (more) to replay
            for chunk in r.iter_raw():
                ids += [e.id for e in decoder.feed(chunk) if e.id]
                if len(ids) >= want or time.monotonic() > deadline:
                    break
        return r.headers, ids


@pytest.mark.redis
def test_sigkill_mid_publish_with_redis_loses_no_acknowledged_update(tmp_path) -> None:
    clean_redis()
    env = {"RILL_JWT_SECRET": SECRET, "RILL_BROKER_URL": REDIS_URL,
           "RILL_HUB__PUBLISHES_PER_SECOND": "0", "RILL_HUB__HEARTBEAT_SECONDS": "0.5"}
    data = tmp_path / "hub"
    acked = _publish_until_killed(start_server(data, env=env))
    restarted = start_server(data, env=env)
    try:
        total = sum(len(a) for a in acked)
        headers, ids = _replay(restarted.url, "earliest", total)
        assert headers["last-event-id"] == "earliest"
        position = {update_id: i for i, update_id in enumerate(ids)}
        for mine in acked:
            assert all(update_id in position for update_id in mine), "an acked update was lost"
            assert [position[i] for i in mine] == sorted(position[i] for i in mine)
        # A subscriber that was mid-stream resumes from its last id with nothing missing.
        resume_from = acked[0][len(acked[0]) // 2]
        headers, rest = _replay(restarted.url, resume_from, len(ids) - position[resume_from] - 1)
        assert headers["last-event-id"] == resume_from
        assert rest == ids[position[resume_from] + 1:]
        print(f"hub crash (redis): {total} acknowledged updates, all replayed after SIGKILL")
    finally:
        restarted.stop()


def test_sigkill_mid_publish_with_memory_broker_says_what_was_lost(tmp_path) -> None:
    env = {"RILL_JWT_SECRET": SECRET, "RILL_HUB__PUBLISHES_PER_SECOND": "0"}
    data = tmp_path / "hub"
    acked = _publish_until_killed(start_server(data, env=env))
    restarted = start_server(data, env=env)
    try:
        # Retention was in the dead process's memory: the id is unknown, and the hub
        # says so (``earliest``) instead of resuming as if nothing was missed.
        headers, ids = _replay(restarted.url, acked[0][-1], 1, within=1)
        assert headers["last-event-id"] == "earliest"
        assert headers["mercure-last-event-id"] == "earliest"
        assert ids == []
    finally:
        restarted.stop()
