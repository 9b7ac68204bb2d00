"""Several real ``rill serve`` nodes sharing one Redis and one PostgreSQL database.

Each node has its own port, data dir and ``RILL_NODE_ID``; all share one
``RILL_SESSION_SECRET``, so a session minted on one node is valid on every other
(embedded mode stays on), and hub tokens are signed with the same key.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # ships no type information
import httpx
import jwt

from rill.sse import ServerSentEvent, SSEDecoder
from tests.conftest import POSTGRES_URL, RunningServer, start_server
from tests.redis_topologies import CLUSTER_URL, SENTINEL_URL, clear, require

#: Database 13 of the machine's Redis is this suite's own (other suites use others).
REDIS_URL = "redis://127.0.0.1:6379/13"
#: The Redis set-ups the cross-node suites run on (the ``broker_url`` fixture).
BROKER_URLS = {"redis": REDIS_URL, "redis-cluster": CLUSTER_URL, "redis-sentinel": SENTINEL_URL}
SECRET = "multi-node-session-secret-0123456789abcdef"
CONFIG = """
[[bots]]
id = "echo"
name = "Echo"
provider = "echo"
model = "echo"
pace = 0.005

[[bots]]
id = "slow"
name = "Slow echo"
provider = "echo"
model = "echo"
pace = 0.05
"""
#: A message the slow bot needs ~15 s to echo: long enough to act mid-reply.
LONG = " ".join(f"w{i}" for i in range(300))


def admin_url(database: str) -> str:
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + database


async def create_database(name: str, options: str = "") -> str:
    conn = await asyncpg.connect(admin_url("postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}" {options}')
    finally:
        await conn.close()
    return admin_url(name)


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(admin_url("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.contextmanager
def database(options: str = "") -> Iterator[str]:
    import asyncio

    name = f"rill_nodes_{uuid.uuid4().hex[:10]}"
    url = asyncio.run(create_database(name, options))
    try:
        yield url
    finally:
        asyncio.run(drop_database(name))


@contextlib.asynccontextmanager
async def async_database(options: str = "") -> AsyncIterator[str]:
    name = f"rill_nodes_{uuid.uuid4().hex[:10]}"
    url = await create_database(name, options)
    try:
        yield url
    finally:
        await drop_database(name)


def clear_redis(url: str = REDIS_URL) -> None:
    clear(url)


def broker_url(kind: str) -> str:
    """The URL of one of ``BROKER_URLS``, skipping when that set-up is not running."""
    url = BROKER_URLS[kind]
    if kind != "redis":
        require(url)
    return url


def hub_token(publish: list[str] | None = None, subscribe: list[str] | None = None) -> str:
    claims = {"mercure": {"publish": publish or [], "subscribe": subscribe or []},
              "exp": int(time.time() + 3600)}
    return jwt.encode(claims, SECRET, algorithm="HS256")


PUBLISHER = hub_token(publish=["*"])


@dataclass
class Cluster:
    root: Path
    database_url: str
    broker_url: str = REDIS_URL
    extra_env: dict[str, str] = field(default_factory=dict)
    nodes: dict[str, RunningServer] = field(default_factory=dict)

    def env(self, node_id: str) -> dict[str, str]:
        return {
            "RILL_BROKER_URL": self.broker_url,
            "RILL_DATABASE_URL": self.database_url,
            "RILL_NODE_ID": node_id,
            "RILL_SESSION_SECRET": SECRET,
            "RILL_LOG_LEVEL": "info",
            **self.extra_env,
        }

    def start(self, node_id: str, *, port: int | None = None) -> RunningServer:
        server = start_server(self.root / node_id, env=self.env(node_id), config=CONFIG,
                              port=port)
        self.nodes[node_id] = server
        return server

    def __getitem__(self, node_id: str) -> RunningServer:
        return self.nodes[node_id]

    def kill(self, node_id: str) -> None:
        self.nodes[node_id].stop(signal.SIGKILL)

    def stop_all(self) -> None:
        for server in self.nodes.values():
            server.stop()


def session(cluster_or_url: str) -> str:
    response = httpx.post(f"{cluster_or_url}/api/session", timeout=10)
    response.raise_for_status()
    return str(response.json()["token"])


def client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"})


def wait_for(condition: Callable[[], Any], within: float, step: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        time.sleep(step)


class Reader:
    """Reads one SSE response on a thread, collecting events, until closed or ended.

    Why a thread: several live streams on several nodes must be read at once
    while the test goes on publishing, cancelling or killing nodes.
    """

    def __init__(self, method: str, url: str, *, headers: dict[str, str] | None = None,
                 params: Any = None, json_body: Any = None,
                 stop_after: Callable[[list[ServerSentEvent]], bool] | None = None) -> None:
        self.events: list[ServerSentEvent] = []
        self.status: int | None = None
        self.headers: httpx.Headers | None = None
        self.ended = threading.Event()
        self.opened = threading.Event()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._socket: socket.socket | None = None
        self._stop_after = stop_after
        self._client = httpx.Client(timeout=httpx.Timeout(60, connect=10))
        self._args = (method, url, headers or {}, params, json_body)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        method, url, headers, params, body = self._args
        decoder = SSEDecoder()
        try:
            with self._client.stream(method, url, headers=headers, params=params,
                                     json=body) as response:
                self._socket = response.extensions["network_stream"].get_extra_info("socket")
                self.status, self.headers = response.status_code, response.headers
                self.opened.set()
                for chunk in response.iter_raw():
                    self.events += [e for e in decoder.feed(chunk) if e.event != "ping"]
                    if self._stop.is_set() or (self._stop_after and self._stop_after(self.events)):
                        return
        except BaseException as exc:  # noqa: BLE001 - reported to the test through .error
            if not self._stop.is_set():
                self.error = exc
        finally:
            # Why here: a stream that ends by itself must not leave its socket to the
            # garbage collector (a ResourceWarning, which the suite treats as an error).
            self._client.close()
            self.opened.set()
            self.ended.set()

    def close(self) -> None:
        """Drop the connection, as a client going away does."""
        self._stop.set()
        # Why shutdown: it wakes the reading thread (blocked in recv) with an EOF, so
        # the thread itself closes the response; closing it from here would race it.
        if self._socket is not None and not self.ended.is_set():
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)

    def wait_events(self, count: int, within: float = 15) -> list[ServerSentEvent]:
        wait_for(lambda: len(self.events) >= count or self.ended.is_set(), within)
        assert len(self.events) >= count, (len(self.events), self.error, self.status)
        return self.events[:count]

    def wait_ended(self, within: float) -> None:
        assert self.ended.wait(within), f"stream still open after {within} s"

    @property
    def names(self) -> list[str]:
        return [e.event for e in self.events]

    @property
    def text(self) -> str:
        return "".join(json.loads(e.data)["delta"]["text"] for e in self.events
                       if e.event == "content_block_delta")


def chat_reader(url: str, token: str, message: str, bot: str = "slow", **extra: Any) -> Reader:
    return Reader("POST", f"{url}/api/chat", headers={"Authorization": f"Bearer {token}",
                  "Accept": "text/event-stream"},
                  json_body={"chatbotId": bot, "message": message, **extra})


def resume_reader(url: str, token: str, message_id: str, last_event_id: str | None) -> Reader:
    headers = {"Authorization": f"Bearer {token}"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    return Reader("GET", f"{url}/api/chat/{message_id}/stream", headers=headers)


def hub_reader(url: str, topics: list[str], last_event_id: str | None = None) -> Reader:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    return Reader("GET", f"{url}/.well-known/mercure", headers=headers,
                  params=[("topic", t) for t in topics])


def publish(url: str, topic: str, data: str) -> httpx.Response:
    return httpx.post(f"{url}/.well-known/mercure", data={"topic": topic, "data": data},
                      headers={"Authorization": f"Bearer {PUBLISHER}"}, timeout=10)
