"""Hostile input: each answered with the right 4xx (or the connection closed), never a
crash, a 5xx or unbounded memory. The server must be healthy after every case."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from rill.auth.tokens import TokenIssuer
from tests.conftest import RunningServer, start_server
from tests.reliability.support import raw_connect, read_until_closed, rss_bytes

SECRET = "bad-input-secret-0123456789abcdef-xyz"
BODY_TIMEOUT = 2.0
ECHO = '[[bots]]\nid = "echo"\nname = "Echo"\nprovider = "echo"\npace = 0\n'


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[RunningServer]:
    s = start_server(tmp_path_factory.mktemp("bad-input"), config=ECHO, env={
        "RILL_JWT_SECRET": SECRET, "RILL_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "RILL_HUB__MAX_DATA_BYTES": "65536", "RILL_CHAT_TURNS_PER_MINUTE": "0"})
    yield s
    s.stop()


@pytest.fixture
def healthy(server: RunningServer) -> Iterator[RunningServer]:
    yield server
    assert server.process.poll() is None, "the server died"
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


def _user(server: RunningServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {TokenIssuer(SECRET).mint('mallory', ttl=600)}"}


PUBLISHER = TokenIssuer(SECRET).mint("pub", ttl=3600, mercure={"publish": ["*"]})
FORM = {"Authorization": f"Bearer {PUBLISHER}", "Content-Type": "application/x-www-form-urlencoded"}


def test_oversized_bodies(healthy) -> None:
    url = healthy.url
    big = b'{"chatbotId":"echo","message":"' + b"x" * 200_000 + b'"}'
    r = httpx.post(f"{url}/api/chat", content=big, headers={**_user(healthy),
                   "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as it arrives
        yield b'{"chatbotId":"echo","message":"'
        for _ in range(50):
            yield b"y" * 8192
        yield b'"}'

    r = httpx.post(f"{url}/api/chat", content=chunks(), headers={**_user(healthy),
                   "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 413
    r = httpx.post(f"{url}/.well-known/mercure", headers=FORM, timeout=10,
                   content=urlencode({"topic": "t", "data": "z" * 200_000}))
    assert r.status_code == 413


def test_too_many_topics_and_huge_patterns(healthy) -> None:
    url = healthy.url
    form = [("topic", f"t/{i}") for i in range(500)] + [("data", "x")]
    assert httpx.post(f"{url}/.well-known/mercure", content=urlencode(form), headers=FORM,
                      timeout=10).status_code == 400
    params = [("match", f"t/{i}") for i in range(500)]
    assert httpx.get(f"{url}/.well-known/mercure", params=params, timeout=10).status_code == 400
    long_pattern = "https://example.com/" + "/:p{(a|b)}" * 400
    assert httpx.get(f"{url}/.well-known/mercure", params={"match_urlpattern": long_pattern},
                     timeout=10).status_code == 400
    # A request line far beyond any limit: refused or closed, never a crash.
    sock = raw_connect(healthy.port, b"GET /.well-known/mercure?match=" + b"a" * 200_000
                       + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    try:
        answer = read_until_closed(sock, within=10)
    except (BrokenPipeError, ConnectionResetError):
        answer = b""
    finally:
        sock.close()
    assert not answer or 400 <= int(answer.split(b" ", 2)[1]) < 500, answer[:100]


def test_backtracking_url_pattern_cannot_stall_the_hub(healthy) -> None:
    """``(a+)+$`` against ``aaaa…!`` is exponential for a backtracking regex engine."""
    url = healthy.url
    pattern = "https://example.com/:x((a+)+$)"
    with httpx.Client(timeout=10) as c, c.stream(
            "GET", f"{url}/.well-known/mercure", params={"match_urlpattern": pattern}) as r:
        if r.status_code == 400:
            return  # refused up front: fine
        assert r.status_code == 200
        started = time.monotonic()
        topic = "https://example.com/" + "a" * 40 + "!"
        assert httpx.post(f"{url}/.well-known/mercure", headers=FORM, timeout=10,
                          content=urlencode({"topic": topic, "data": "x"})).status_code == 200
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        assert time.monotonic() - started < 3, "matching stalled the event loop"


def test_deeply_nested_json_and_invalid_utf8(healthy) -> None:
    url, user = healthy.url, _user(healthy)
    json_headers = {**user, "Content-Type": "application/json"}
    for body in (
        b'{"chatbotId":' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b'{"chatbotId":"echo","message":' + b'{"a":' * 6000 + b"1" + b"}" * 6000 + b"}",
        b'{"chatbotId":"echo","message":"\xff\xfe bad bytes"}',
        b"\xef\xbb\xbf\xff" * 100,
    ):
        r = httpx.post(f"{url}/api/chat", content=body, headers=json_headers, timeout=10)
        assert r.status_code in (400, 413, 422), (r.status_code, r.text[:200])
        assert r.headers["content-type"].startswith("application/problem+json")
    r = httpx.post(f"{url}/api/conversations", content=b'{"chatbotId":"echo","title":"\xc3"}',
                   headers=json_headers, timeout=10)
    assert r.status_code in (400, 422)
    # Invalid UTF-8 in a hub query string and in a publish body.
    r = httpx.get(f"{url}/.well-known/mercure?match=%FF%FE", timeout=10)
    assert r.status_code == 400
    r = httpx.post(f"{url}/.well-known/mercure", headers=FORM, timeout=10,
                   content=b"topic=t&data=%C3%28")
    assert r.status_code == 400
    # Raw non-UTF-8 bytes in a header that is parsed as an event id.
    sock = raw_connect(healthy.port, b"GET /api/chat/msg_x/stream HTTP/1.1\r\nHost: x\r\n"
                       b"Authorization: " + user["Authorization"].encode() +
                       b"\r\nLast-Event-ID: \xff\xfe\r\nConnection: close\r\n\r\n")
    answer = read_until_closed(sock, within=10)
    sock.close()
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:200]


def _trickle(port: int, path: str, headers: bytes, stop: threading.Event) -> bytes:
    sock = raw_connect(port, f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                       .encode() + headers + b"\r\n")
    try:
        for _ in range(100):  # bounded: at most 100 bytes, one per 0.25 s
            if stop.is_set():
                break
            try:
                sock.sendall(b"a")
            except OSError:
                break
            sock.settimeout(0.25)
            try:
                first = sock.recv(65536)
            except TimeoutError:
                continue
            except ConnectionResetError:
                return b""
            return first + read_until_closed(sock, within=5)
        return b""
    finally:
        sock.close()


def test_slowloris_bodies_get_408_and_memory_stays_bounded(healthy) -> None:
    """Many clients trickling their bodies: each is answered 408 once the body deadline
    passes, and holding them costs the server little memory."""
    stop = threading.Event()
    answers: list[bytes] = []
    before = rss_bytes(healthy.process.pid)
    auth = f"Authorization: {_user(healthy)['Authorization']}\r\n".encode()
    jobs = [("/api/chat", auth + b"Content-Type: application/json\r\n")] * 40 + [
        ("/.well-known/mercure", f"Authorization: Bearer {PUBLISHER}\r\n".encode()
         + b"Content-Type: application/x-www-form-urlencoded\r\n")] * 40

    def run(path: str, headers: bytes) -> None:
        answers.append(_trickle(healthy.port, path, headers, stop))

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    started = time.monotonic()
    for t in threads:
        t.start()
    deadline = time.monotonic() + BODY_TIMEOUT + 25
    for t in threads:
        t.join(timeout=max(0.1, deadline - time.monotonic()))
    stop.set()
    elapsed = time.monotonic() - started
    grown = rss_bytes(healthy.process.pid) - before
    statuses = sorted({a.split(b" ", 2)[1] for a in answers if a})
    late = [j[0] for j, t in zip(jobs, threads, strict=True) if t.is_alive()]
    assert not late, f"trickling clients never answered: {late}"
    assert len(answers) == len(jobs) and all(answers), "a trickling client was never answered"
    assert statuses == [b"408"], statuses
    assert elapsed < BODY_TIMEOUT + 15
    assert grown < 40 << 20, f"RSS grew by {grown >> 20} MiB"


def test_half_open_connections_do_not_pile_up(healthy) -> None:
    """Connections that send half a request and go silent cost little and do not stop
    anyone else."""
    before = rss_bytes(healthy.process.pid)
    socks = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", healthy.port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        socks.append(s)
    try:
        started = time.monotonic()
        assert httpx.get(f"{healthy.url}/healthz", timeout=10).status_code == 200
        assert time.monotonic() - started < 2
        assert rss_bytes(healthy.process.pid) - before < 40 << 20
    finally:
        for s in socks:
            s.close()
