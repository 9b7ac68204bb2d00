"""The embedded store: SQLite in WAL mode through aiosqlite.

One writer connection behind an ``asyncio.Lock`` (SQLite has a single writer
anyway, and a transaction must not interleave with another coroutine's
statements on the same connection) and one reader connection, which in WAL
mode never waits for the writer.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from rill.errors import StorageError
from rill.store.migrations import SQLITE_MIGRATIONS
from rill.store.script import Row, Script, T
from rill.store.search_text import fts5_match
from rill.store.sql import Executor, SQLStore, search_statement

log = logging.getLogger(__name__)
# Why: SQLite accepts ``?NNN`` numbered parameters, so the shared ``$n`` SQL
# needs only this rewrite, done once per distinct statement.
_PLACEHOLDER = re.compile(r"\$(\d+)")


def _storage_error(exc: sqlite3.Error) -> StorageError:
    # Why not the driver's text in the answer: it is for operators, not clients (issue 13).
    log.warning("sqlite call failed: %s", exc, extra={"event": "store_failed"})
    return StorageError("storage unavailable")


def _sqlite_sql(sql: str, _cache: dict[str, str] = {}) -> str:  # noqa: B006 - a deliberate memo
    out = _cache.get(sql)
    if out is None:
        out = _cache[sql] = _PLACEHOLDER.sub(r"?\1", sql)
    return out


class _Conn:
    """Adapts an aiosqlite connection to the ``Executor`` protocol.

    Why ``execute_fetchall``: it runs the statement and drains it in one hop to the
    connection's thread. With a cursor per call, concurrent readers keep a statement
    open on the connection, which holds its WAL read transaction open, and later
    reads then see that old snapshot instead of what was just committed
    (regression: tests/regressions/test_sqlite_reads_see_commits.py).
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def _run(self, sql: str, args: tuple[Any, ...]) -> list[Row]:
        try:
            return list(await self._conn.execute_fetchall(_sqlite_sql(sql), args))
        except sqlite3.Error as exc:
            raise _storage_error(exc) from exc

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        return await self._run(sql, args)

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        rows = await self._run(sql, args)
        return tuple(rows[0]) if rows else None

    async def execute(self, sql: str, *args: Any) -> None:
        await self._run(sql, args)


class _Writer(_Conn):
    """Single statements on the writer connection, serialised with transactions."""

    def __init__(self, conn: aiosqlite.Connection, lock: asyncio.Lock) -> None:
        super().__init__(conn)
        self._lock = lock

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        async with self._lock:
            return await super().fetch_all(sql, *args)

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        async with self._lock:
            return await super().fetch_one(sql, *args)

    async def execute(self, sql: str, *args: Any) -> None:
        async with self._lock:
            await super().execute(sql, *args)


class _Router:
    """Reads go to the reader connection, everything else to the writer."""

    def __init__(self, reader: _Conn, writer: _Writer) -> None:
        self._reader = reader
        self._writer = writer

    async def fetch_all(self, sql: str, *args: Any) -> list[Row]:
        target = self._reader if sql.lstrip().startswith("SELECT") else self._writer
        return await target.fetch_all(sql, *args)

    async def fetch_one(self, sql: str, *args: Any) -> Row | None:
        target = self._reader if sql.lstrip().startswith("SELECT") else self._writer
        return await target.fetch_one(sql, *args)

    async def execute(self, sql: str, *args: Any) -> None:
        await self._writer.execute(sql, *args)


def _search_sql(by_chatbot: bool) -> str:
    # Why ``-bm25``: FTS5 ranks better matches lower; the shared query wants higher.
    owned = "user_id = $2" + (" AND {t}.chatbot_id = $4" if by_chatbot else "")
    return search_statement(
        "SELECT c.id AS conversation_id, c.title AS body, 1 AS tier, "
        "-bm25(conversations_search) AS relevance FROM conversations_search "
        "JOIN conversations c ON c.rowid = conversations_search.rowid "
        f"WHERE conversations_search MATCH $1 AND c.{owned.format(t='c')} "
        "UNION ALL SELECT m.conversation_id, m.content, 0, -bm25(messages_search) "
        "FROM messages_search JOIN messages m ON m.rowid = messages_search.rowid "
        f"WHERE messages_search MATCH $1 AND m.active = 1 AND m.{owned.format(t='m')}"
    )


_SEARCH_SQL = {by_chatbot: _search_sql(by_chatbot) for by_chatbot in (False, True)}


class SQLiteStore(SQLStore):
    dialect_migrations = SQLITE_MIGRATIONS

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = asyncio.Lock()
        self._writer_conn: aiosqlite.Connection | None = None
        self._reader_conn: aiosqlite.Connection | None = None
        self._router: _Router | None = None

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        # Why: NORMAL in WAL mode is durable against process crashes (the case
        # we test with SIGKILL); only an OS crash may lose the last commits.
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=5000")
        return conn

    async def start(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer_conn = await self._connect()
            await self._migrate()
            # An in-memory database is private to its connection: read through the writer.
            self._reader_conn = (
                self._writer_conn if self.path == ":memory:" else await self._connect()
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite database {self.path}: {exc}") from exc
        writer = _Writer(self._writer_conn, self._lock)
        reader = writer if self._reader_conn is self._writer_conn else _Conn(self._reader_conn)
        self._router = _Router(reader, writer)

    async def close(self) -> None:
        for conn in {id(c): c for c in (self._reader_conn, self._writer_conn) if c}.values():
            await conn.close()
        self._reader_conn = self._writer_conn = None
        self._router = None

    def _db(self) -> Executor:
        if self._router is None:
            raise StorageError("store is not started")
        return self._router

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Executor]:
        if self._writer_conn is None:
            raise StorageError("store is not started")
        async with self._lock:
            conn = _Conn(self._writer_conn)
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await self._writer_conn.rollback()
                raise
            await conn.execute("COMMIT")

    async def _run_script(self, script: Script[T]) -> T:
        """The whole transaction in one hop to the writer connection's thread.

        Why: run statement by statement, a turn's transaction is five round trips to
        that thread under the write lock, and on a busy event loop each one waits a
        full loop turn before the next can start (measured as the time to first token
        of turns started under load, docs/performance.md). aiosqlite has no public way
        to run a function on its thread; ``_execute`` (there since 2019) is used, and
        without it the statements go one by one as before.
        """
        conn = self._writer_conn
        if conn is None:
            raise StorageError("store is not started")
        execute = getattr(conn, "_execute", None)
        if execute is None:
            return await super()._run_script(script)
        async with self._lock:
            try:
                result: T = await execute(_run_in_thread, conn, script)
            except sqlite3.Error as exc:
                raise _storage_error(exc) from exc
        return result

    def _search_sql(self, terms: list[str], by_chatbot: bool) -> tuple[str, str]:
        return _SEARCH_SQL[by_chatbot], fts5_match(terms)

    def _migration_lock(self) -> Any:
        return self._transaction()


def _run_in_thread(conn: aiosqlite.Connection, script: Script[T]) -> T:
    """Runs on ``conn``'s own thread: BEGIN, every statement, COMMIT (ROLLBACK on error)."""
    raw = conn._conn  # noqa: SLF001 - see SQLiteStore._run_script
    raw.execute("BEGIN IMMEDIATE")
    try:
        sql, args = next(script)
        while True:
            sql, args = script.send(raw.execute(_sqlite_sql(sql), args).fetchall())
    except StopIteration as done:
        raw.execute("COMMIT")
        result: T = done.value
        return result
    except BaseException:
        raw.rollback()
        raise
    finally:
        script.close()
