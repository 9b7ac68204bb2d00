"""The SQL every relational store shares, written once with ``$n`` placeholders.

Subclasses supply an ``Executor`` (how to run a statement, how to open a
transaction) and a few dialect strings; the queries live here so SQLite and
PostgreSQL cannot drift apart.
"""

from __future__ import annotations

from abc import abstractmethod
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from rill.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from rill.ids import new_id, now_ms
from rill.store.base import Store
from rill.store.migrations import MIGRATIONS
from rill.store.models import (
    Conversation,
    HistoryPage,
    Message,
    MessageStatus,
    SearchHit,
    TurnStart,
    Usage,
    User,
)
from rill.store.script import Row, Script, T
from rill.store.search_text import search_terms, snippet
from rill.store.versions import (
    conversation_of,
    edit_script,
    regenerate_script,
    show_script,
    siblings_statement,
    with_versions,
)

MESSAGE_COLUMNS = (
    "id, conversation_id, user_id, chatbot_id, role, content, status, created_at, updated_at, "
    "stop_reason, input_tokens, output_tokens, final_event_id, node_id, error, parent_id"
)
CONVERSATION_COLUMNS = "id, user_id, chatbot_id, title, created_at, updated_at"
_INSERT_CONVERSATION = (
    f"INSERT INTO conversations ({CONVERSATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
)
TITLE_LENGTH = 80
#: Placeholders of the first and second row of a two-row, eleven-column INSERT.
_VALUES_11 = tuple(
    "(" + ", ".join(f"${n}" for n in range(1 + 11 * row, 12 + 11 * row)) + ")" for row in range(2)
)
#: Replies per checkpoint statement (two parameters each, far below either database's cap).
_CHECKPOINT_ROWS = 500


class Executor(Protocol):
    async def fetch_all(self, sql: str, *args: Any) -> list[Row]: ...
    async def fetch_one(self, sql: str, *args: Any) -> Row | None: ...
    async def execute(self, sql: str, *args: Any) -> None: ...


def _message(row: Row) -> Message:
    usage = None if row[10] is None else Usage(int(row[10]), int(row[11] or 0))
    return Message(
        id=row[0],
        conversation_id=row[1],
        user_id=row[2],
        chatbot_id=row[3],
        role=row[4],
        content=row[5],
        status=row[6],
        created_at=int(row[7]),
        updated_at=int(row[8]),
        stop_reason=row[9],
        usage=usage,
        final_event_id=row[12],
        node_id=row[13],
        error=row[14],
        parent_id=row[15],
    )


def _conversation(row: Row) -> Conversation:
    return Conversation(row[0], row[1], row[2], row[3], int(row[4]), int(row[5]))


def search_statement(found: str) -> str:
    """The search's outer query around a dialect's ``found``: rows of (conversation_id,
    body, tier, relevance) for every matching title (tier 1) and message (tier 0).
    Keeps each conversation's best row, best conversations first. Parameters: $1 the
    match expression, $2 the user, $3 the limit, $4 the chatbot (when filtered).

    Why it starts with SELECT, not WITH: SQLite's router sends SELECTs to the reader.
    """
    return (
        f"SELECT {', '.join('c.' + c for c in CONVERSATION_COLUMNS.split(', '))}, h.body "
        "FROM (SELECT conversation_id, body, tier, relevance, ROW_NUMBER() OVER "
        "(PARTITION BY conversation_id ORDER BY tier DESC, relevance DESC) AS n "
        f"FROM ({found}) AS found) AS h JOIN conversations c ON c.id = h.conversation_id "
        "WHERE h.n = 1 ORDER BY h.tier DESC, h.relevance DESC, c.updated_at DESC, c.id DESC "
        "LIMIT $3"
    )


