"""The shared store: PostgreSQL through an asyncpg connection pool.

The queries are ``SQLStore``'s, unchanged (asyncpg speaks ``$n`` natively).
What this module adds is how several nodes share one database safely:
migrations run under a transaction-scoped advisory lock, so nodes starting at
once migrate once, and ``start_turn`` locks the user's row, so the per-user
limit on concurrent replies holds however many nodes start turns at once.

Any query-string parameter asyncpg does not know becomes a server setting, so
``postgresql://…/db?search_path=tenant`` selects a schema.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # ships no type information

from rill.errors import StorageError
from rill.store.migrations import POSTGRESQL_MIGRATIONS
from rill.store.script import Row
from rill.store.search_text import tsquery
from rill.store.sql import Executor, SQLStore, search_statement

# Why these: a server gone away, a query refused, a pool closed, a timeout;
# each is "the store failed" to callers, never a 500 with a driver trace.
_DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    asyncio.TimeoutError,
)
log = logging.getLogger(__name__)
#: Arbitrary but fixed: every node takes the same advisory lock to migrate.
_MIGRATION_LOCK_KEY = 0x72696C6C  # "rill"


def _storage_error(exc: BaseException) -> StorageError:
    # Why not the driver's text in the answer: it is for operators, not clients (issue 13).
    log.warning("postgresql call failed: %s: %s", type(exc).__name__, exc,
                extra={"event": "store_failed"})
    return StorageError("storage unavailable")


class _Conn:
    """Adapts an asyncpg connection or pool (same query methods) to ``Executor``."""

    __slots__ = ("_target",)

    def __init__(self, target: Any) -> None:  # Any: asyncpg is untyped
        self._target = target

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        try:
            return list(await self._target.fetch(sql, *args))
        except _DRIVER_ERRORS as exc:
            raise _storage_error(exc) from exc

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        try:
            row: Row | None = await self._target.fetchrow(sql, *args)
        except _DRIVER_ERRORS as exc:
            raise _storage_error(exc) from exc
        return row

    async def execute(self, sql: str, *args: Any) -> None:
        try:
            await self._target.execute(sql, *args)
        except _DRIVER_ERRORS as exc:
            raise _storage_error(exc) from exc


def _search_sql(by_chatbot: bool) -> str:
    # Why these exact ``to_tsvector('simple', …)`` expressions and the status test:
    # they are the GIN indexes' (POSTGRESQL_MIGRATIONS), so the planner uses them.
    chatbot = " AND {t}.chatbot_id = $4" if by_chatbot else ""
    query = "to_tsquery('simple', $1)"
    return search_statement(
        "SELECT c.id AS conversation_id, c.title AS body, 1 AS tier, "
        f"ts_rank(to_tsvector('simple', c.title), {query}) AS relevance "
        f"FROM conversations c WHERE to_tsvector('simple', c.title) @@ {query} "
        f"AND c.user_id = $2{chatbot.format(t='c')} "
        "UNION ALL SELECT m.conversation_id, m.content, 0, "
        f"ts_rank(to_tsvector('simple', m.content), {query}) FROM messages m "
        f"WHERE to_tsvector('simple', m.content) @@ {query} AND m.status <> 'streaming' "
        f"AND m.active = 1 AND m.user_id = $2{chatbot.format(t='m')}"
    )


_SEARCH_SQL = {by_chatbot: _search_sql(by_chatbot) for by_chatbot in (False, True)}


class PostgresStore(SQLStore):
    # Why NO KEY UPDATE rather than UPDATE: it serialises start_turn per user just
    # the same, but does not block the KEY SHARE locks that inserting a row which
    # references the user (a new conversation) takes.
    lock_user_sql = "SELECT id FROM users WHERE id = $1 FOR NO KEY UPDATE"
    dialect_migrations = POSTGRESQL_MIGRATIONS

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._pool: Any = None  # asyncpg.Pool; Any because asyncpg is untyped
        self._executor: _Conn | None = None

    async def start(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                timeout=10,
                command_timeout=30,
            )
        except _DRIVER_ERRORS as exc:
            raise StorageError(f"cannot connect to PostgreSQL: {exc}") from exc
        self._executor = _Conn(self._pool)
        await self._migrate()

    async def close(self) -> None:
        pool, self._pool, self._executor = self._pool, None, None
        if pool is not None:
            await pool.close()

    def _db(self) -> Executor:
        if self._executor is None:
            raise StorageError("store is not started")
        return self._executor

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Executor]:
        if self._pool is None:
            raise StorageError("store is not started")
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                yield _Conn(conn)
        except _DRIVER_ERRORS as exc:
            raise _storage_error(exc) from exc

    def _search_sql(self, terms: list[str], by_chatbot: bool) -> tuple[str, str]:
        return _SEARCH_SQL[by_chatbot], tsquery(terms)

    @asynccontextmanager
    async def _migration_lock(self) -> AsyncIterator[Executor]:
        async with self._transaction() as tx:
            await tx.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK_KEY)
            yield tx
