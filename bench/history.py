"""Benchmark 4: history pages at 1,000,000 messages in one conversation.

A real server creates the database (its migrations), a session user and one
conversation; the server is stopped and 1M messages are written straight into
SQLite with ``executemany`` (time-ordered ULID-like ids, as ``rill.ids`` makes
them); the server is started again on the same data dir. Then, on one
keep-alive connection, each page is fetched repeatedly:

- cursor pages (``GET /api/history``): the newest page, and the oldest
  (``before`` = the id just after the first page);
- the seed's request (``POST /api/history`` page/pageSize, an OFFSET): page 0
  and the last page.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from bench.common import BIN, HOST, ROOT, Proc, free_port, http, percentile, table, write_results

MESSAGES = 1_000_000
PAGE = 20
BOT = "echo"
REPEATS = 200
#: OFFSET pages far from the top take long: fewer of them, within a time bound.
SLOW_REPEATS = 20
SLOW_BUDGET_S = 60.0
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _base32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


def seed_rows(conversation: str, user: str, count: int) -> Iterator[tuple[Any, ...]]:
    """Alternating user/assistant messages, one ms apart, ids sorting by time, each the
    child of the one before (one path, as the server writes a conversation)."""
    start_ms = int(time.time() * 1000) - count - 60_000
    random_part = int.from_bytes(os.urandom(10), "big") >> 1
    parent = None
    for i in range(count):
        ms = start_ms + i
        role = "user" if i % 2 == 0 else "assistant"
        message_id = f"msg_{_base32(ms, 10)}{_base32(random_part + i, 16)}"
        yield (message_id, conversation, user, BOT,
               role, f"message {i}: " + "lorem ipsum dolor sit amet " * 3, "complete",
               "end_turn" if role == "assistant" else None, ms, ms, parent)
        parent = message_id


def seed(db: Path, conversation: str, user: str, count: int) -> float:
    started = time.monotonic()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")
        with conn:
            conn.executemany(
                "INSERT INTO messages (id, conversation_id, user_id, chatbot_id, role, content, "
                "status, stop_reason, created_at, updated_at, parent_id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                seed_rows(conversation, user, count),
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("ANALYZE")
    return time.monotonic() - started


class KeepAlive:
    """HTTP/1.1 requests on one connection; bodies read by Content-Length."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> KeepAlive:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(
            (f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
             f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
             f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        payload = await self.reader.readexactly(length)
        return int(head.split()[1]), payload


async def timed(client: KeepAlive, method: str, path: str, body: bytes, repeats: int,
                budget_s: float = 120.0) -> dict[str, Any]:
    times: list[float] = []
    deadline = time.monotonic() + budget_s
    count = 0
    for _ in range(repeats):
        started = time.perf_counter()
        status, payload = await client.request(method, path, body)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"{method} {path}: {status} {payload[:200]!r}")
        count = len(orjson.loads(payload)["messages"])
        if time.monotonic() > deadline:
            break
    return {"requests": len(times), "messages_per_page": count,
            "p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99)}


def rill_server(data_dir: str) -> Proc:
    port = free_port()
    argv = [str(BIN / "rill"), "serve", "--port", str(port), "--data-dir", data_dir]
    return Proc("rill-history", argv, port=port, cwd=ROOT,
                env={"RILL_LOG_LEVEL": "warning", "RILL_HUB__ENABLED": "false"})


async def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-history-") as data_dir:
        with rill_server(data_dir) as server:
            status, body = await http(server.port, "POST", "/api/session")
            session = orjson.loads(body)
            token, user = session["token"], session["userId"]
            status, body = await http(
                server.port, "POST", "/api/conversations", body=orjson.dumps({"chatbotId": BOT}),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            if status != 201:
                raise RuntimeError(f"conversation: {status} {body[:200]!r}")
            conversation = orjson.loads(body)["id"]
        print(f"history: seeding {MESSAGES:,} messages …", flush=True)
        seconds = seed(Path(data_dir) / "rill.db", conversation, user, MESSAGES)
        with contextlib.closing(sqlite3.connect(Path(data_dir) / "rill.db")) as conn:
            # The cursor for the oldest page: the id just after the first PAGE messages.
            row = conn.execute("SELECT id FROM messages WHERE conversation_id = ? ORDER BY id "
                               "LIMIT 1 OFFSET ?", (conversation, PAGE)).fetchone()
            oldest_cursor = row[0]
        with rill_server(data_dir) as server:
            async with KeepAlive(server.port, token) as client:
                base = f"/api/history?chatbotId={BOT}&conversationId={conversation}&limit={PAGE}"
                await timed(client, "GET", base, b"", 20)  # warm the page cache
                newest = await timed(client, "GET", base, b"", REPEATS)
                oldest = await timed(client, "GET", f"{base}&before={oldest_cursor}", b"",
                                     REPEATS)
                last_page = MESSAGES // PAGE - 1
                seed_newest = await timed(client, "POST", "/api/history", orjson.dumps(
                    {"chatbotId": BOT, "page": 0, "pageSize": PAGE}), REPEATS)
                seed_oldest = await timed(client, "POST", "/api/history", orjson.dumps(
                    {"chatbotId": BOT, "page": last_page, "pageSize": PAGE}), SLOW_REPEATS,
                    SLOW_BUDGET_S)
    results = {"messages": MESSAGES, "page_size": PAGE, "seed_seconds": seconds,
               "cursor": {"newest": newest, "oldest": oldest},
               "offset": {"newest": seed_newest, "oldest": seed_oldest}}
    rows = [["cursor (GET, before=)", newest["p50_ms"], newest["p99_ms"], oldest["p50_ms"],
             oldest["p99_ms"], oldest["p50_ms"] / newest["p50_ms"]],
            ["seed page/pageSize (OFFSET)", seed_newest["p50_ms"], seed_newest["p99_ms"],
             seed_oldest["p50_ms"], seed_oldest["p99_ms"],
             seed_oldest["p50_ms"] / seed_newest["p50_ms"]]]
    print(table(f"History at {MESSAGES:,} messages, {PAGE} per page (ms)",
                ["request", "newest p50", "newest p99", "oldest p50", "oldest p99",
                 "oldest/newest"], rows))
    path = write_results("history", results)
    print(f"→ {path}")
    return results
