"""SQLite runs a transaction script in one hop to its thread, and rolls it back whole."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rill.errors import Conflict, StorageError
from rill.store.script import Script
from rill.store.sqlite import SQLiteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "rill.db")
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()


async def test_the_one_hop_hook_exists_in_the_installed_aiosqlite(store: SQLiteStore) -> None:
    # Without it the store silently falls back to a round trip per statement.
    assert callable(getattr(store._writer_conn, "_execute", None))


async def test_a_failing_script_leaves_nothing_written(store: SQLiteStore) -> None:
    await store.ensure_user("alice")

    def script() -> Script[None]:
        yield "INSERT INTO users (id, created_at) VALUES ($1, $2)", ("bob", 1)
        rows = yield "SELECT count(*) FROM users", ()
        assert rows[0][0] == 2  # the insert is visible inside the transaction
        raise Conflict("changed my mind")

    with pytest.raises(Conflict):
        await store._run_script(script())
    await store.ensure_user("erin")  # committed only if no transaction was left open
    rows = await store._db().fetch_all("SELECT id FROM users ORDER BY id")
    assert [r[0] for r in rows] == ["alice", "erin"]


async def test_a_database_error_is_a_storage_error_and_rolls_back(store: SQLiteStore) -> None:
    def script() -> Script[None]:
        yield "INSERT INTO users (id, created_at) VALUES ($1, $2)", ("carol", 1)
        yield "INSERT INTO no_such_table VALUES ($1)", (1,)

    with pytest.raises(StorageError):
        await store._run_script(script())
    assert await store._db().fetch_all("SELECT id FROM users") == []
    # The connection is usable afterwards: no transaction was left open.
    await store.ensure_user("dave")
    conv = await store.create_conversation("dave", "echo")
    started = await store.start_turn(
        user_id="dave", chatbot_id="echo", conversation_id=conv.id, user_text="hi",
        max_concurrent=5, node_id="",
    )
    assert started.user_message is not None and started.reply.status == "streaming"