class SQLStore(Store):
    #: Locks the user's row for the rest of the transaction (None where the engine
    #: already serialises write transactions, as SQLite's BEGIN IMMEDIATE does).
    lock_user_sql: str | None = None
    #: Migrations only this engine needs; versions share one sequence with ``MIGRATIONS``.
    dialect_migrations: list[tuple[int, list[str]]] = []

    @abstractmethod
    def _search_sql(self, terms: list[str], by_chatbot: bool) -> tuple[str, str]:
        """The dialect's full-text search: ``search_statement`` over its index, and
        the match expression ($1) for ``terms``."""

    @abstractmethod
    def _db(self) -> Executor:
        """An executor for single statements outside a transaction."""

    @abstractmethod
    def _transaction(self) -> AbstractAsyncContextManager[Executor]:
        """An executor whose statements commit together, or not at all."""

    @abstractmethod
    def _migration_lock(self) -> AbstractAsyncContextManager[Executor]:
        """A transaction that also keeps other nodes from migrating at the same time."""

    async def _migrate(self) -> None:
        async with self._migration_lock() as tx:
            await tx.execute(
                "CREATE TABLE IF NOT EXISTS rill_schema "
                "(version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
            )
            rows = await tx.fetch_all("SELECT version FROM rill_schema")
            applied = {int(r[0]) for r in rows}
            for version, statements in sorted([*MIGRATIONS, *self.dialect_migrations]):
                if version in applied:
                    continue
                for statement in statements:
                    await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO rill_schema (version, applied_at) VALUES ($1, $2)",
                    version,
                    now_ms(),
                )

    async def ping(self) -> None:
        await self._db().fetch_one("SELECT 1")

    # users
    async def ensure_user(self, user_id: str) -> User:
        db = self._db()
        await db.execute(
            "INSERT INTO users (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
            user_id,
            now_ms(),
        )
        row = await db.fetch_one("SELECT id, created_at FROM users WHERE id = $1", user_id)
        assert row is not None
        return User(row[0], int(row[1]))

    # conversations
    async def create_conversation(
        self, user_id: str, chatbot_id: str, title: str = ""
    ) -> Conversation:
        await self.ensure_user(user_id)
        now = now_ms()
        conv = Conversation(new_id("conv"), user_id, chatbot_id, title[:TITLE_LENGTH], now, now)
        await self._db().execute(
            _INSERT_CONVERSATION,
            conv.id,
            conv.user_id,
            conv.chatbot_id,
            conv.title,
            conv.created_at,
            conv.updated_at,
        )
        return conv

    async def get_conversation(self, user_id: str, conversation_id: str) -> Conversation:
        row = await self._db().fetch_one(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1 AND user_id = $2",
            conversation_id,
            user_id,
        )
        if row is None:
            raise NotFound("no such conversation", conversation_id=conversation_id)
        return _conversation(row)

    async def latest_conversation(self, user_id: str, chatbot_id: str) -> Conversation | None:
        row = await self._db().fetch_one(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations "
            "WHERE user_id = $1 AND chatbot_id = $2 ORDER BY updated_at DESC, id DESC LIMIT 1",
            user_id,
            chatbot_id,
        )
        return None if row is None else _conversation(row)

    async def list_conversations(
        self,
        user_id: str,
        chatbot_id: str | None = None,
        limit: int = 50,
        before: tuple[int, str] | None = None,
    ) -> list[Conversation]:
        where: list[str] = ["user_id = $1"]
        args: list[str | int] = [user_id]
        if chatbot_id is not None:
            args.append(chatbot_id)
            where.append(f"chatbot_id = ${len(args)}")
        if before is not None:
            args += [before[0], before[1]]
            # Why the expanded form, not a row value: it is the same on SQLite and
            # PostgreSQL, and the (user_id, updated_at) index still serves it.
            n = len(args)
            where.append(f"(updated_at < ${n - 1} OR (updated_at = ${n - 1} AND id < ${n}))")
        args.append(limit)
        rows = await self._db().fetch_all(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE {' AND '.join(where)} "
            f"ORDER BY updated_at DESC, id DESC LIMIT ${len(args)}",
            *args,
        )
        return [_conversation(r) for r in rows]

    async def rename_conversation(
        self, user_id: str, conversation_id: str, title: str
    ) -> Conversation:
        row = await self._db().fetch_one(
            f"UPDATE conversations SET title = $1 WHERE id = $2 AND user_id = $3 "
            f"RETURNING {CONVERSATION_COLUMNS}",
            title[:TITLE_LENGTH],
            conversation_id,
            user_id,
        )
        if row is None:
            raise NotFound("no such conversation", conversation_id=conversation_id)
        return _conversation(row)

    async def search_conversations(
        self,
        user_id: str,
        query: str,
        chatbot_id: str | None = None,
        limit: int = 20,
    ) -> list[SearchHit]:
        terms = search_terms(query)
        if not terms:
            return []
        sql, match = self._search_sql(terms, chatbot_id is not None)
        args: list[str | int] = [match, user_id, limit]
        if chatbot_id is not None:
            args.append(chatbot_id)
        rows = await self._db().fetch_all(sql, *args)
        return [SearchHit(_conversation(row[:6]), snippet(row[6], terms)) for row in rows]

    async def delete_conversation(self, user_id: str, conversation_id: str) -> None:
        async with self._transaction() as tx:
            row = await tx.fetch_one(
                "SELECT id FROM conversations WHERE id = $1 AND user_id = $2",
                conversation_id,
                user_id,
            )
            if row is None:
                raise NotFound("no such conversation", conversation_id=conversation_id)
            streaming = await tx.fetch_one(
                "SELECT id FROM messages WHERE conversation_id = $1 AND status = 'streaming' "
                "LIMIT 1",
                conversation_id,
            )
            if streaming is not None:
                raise Conflict(
                    "a reply in this conversation is still streaming; cancel it first",
                    message_id=streaming[0],
                )
            await tx.execute("DELETE FROM messages WHERE conversation_id = $1", conversation_id)
            await tx.execute("DELETE FROM conversations WHERE id = $1", conversation_id)

    # turns and messages
    async def start_turn(
        self,
        *,
        user_id: str,
        chatbot_id: str,
        conversation_id: str | None,
        user_text: str | None,
        max_concurrent: int,
        node_id: str,
        replace_last_reply: bool = False,
        context_messages: int = 0,
        edit_of: str | None = None,
    ) -> TurnStart:
        return await self._run_script(self._start_turn_script(
            user_id, chatbot_id, conversation_id, user_text, max_concurrent, node_id,
            replace_last_reply, context_messages, edit_of,
        ))

    def _start_turn_script(
        self,
        user_id: str,
        chatbot_id: str,
        conversation_id: str | None,
        user_text: str | None,
        max_concurrent: int,
        node_id: str,
        replace_last_reply: bool,
        context_messages: int,
        edit_of: str | None,
    ) -> Script[TurnStart]:
        if self.lock_user_sql:
            yield self.lock_user_sql, (user_id,)
        if edit_of is not None:
            if user_text is None or replace_last_reply:
                raise InvalidInput("an edit resends a new text, and regenerates nothing")
            if conversation_id is None:
                conversation_id = yield from conversation_of(user_id, edit_of)
        conv, streaming, parent_id = yield from self._turn_conversation(
            user_id, chatbot_id, conversation_id
        )
        if streaming >= max_concurrent:
            raise TooManyRequests(
                f"you already have {max_concurrent} replies generating; "
                "wait for one to finish or cancel it",
                retry_after=1,
            )
        if conv is None:
            now = now_ms()
            conv = Conversation(new_id("conv"), user_id, chatbot_id, "", now, now)
            yield _INSERT_CONVERSATION, (conv.id, user_id, chatbot_id, "", now, now)
        # A new version (edit or regenerate) is a sibling: it takes the parent of the
        # message it stands for, and that parent shows it from now on.
        sibling = edit_of is not None or replace_last_reply
        if edit_of is not None:
            parent_id = yield from edit_script(user_id, conv.id, edit_of)
        elif replace_last_reply:
            parent_id = yield from regenerate_script(conv.id)
        now = now_ms()
        user_msg = None
        if user_text is not None:
            user_msg = Message(
                new_id("msg"), conv.id, user_id, conv.chatbot_id, "user", user_text,
                "complete", now, now, parent_id=parent_id,
            )
        bot_msg = Message(
            new_id("msg"), conv.id, user_id, conv.chatbot_id, "assistant", "",
            "streaming", now, now, node_id=node_id,
            parent_id=parent_id if user_msg is None else user_msg.id,
        )
        added = [m for m in (user_msg, bot_msg) if m is not None]
        yield (
            "INSERT INTO messages (id, conversation_id, user_id, chatbot_id, role, "
            "content, status, created_at, updated_at, node_id, parent_id) VALUES "
            + ", ".join(_VALUES_11[i] for i in range(len(added))),
            tuple(value for m in added for value in (
                m.id, m.conversation_id, m.user_id, m.chatbot_id, m.role,
                m.content, m.status, m.created_at, m.updated_at, m.node_id, m.parent_id)),
        )
        if sibling and parent_id is not None:
            yield (
                "UPDATE messages SET shown_child_id = $1 WHERE id = $2",
                (added[0].id, parent_id),
            )
        title = conv.title or " ".join((user_text or "").split())[:TITLE_LENGTH]
        yield (
            "UPDATE conversations SET updated_at = $1, title = $2 WHERE id = $3",
            (now, title, conv.id),
        )
        context: list[Row] = []
        if context_messages > 0:
            # Why ``id <``: ids are time ordered, and on PostgreSQL a concurrent turn in
            # this conversation may commit while this transaction runs; its question
            # must not become this reply's context. Why ``active``: the model sees the
            # path the conversation shows, never an earlier version.
            context = yield (
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 "
                "AND active = 1 AND id < $2 ORDER BY id DESC LIMIT $3",
                (conv.id, bot_msg.id, context_messages),
            )
        conv = Conversation(conv.id, conv.user_id, conv.chatbot_id, title, conv.created_at, now)
        return TurnStart(conv, user_msg, bot_msg, [_message(r) for r in reversed(context)])

    def _turn_conversation(
        self, user_id: str, chatbot_id: str, conversation_id: str | None
    ) -> Script[tuple[Conversation | None, int, str | None]]:
        """The turn's conversation (None: the user has none with this bot yet), how
        many replies the user has streaming, and the last message the conversation
        shows (the new turn's parent), in one statement when it exists."""
        select = (
            "SELECT (SELECT count(*) FROM messages WHERE user_id = $1 "
            "AND status = 'streaming') AS streaming, (SELECT m.id FROM messages m "
            "WHERE m.conversation_id = conversations.id AND m.active = 1 "
            f"ORDER BY m.id DESC LIMIT 1) AS tail, {CONVERSATION_COLUMNS} FROM conversations "
        )
        if conversation_id is not None:
            rows = yield select + "WHERE id = $2 AND user_id = $1", (user_id, conversation_id)
        else:
            rows = yield (
                select + "WHERE user_id = $1 AND chatbot_id = $2 "
                "ORDER BY updated_at DESC, id DESC LIMIT 1",
                (user_id, chatbot_id),
            )
        if rows:
            conv = _conversation(tuple(rows[0])[2:])
            if conv.chatbot_id != chatbot_id:
                raise Conflict(
                    f"conversation {conv.id} belongs to chatbot {conv.chatbot_id!r}",
                    conversation_id=conv.id,
                )
            return conv, int(rows[0][0]), rows[0][1]
        if conversation_id is not None:
            raise NotFound("no such conversation", conversation_id=conversation_id)
        count = yield (
            "SELECT count(*) FROM messages WHERE user_id = $1 AND status = 'streaming'",
            (user_id,),
        )
        return None, int(count[0][0]), None

    async def _run_script(self, script: Script[T]) -> T:
        """Run ``script``'s statements in one transaction, feeding each one's rows back.

        Why scripts: a transaction's logic is written once, and each driver runs it
        its own way. Here each statement is a round trip; SQLite overrides this to
        run the whole script in one hop to its connection's thread.
        """
        async with self._transaction() as tx:
            try:
                sql, args = next(script)
                while True:
                    sql, args = script.send(await tx.fetch_all(sql, *args))
            except StopIteration as done:
                result: T = done.value
                return result
            finally:
                script.close()

    async def checkpoint(self, message_id: str, content: str) -> None:
        await self._db().execute(
            "UPDATE messages SET content = $1, updated_at = $2 "
            "WHERE id = $3 AND status = 'streaming'",
            content, now_ms(), message_id,
        )

    async def checkpoint_many(self, texts: list[tuple[str, str]]) -> None:
        for start in range(0, len(texts), _CHECKPOINT_ROWS):
            rows = texts[start : start + _CHECKPOINT_ROWS]
            # One UPDATE for all: CASE picks each row's text ($2k+2) by its id ($2k+1).
            cases = " ".join(f"WHEN ${2 * k + 1} THEN ${2 * k + 2}" for k in range(len(rows)))
            ids = ", ".join(f"${2 * k + 1}" for k in range(len(rows)))
            now = len(rows) * 2 + 1
            await self._db().execute(
                f"UPDATE messages SET content = CASE id {cases} END, updated_at = ${now} "
                f"WHERE id IN ({ids}) AND status = 'streaming'",
                *(value for pair in rows for value in pair),
                now_ms(),
            )

    async def finish_message(
        self,
        message_id: str,
        *,
        content: str,
        status: MessageStatus,
        stop_reason: str | None,
        usage: Usage | None,
        final_event_id: str | None,
        error: str | None = None,
    ) -> Message:
        db = self._db()
        await db.execute(
            "UPDATE messages SET content = $1, status = $2, stop_reason = $3, "
            "input_tokens = $4, output_tokens = $5, final_event_id = $6, error = $7, "
            "updated_at = $8 WHERE id = $9 AND status = 'streaming'",
            content, status, stop_reason,
            None if usage is None else usage.input_tokens,
            None if usage is None else usage.output_tokens,
            final_event_id, error, now_ms(), message_id,
        )
        row = await db.fetch_one(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1", message_id
        )
        if row is None:
            raise NotFound("no such message", message_id=message_id)
        return _message(row)

    async def get_message(self, user_id: str, message_id: str) -> Message:
        row = await self._db().fetch_one(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND user_id = $2",
            message_id,
            user_id,
        )
        if row is None:
            raise NotFound("no such message", message_id=message_id)
        return _message(row)

    async def recent_messages(self, conversation_id: str, limit: int) -> list[Message]:
        rows = await self._db().fetch_all(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 "
            "AND active = 1 ORDER BY id DESC LIMIT $2",
            conversation_id,
            limit,
        )
        return [_message(r) for r in reversed(rows)]

    async def history(
        self,
        user_id: str,
        chatbot_id: str,
        *,
        conversation_id: str | None = None,
        before: str | None = None,
        limit: int = 20,
    ) -> HistoryPage:
        if before is not None:
            await self.get_message(user_id, before)
        scope, args = self._history_scope(user_id, chatbot_id, conversation_id)
        cursor = ""
        if before is not None:
            cursor = f" AND id < ${len(args) + 1}"
            args.append(before)
        args.append(limit + 1)
        rows = await self._db().fetch_all(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE {scope}{cursor} "
            f"AND active = 1 ORDER BY id DESC LIMIT ${len(args)}",
            *args,
        )
        has_more = len(rows) > limit
        page = await self._with_versions([_message(r) for r in reversed(rows[:limit])])
        return HistoryPage(page, has_more, page[0].id if has_more and page else None)

    @staticmethod
    def _history_scope(
        user_id: str, chatbot_id: str, conversation_id: str | None
    ) -> tuple[str, list[Any]]:
        if conversation_id is None:
            return "user_id = $1 AND chatbot_id = $2", [user_id, chatbot_id]
        return (
            "conversation_id = $1 AND user_id = $2 AND chatbot_id = $3",
            [conversation_id, user_id, chatbot_id],
        )

    async def history_page(
        self, user_id: str, chatbot_id: str, *, page: int, page_size: int
    ) -> list[Message]:
        rows = await self._db().fetch_all(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE user_id = $1 AND chatbot_id = $2 "
            "AND active = 1 ORDER BY id DESC LIMIT $3 OFFSET $4",
            user_id,
            chatbot_id,
            page_size,
            page * page_size,
        )
        return await self._with_versions([_message(r) for r in reversed(rows)])

    async def _with_versions(self, messages: list[Message]) -> list[Message]:
        """``messages`` with their ``versions`` filled (one query for the whole page)."""
        statement = siblings_statement(messages)
        if statement is None:
            return messages
        sql, args = statement
        return with_versions(messages, await self._db().fetch_all(sql, *args))

    async def show_version(self, user_id: str, conversation_id: str, message_id: str) -> None:
        await self._run_script(self._show_version_script(user_id, conversation_id, message_id))

    def _show_version_script(
        self, user_id: str, conversation_id: str, message_id: str
    ) -> Script[None]:
        if self.lock_user_sql:
            # Why: a turn starting at once on another node must see the path before or
            # after the switch, never half of it (``start_turn`` takes the same lock).
            yield self.lock_user_sql, (user_id,)
        owned = yield (
            "SELECT id FROM conversations WHERE id = $1 AND user_id = $2",
            (conversation_id, user_id),
        )
        if not owned:
            raise NotFound("no such conversation", conversation_id=conversation_id)
        yield from show_script(user_id, conversation_id, message_id)

    async def interrupt_streaming(self, node_id: str | None = None) -> int:
        if node_id is None:
            scope, args = "status = 'streaming'", []
        else:
            scope, args = "status = 'streaming' AND node_id = $2", [node_id]
        async with self._transaction() as tx:
            rows = await tx.fetch_all(
                f"SELECT id FROM messages WHERE {scope.replace('$2', '$1')}", *args
            )
            await tx.execute(
                "UPDATE messages SET status = 'interrupted', stop_reason = 'interrupted', "
                f"updated_at = $1 WHERE {scope}",
                now_ms(),
                *args,
            )
        return len(rows)

    async def streaming_nodes(self) -> list[str]:
        rows = await self._db().fetch_all(
            "SELECT DISTINCT node_id FROM messages WHERE status = 'streaming' "
            "AND node_id IS NOT NULL"
        )
        return [r[0] for r in rows]

    async def streaming_replies(self, node_id: str) -> list[Message]:
        rows = await self._db().fetch_all(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE status = 'streaming' "
            "AND node_id = $1 ORDER BY id",
            node_id,
        )
        return [_message(r) for r in rows]

    # revoked tokens
    async def revoke_token(self, token_id: str, expires_at: int) -> None:
        now = now_ms()
        async with self._transaction() as tx:
            await tx.execute("DELETE FROM revoked_tokens WHERE expires_at < $1", now)
            await tx.execute(
                "INSERT INTO revoked_tokens (token_id, expires_at, revoked_at) "
                "VALUES ($1, $2, $3) ON CONFLICT (token_id) DO NOTHING",
                token_id, expires_at, now,
            )

    async def is_token_revoked(self, token_id: str) -> bool:
        row = await self._db().fetch_one(
            "SELECT 1 FROM revoked_tokens WHERE token_id = $1 AND expires_at >= $2",
            token_id, now_ms(),
        )
        return row is not None

    async def last_revocation(self) -> int:
        row = await self._db().fetch_one("SELECT MAX(revoked_at) FROM revoked_tokens")
        return int(row[0]) if row is not None and row[0] is not None else 0
