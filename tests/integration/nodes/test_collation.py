"""History pages by byte order of message ids whatever the database's collation.

The database here defaults to an ICU collation with numeric ordering, under which
"…J10…" sorts after "…J9…"; in byte order (and so in time order, for ULIDs) it
is the other way round. Migration 2 gives ``messages.id`` ``COLLATE "C"``.
"""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]  # ships no type information
import pytest

from rill.store.postgres import PostgresStore

from .cluster import async_database

pytestmark = pytest.mark.postgres

NUMERIC_ICU = "LOCALE_PROVIDER icu ICU_LOCALE 'en-US-u-kn-true' LOCALE 'C.UTF-8' TEMPLATE template0"
#: In byte order; a numeric collation would put the second before the first.
IDS = ["msg_01J10AAAAAAAAAAAAAAAAAAAAA", "msg_01J9AAAAAAAAAAAAAAAAAAAAAA",
       "msg_01JAAAAAAAAAAAAAAAAAAAAAAA"]


async def test_history_orders_ids_bytewise_under_a_numeric_icu_collation() -> None:
    async with async_database(NUMERIC_ICU) as url:
        conn = await asyncpg.connect(url)
        try:
            # The premise: this database's default collation disagrees with byte order.
            assert not await conn.fetchval("SELECT $1::text < $2::text", IDS[0], IDS[1])
        finally:
            await conn.close()
        store = PostgresStore(url)
        await store.start()
        try:
            conv = await store.create_conversation("alice", "echo")
            conn = await asyncpg.connect(url)
            try:
                for n, message_id in enumerate(IDS):
                    await conn.execute(
                        "INSERT INTO messages (id, conversation_id, user_id, chatbot_id, role, "
                        "content, status, created_at, updated_at) "
                        "VALUES ($1, $2, 'alice', 'echo', 'user', $3, 'complete', $4, $4)",
                        message_id, conv.id, f"m{n}", 1000 + n,
                    )
            finally:
                await conn.close()
            page = await store.history("alice", "echo", limit=2)
            assert [m.id for m in page.messages] == IDS[1:]
            older = await store.history("alice", "echo", before=page.next_cursor, limit=2)
            assert [m.id for m in older.messages] == IDS[:1] and not older.has_more
            assert [m.id for m in await store.recent_messages(conv.id, 3)] == IDS
        finally:
            await store.close()
