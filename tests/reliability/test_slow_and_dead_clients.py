"""Subscribers that stop reading and subscribers whose process dies: server memory stays
bounded, they are dropped after the configured limits, and a healthy subscriber's
latency is unaffected. Plus SIGTERM ends open hub streams cleanly and in time."""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import threading
import time
from urllib.parse import urlencode

import httpx

from rill.auth.tokens import TokenIssuer
from rill.sse import SSEDecoder
from tests.reliability.support import poll, raw_connect, read_until_closed, rss_bytes, scaled

SECRET = "slow-clients-secret-0123456789abcdef-xyz"
STUCK = scaled(20, 100)
UPDATES = scaled(150, 600)
PAYLOAD = 32 * 1024
SUBSCRIBE = b"GET /.well-known/mercure?match=big HTTP/1.1\r\nHost: x\r\n\r\n"
DEAD_CLIENT = """
import httpx, sys
with httpx.stream("GET", sys.argv[1] + "/.well-known/mercure", params={"match": "big"},
                  timeout=None) as r:
    print("open", flush=True)
    for _ in r.iter_raw():
        pass
"""


def _fast_reader(url: str, latencies: list[float], want: int, ready: threading.Event) -> None:
    with httpx.Client(timeout=30) as c, c.stream(
            "GET", f"{url}/.well-known/mercure", params={"match": "big"}) as r:
        ready.set()
        decoder = SSEDecoder()
        for chunk in r.iter_raw():
            for event in decoder.feed(chunk):
                if event.id:
                    latencies.append(time.time() - float(event.data.split(" ", 1)[0]))
            if len(latencies) >= want:
                return


def test_stuck_and_dead_subscribers_are_dropped_without_hurting_others(server_factory) -> None:
    server = server_factory(env={
        "RILL_JWT_SECRET": SECRET, "RILL_HUB__PUBLISHES_PER_SECOND": "0",
        "RILL_HUB__MAX_BUFFER_BYTES": str(256 * 1024), "RILL_HUB__WRITE_TIMEOUT_SECONDS": "2",
        "RILL_HUB__HEARTBEAT_SECONDS": "0.5"})
    publisher = TokenIssuer(SECRET).mint("p", ttl=600, mercure={"publish": ["*"]})
    stuck = [raw_connect(server.port, SUBSCRIBE, rcvbuf=4096) for _ in range(STUCK)]
    dead = subprocess.Popen([sys.executable, "-c", DEAD_CLIENT, server.url],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert dead.stdout is not None and dead.stdout.readline().strip() == "open"
        dead.kill()  # vanishes mid-stream; the server learns on its next write
        dead.wait(timeout=10)
        latencies: list[float] = []
        ready = threading.Event()
        fast = threading.Thread(target=_fast_reader,
                                args=(server.url, latencies, UPDATES, ready), daemon=True)
        fast.start()
        assert ready.wait(timeout=10)
        before = rss_bytes(server.process.pid)
        with httpx.Client(base_url=server.url, timeout=10, headers={
                "Authorization": f"Bearer {publisher}",
                "Content-Type": "application/x-www-form-urlencoded"}) as c:
            filler = "x" * PAYLOAD
            for _ in range(UPDATES):
                r = c.post("/.well-known/mercure",
                           content=urlencode({"topic": "big", "data": f"{time.time()} {filler}"}))
                assert r.status_code == 200
        fast.join(timeout=30)
        grown = rss_bytes(server.process.pid) - before
        assert len(latencies) == UPDATES, "the healthy subscriber missed updates"
        p50 = statistics.median(latencies)
        p99 = sorted(latencies)[int(len(latencies) * 0.99) - 1]
        # Every stuck subscriber had far more than its buffer queued: each was dropped.
        for sock in stuck:
            read_until_closed(sock, within=15)
        offered = STUCK * UPDATES * PAYLOAD
        assert grown < 64 << 20, f"RSS grew {grown >> 20} MiB with {offered >> 20} MiB offered"
        assert p99 < 1.0, f"healthy subscriber p99 latency {p99:.3f}s"
        print(f"slow clients: {STUCK} stuck + 1 killed, {UPDATES} x {PAYLOAD >> 10} KiB; "
              f"RSS +{grown >> 20} MiB for {offered >> 20} MiB offered; healthy p50 "
              f"{p50 * 1000:.1f} ms p99 {p99 * 1000:.1f} ms; all stuck ones dropped")
    finally:
        for sock in stuck:
            sock.close()
        if dead.poll() is None:
            dead.kill()
        dead.wait(timeout=10)
        if dead.stdout is not None:
            dead.stdout.close()


def test_sigterm_ends_hub_streams_cleanly_within_the_deadline(server_factory) -> None:
    server = server_factory(env={"RILL_SHUTDOWN_GRACE_SECONDS": "2"})
    ended: list[str] = []
    opened = threading.Semaphore(0)

    def follow(i: int) -> None:
        try:
            with httpx.Client(timeout=30) as c, c.stream(
                    "GET", f"{server.url}/.well-known/mercure", params={"match": f"t{i}"}) as r:
                opened.release()
                for _ in r.iter_raw():
                    pass
            ended.append("clean")
        except httpx.HTTPError as exc:
            ended.append(f"cut: {exc!r}")

    threads = [threading.Thread(target=follow, args=(i,), daemon=True) for i in range(5)]
    for t in threads:
        t.start()
    for _ in threads:
        assert opened.acquire(timeout=10)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=15)
    code = server.process.wait(timeout=15)
    elapsed = time.monotonic() - started
    poll(lambda: len(ended) == len(threads), within=5, what="every stream to end")
    assert ended == ["clean"] * len(threads), ended
    assert code in (0, -signal.SIGTERM)
    assert elapsed < 2 + 3, f"shutdown took {elapsed:.1f}s"
