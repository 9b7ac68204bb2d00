"""Request heads are bounded in size (431) and in time (408), for the API and the hub alike.

Issue 13: 150 connections trickling one header byte every 2 s stayed open for ever,
20 unterminated 4 MiB headers were all buffered (+80 MiB RSS), and a complete
8 MiB header was processed (401, not 431).
"""

from __future__ import annotations

import contextlib
import json
import socket
import time

import pytest

from tests.reliability.support import rss_bytes

ENV = {"RILL_HEADER_TIMEOUT_SECONDS": "1.5", "RILL_MAX_HEADER_BYTES": "16384"}
PATHS = ["/api/me", "/.well-known/mercure?topic=x"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from tests.conftest import start_server

    running = start_server(tmp_path_factory.mktemp("heads"), env=ENV)
    yield running
    running.stop()


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _read_all(sock: socket.socket, within: float = 10) -> bytes:
    """Everything until the server closes (fails if it does not within ``within``)."""
    sock.settimeout(within)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def _status_and_problem(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.lower().split(b": ", 1) for line in lines[1:])
    assert headers[b"content-type"] == b"application/problem+json", headers
    assert headers[b"connection"] == b"close"
    return status, json.loads(body)


@pytest.mark.parametrize("path", PATHS)
def test_a_trickled_head_is_cut_at_the_deadline(server, path: str) -> None:
    sock = _connect(server.port)
    started = time.monotonic()
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode())
    sock.settimeout(0.3)
    answer = b""
    while time.monotonic() - started < 8:
        try:
            sock.send(b"a")
            answer = sock.recv(65536)
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            break
        if answer:
            break
    elapsed = time.monotonic() - started
    sock.close()
    assert 1.2 <= elapsed < 4, f"cut after {elapsed:.1f}s (deadline 1.5s)"
    if answer:
        status, problem = _status_and_problem(answer)
        assert status == 408 and problem["status"] == 408


def test_a_silent_connection_is_closed_at_the_deadline(server) -> None:
    with _connect(server.port) as sock:
        started = time.monotonic()
        raw = _read_all(sock)
    elapsed = time.monotonic() - started
    assert 1.2 <= elapsed < 4
    assert _status_and_problem(raw)[0] == 408


@pytest.mark.parametrize("path", PATHS)
def test_a_huge_complete_header_gets_431(server, path: str) -> None:
    sock = _connect(server.port)
    header = b"Authorization: Bearer " + b"a" * (8 * 1024 * 1024) + b"\r\n"
    # Refused while still sending: the answer is already in our buffer.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n".encode() + header + b"\r\n")
    status, problem = _status_and_problem(_read_all(sock))
    sock.close()
    assert status == 431 and problem["status"] == 431
    assert "16384" in str(problem["detail"])


def test_a_head_just_over_the_bound_in_one_read_gets_431(server) -> None:
    """Complete and small enough to arrive in one read: the bound is exact, not per read."""
    sock = _connect(server.port)
    sock.sendall(b"GET /api/bots HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 17000 + b"\r\n\r\n")
    status, _ = _status_and_problem(_read_all(sock))
    sock.close()
    assert status == 431


def test_heads_under_the_bound_are_served_on_one_keep_alive_connection(server) -> None:
    """The bound is per request: three 12 KiB heads pipelined in one write are all served."""
    request = b"GET /api/bots HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 12000 + b"\r\n\r\n"
    sock = _connect(server.port)
    sock.sendall(request * 3)
    sock.settimeout(5)
    data = b""
    while data.count(b"HTTP/1.1 200") < 3:
        chunk = sock.recv(65536)
        assert chunk, data[:300]
        data += chunk
    sock.close()
    assert b"431" not in data.split(b"\r\n", 1)[0]


def test_unterminated_huge_headers_do_not_grow_memory(server) -> None:
    """20 connections each sending 4 MiB of one header without ever ending it."""
    before = rss_bytes(server.process.pid)
    socks = []
    answers = 0
    blob = b"a" * (4 * 1024 * 1024)
    for _ in range(20):
        sock = _connect(server.port)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"GET /api/me HTTP/1.1\r\nHost: x\r\nX-Flood: " + blob)
        socks.append(sock)
    for sock in socks:
        raw = _read_all(sock)
        if raw:
            assert _status_and_problem(raw)[0] == 431
            answers += 1
        sock.close()
    grown = rss_bytes(server.process.pid) - before
    assert answers >= 1
    assert grown < 16 * 1024 * 1024, f"RSS grew by {grown / 2**20:.1f} MiB"
