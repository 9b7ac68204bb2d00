"""Regression: under concurrent reads the SQLite reader connection kept a statement
open, so its WAL snapshot went stale and a row written a moment before was not found
(``POST /api/session`` answered 500 when many browsers arrived at once)."""

from __future__ import annotations

import asyncio

from rill.store.sqlite import SQLiteStore


async def test_concurrent_ensure_user_reads_its_own_writes(tmp_path):
    store = SQLiteStore(tmp_path / "rill.db")
    await store.start()
    try:
        users = await asyncio.gather(*(store.ensure_user(f"u{i}") for i in range(200)))
        assert [u.id for u in users] == [f"u{i}" for i in range(200)]
    finally:
        await store.close()
