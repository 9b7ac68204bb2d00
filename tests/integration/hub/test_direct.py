"""Subscriptions served by ``HubStreamProtocol`` (hub/direct.py): no task per
subscriber, the same bytes as the ASGI path, replay, slow and gone subscribers,
shutdown. The in-process servers share the test's event loop, so the tests can
count the loop's tasks; ``rill serve`` is checked through its /metrics.
"""

from __future__ import annotations

import asyncio
import re
import socket
from urllib.parse import quote

import httpx
import pytest
import uvicorn

from rill.config import Settings
from rill.http.app import create_app
from rill.http.protocol import ServerProtocol
from tests.conftest import free_port
from tests.integration.hub.conftest import HubServer, subscribe, wait_until
from tests.reliability.support import poll

END = b"0\r\n\r\n"


async def _open(server: HubServer, query: str, extra: bytes = b"") -> tuple[
    asyncio.StreamReader, asyncio.StreamWriter, bytes
]:
    """A raw subscription (no client-side task): the reader, the writer and the head."""
    port = int(server.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /.well-known/mercure?{query} HTTP/1.1\r\nHost: x\r\n".encode() + extra + b"\r\n"
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    return reader, writer, head


async def _read_until(reader: asyncio.StreamReader, marker: bytes, within: float = 5) -> bytes:
    data = b""
    async with asyncio.timeout(within):
        while marker not in data:
            more = await reader.read(65536)
            if not more:
                break
            data += more
    return data


def _undated(head: bytes) -> bytes:
    return re.sub(rb"date: [^\r]*\r\n", b"", head)


async def test_subscribers_hold_no_task(hub_factory) -> None:
    server: HubServer = await hub_factory()
    before = len(asyncio.all_tasks())
    conns = [await _open(server, "match=t") for _ in range(50)]
    await wait_until(lambda: len(server.hub.registry) == 50)
    # uvicorn's request tasks, and every task in the (shared) loop: none per subscriber.
    assert not server.server.server_state.tasks
    assert len(asyncio.all_tasks()) - before < 5
    await server.publish("t", "hello-direct")
    for reader, _, _ in conns:
        assert b"data: hello-direct" in await _read_until(reader, b"hello-direct")
    for _, writer, _ in conns:
        writer.close()
    await wait_until(lambda: len(server.hub.registry) == 0)


APP = "http://app.example"
EVIL = "http://evil.example"


@pytest.mark.parametrize("origins", [[], [APP], ["*"]], ids=["no-cors", "listed", "any"])
async def test_same_bytes_as_the_asgi_path(hub_factory, origins: list[str]) -> None:
    direct: HubServer = await hub_factory(cors_origins=origins)
    asgi: HubServer = await hub_factory(direct=False, cors_origins=origins)
    heads = []
    for server in (direct, asgi):
        first = (await server.publish("t", "n")).text.encode()
        _, writer, head = await _open(server, "match=t", b"Last-Event-ID: " + first + b"\r\n")
        writer.close()
        heads.append(_undated(head).replace(first, b"<id>"))
        _, writer, head = await _open(server, "match=t", b"Connection: close\r\n")
        writer.close()
        heads.append(_undated(head))
        for origin in (APP, EVIL):
            _, writer, head = await _open(server, "match=t", f"Origin: {origin}\r\n".encode())
            writer.close()
            heads.append(_undated(head))
    assert heads[:4] == heads[4:]
    assert b"last-event-id: <id>\r\n" in heads[0]
    assert b"connection: close\r\n" in heads[1]
    allowed, refused = heads[2], heads[3]
    if not origins:
        # No origins configured: not one byte more than before, whatever the Origin.
        assert allowed == refused == heads[1].replace(b"connection: close\r\n", b"")
    elif origins == ["*"]:
        assert allowed == refused
        assert b"access-control-allow-origin: *\r\n" in allowed
        assert b"access-control-allow-credentials" not in allowed
    else:
        assert f"access-control-allow-origin: {APP}\r\n".encode() in allowed
        assert b"access-control-allow-credentials: true\r\n" in allowed
        assert b"vary: Origin\r\n" in allowed
        assert b"access-control-" not in refused
    # Setup errors take the ASGI path: the same problem+json, challenge and CORS headers.
    answers = []
    for server in (direct, asgi):
        async with server.client() as c:
            r = await c.get("/.well-known/mercure", params={"match": "t"},
                            headers={"Origin": APP, "Authorization": "Bearer x"})
            challenge = r.headers["www-authenticate"].replace(server.url, "<hub>")
            cors = {k: v for k, v in r.headers.items() if k.startswith("access-control-")}
            answers.append((r.status_code, challenge, r.content, cors))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401
    assert bool(answers[0][3]) == bool(origins)


async def test_replay_through_the_direct_path(hub_factory) -> None:
    server: HubServer = await hub_factory()
    # ~600 KiB retained: a replay of several bounded chunks, then live updates.
    payload = "x" * 2000
    ids = [(await server.publish("feed", f"{i} {payload}")).text for i in range(300)]
    async with server.client() as c, subscribe(c, {"match": "feed"}, {"Last-Event-ID": ids[9]}) as s:
        assert s.response.headers["last-event-id"] == ids[9]
        assert [e.id for e in await s.take(290)] == ids[10:]
        live = (await server.publish("feed", "live")).text
        assert (await s.next()).id == live
        assert not server.server.server_state.tasks


async def _stuck_subscriber(server: HubServer) -> socket.socket:
    """A subscriber that never reads, with a tiny receive window."""
    port = int(server.url.rsplit(":", 1)[1])
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(stuck, ("127.0.0.1", port))
    await loop.sock_sendall(stuck, b"GET /.well-known/mercure?match=big HTTP/1.1\r\nHost: x\r\n\r\n")
    return stuck


async def _closed_by_server(sock: socket.socket, within: float = 5) -> bool:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(within):
            while await loop.sock_recv(sock, 1 << 20):
                pass
    except ConnectionResetError:
        pass
    return True


async def test_over_its_bound_a_paused_subscriber_is_cut_off(hub_factory) -> None:
    server: HubServer = await hub_factory(max_buffer_bytes=64 * 1024)
    stuck = await _stuck_subscriber(server)
    payload = "x" * 32 * 1024
    try:
        async with server.client() as c, subscribe(c, {"match": "big"}) as healthy:
            await wait_until(lambda: len(server.hub.registry) == 2)
            for i in range(300):
                await server.publish("big", payload + str(i))
                assert (await healthy.next()).data == payload + str(i)
                if len(server.hub.registry) == 1:
                    break
            assert len(server.hub.registry) == 1, "the stuck subscriber should be dropped"
            assert await _closed_by_server(stuck)
            await server.publish("big", "still flowing")
            assert (await healthy.next()).data == "still flowing"
            assert not server.server.server_state.tasks
    finally:
        stuck.close()


async def test_a_paused_subscriber_is_dropped_after_the_write_timeout(hub_factory) -> None:
    server: HubServer = await hub_factory(
        write_timeout_seconds=1, max_buffer_bytes=64 * 1024 * 1024
    )
    stuck = await _stuck_subscriber(server)
    try:
        await wait_until(lambda: len(server.hub.registry) == 1)
        (conn,) = server.hub.registry.connections
        payload = "x" * 32 * 1024
        for _ in range(400):  # until its socket is full and the transport pauses
            await server.publish("big", payload)
            await asyncio.sleep(0)
            if conn.blocked_since:
                break
        assert conn.blocked_since, "the transport should have paused"
        await wait_until(lambda: len(server.hub.registry) == 0, within=4)
        assert conn.closed == "stalled"
        assert await _closed_by_server(stuck)
    finally:
        stuck.close()


async def test_hub_close_and_server_shutdown_end_streams_cleanly(hub_factory) -> None:
    server: HubServer = await hub_factory()
    reader, writer, _ = await _open(server, "match=t")
    # A pipelined request behind the stream is never answered: the connection closes.
    other, other_writer, _ = await _open(server, "match=t")
    other_writer.write(b"GET /.well-known/mercure?match=u HTTP/1.1\r\nHost: x\r\n\r\n")
    await wait_until(lambda: len(server.hub.registry) == 2)
    await asyncio.sleep(0.1)  # read by the server (closing on unread input would reset)
    for protocol in list(server.server.server_state.connections):
        protocol.shutdown()  # what uvicorn's graceful shutdown calls
    for stream in (reader, other):
        data = await _read_until(stream, b"\x00never")
        assert data.endswith(b"\r\n" + END)
        assert b"HTTP/1.1" not in data
    assert len(server.hub.registry) == 0
    third, third_writer, _ = await _open(server, "match=t")
    await wait_until(lambda: len(server.hub.registry) == 1)
    await server.hub.close(deadline=2)
    assert (await _read_until(third, b"\x00never")).endswith(END)
    for w in (writer, other_writer, third_writer):
        w.close()


def _open_streams(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    found = re.search(r'^rill_sse_connections\{kind="hub"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_rill_serve_counts_streams_and_forgets_gone_ones(server_factory) -> None:
    server = server_factory()
    socks = []
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"GET /.well-known/mercure?match=" + quote("t").encode()
                     + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")
        socks.append(sock)
    poll(lambda: _open_streams(server.url) == 3, within=5, what="3 open streams")
    socks.pop().close()
    poll(lambda: _open_streams(server.url) == 2, within=5, what="2 open streams")
    for sock in socks:
        sock.close()
    poll(lambda: _open_streams(server.url) == 0, within=5, what="no open stream")


async def test_rill_serves_protocol_finds_the_apps_hub(tmp_path) -> None:
    """``rill serve``'s protocol (http/protocol.py) hands the app's hub to the direct path."""
    port = free_port()
    app = create_app(Settings(data_dir=tmp_path))
    server = uvicorn.Server(
        uvicorn.Config(app, port=port, http=ServerProtocol, log_level="warning", lifespan="on")
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            user = (await client.post("/api/session")).json()["userId"]
            params = {"match": f"users/{user}/notifications"}
            async with client.stream("GET", "/.well-known/mercure", params=params) as response:
                assert response.status_code == 200
                hub = app.state.services.hub
                await wait_until(lambda: len(hub.registry) == 1)
                (conn,) = hub.registry.connections
                assert isinstance(conn.owner, ServerProtocol)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
