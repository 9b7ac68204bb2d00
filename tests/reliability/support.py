"""Shared by the reliability and security suites: sizes, polling, process memory, engines.

Sizes are modest by default so ``make test`` stays quick; ``RILL_SOAK=1`` (``make soak``)
scales them up to the figures in docs/reliability.md.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx
import redis

SOAK = os.environ.get("RILL_SOAK") == "1"
#: Redis database reserved for these suites; only keys under ``rill:`` are ever deleted.
REDIS_URL = "redis://127.0.0.1:6379/14"
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432"

T = TypeVar("T")


def scaled(default: int, soak: int) -> int:
    return soak if SOAK else default


def poll(condition: Callable[[], T], *, within: float, step: float = 0.05, what: str = "") -> T:
    """Call ``condition`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what or condition}")
        time.sleep(step)


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def clean_redis() -> None:
    """Forget Rill's keys in the suite's Redis database (never FLUSHALL)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match="rill:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards; yields its URL."""
    name = f"rill_rel_{uuid.uuid4().hex[:10]}"
    _psql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN}/{name}"
    finally:
        _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
         "-qc", sql],
        check=True, capture_output=True, timeout=30,
    )


def session(url: str) -> tuple[str, httpx.Client]:
    """An anonymous session on an embedded-mode server: its token and an authed client."""
    token = httpx.post(f"{url}/api/session", timeout=10).json()["token"]
    return token, httpx.Client(base_url=url, timeout=30,
                               headers={"Authorization": f"Bearer {token}"})


def raw_connect(port: int, request: bytes, *, rcvbuf: int | None = None) -> socket.socket:
    """A raw socket that sent ``request``: for clients that misbehave on purpose."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(request)
    return sock


def read_until_closed(sock: socket.socket, *, within: float, limit: int = 64 << 20) -> bytes:
    """Read what the server sends until it closes the connection (or fail at the deadline)."""
    deadline = time.monotonic() + within
    data = bytearray()
    while time.monotonic() < deadline and len(data) < limit:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return bytes(data)
        except TimeoutError:
            break
        if not chunk:
            return bytes(data)
        data += chunk
    raise AssertionError(f"the server kept the connection open for {within}s ({len(data)} bytes)")
