"""Migration 4 (conversation search, issue 17) indexes what a database already holds, and
PostgreSQL's search query is served by the GIN indexes it creates."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # ships no type information
import pytest

from rill.store.migrations import MIGRATIONS, POSTGRESQL_MIGRATIONS
from rill.store.postgres import PostgresStore, _search_sql
from rill.store.sqlite import SQLiteStore
from tests.contract.conftest import fresh_schema

_ROWS = [
    "INSERT INTO users (id, created_at) VALUES ('alice', 1)",
    "INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, updated_at) "
    "VALUES ('conv_1', 'alice', 'echo', 'Old trip to Busan', 1, 1)",
    "INSERT INTO messages (id, conversation_id, user_id, chatbot_id, role, content, status, "
    "created_at, updated_at) VALUES ('msg_1', 'conv_1', 'alice', 'echo', 'user', "
    "'we ate hotteok at the market', 'complete', 1, 1)",
    "INSERT INTO messages (id, conversation_id, user_id, chatbot_id, role, content, status, "
    "created_at, updated_at) VALUES ('msg_2', 'conv_1', 'alice', 'echo', 'assistant', "
    "'a half-written reply about bibimbap', 'streaming', 1, 1)",
]


def _before_search(migrations: list[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    return sorted(m for m in migrations if m[0] < 4)


async def _assert_indexed(store: SQLiteStore | PostgresStore) -> None:
    assert [h.snippet for h in await store.search_conversations("alice", "busan")] == [
        "Old trip to Busan"
    ]
    hits = await store.search_conversations("alice", "hotteok")
    assert [h.conversation.id for h in hits] == ["conv_1"]
    # A reply left streaming is indexed once it ends, not before.
    assert await store.search_conversations("alice", "bibimbap") == []


async def test_sqlite_migration_indexes_existing_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE rill_schema (version INTEGER PRIMARY KEY, applied_at BIGINT)")
    for version, statements in _before_search(MIGRATIONS):
        for statement in statements:
            db.execute(statement)
        db.execute("INSERT INTO rill_schema VALUES (?, 1)", (version,))
    for statement in _ROWS:
        db.execute(statement)
    db.commit()
    db.close()
    store = SQLiteStore(path)
    await store.start()
    try:
        await _assert_indexed(store)
    finally:
        await store.close()


@pytest.mark.postgres
async def test_postgres_migration_indexes_existing_rows_and_search_uses_them() -> None:
    async with fresh_schema() as url:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "CREATE TABLE rill_schema (version INTEGER PRIMARY KEY, applied_at BIGINT)"
            )
            for version, statements in _before_search([*MIGRATIONS, *POSTGRESQL_MIGRATIONS]):
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO rill_schema VALUES ($1, 1)", version)
            for statement in _ROWS:
                await conn.execute(statement)
            store = PostgresStore(url)
            await store.start()
            try:
                await _assert_indexed(store)
            finally:
                await store.close()
            # Many of alice's messages and titles, one rare word: the owner indexes would
            # read them all, the GIN indexes only the match (the planner must see it).
            await conn.execute(
                "INSERT INTO conversations (id, user_id, chatbot_id, title, created_at, "
                "updated_at) SELECT 'conv_x' || n, 'alice', 'echo', 'chat ' || n, n, n "
                "FROM generate_series(1, 3000) AS n"
            )
            await conn.execute(
                "INSERT INTO messages (id, conversation_id, user_id, chatbot_id, role, content, "
                "status, created_at, updated_at) SELECT 'msg_x' || n, 'conv_x' || n, 'alice', "
                "'echo', 'user', 'plain words number ' || n, 'complete', n, n "
                "FROM generate_series(1, 3000) AS n"
            )
            await conn.execute("ANALYZE")
            plan = "\n".join(
                r[0] for r in await conn.fetch(
                    "EXPLAIN " + _search_sql(True), "hotteok:*", "alice", 20, "echo"
                )
            )
        finally:
            await conn.close()
    assert "messages_search" in plan and "conversations_search" in plan, plan
