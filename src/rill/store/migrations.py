"""Schema migrations, shared by SQLite and PostgreSQL.

Each entry is applied once, in order, inside a transaction; ``rill_schema``
records what has been applied. The SQL is kept to the dialect both engines
speak (BIGINT epoch-ms timestamps, partial indexes), so one list serves both.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE users (
                id TEXT PRIMARY KEY,
                created_at BIGINT NOT NULL
            )""",
            """CREATE TABLE conversations (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id),
                chatbot_id TEXT NOT NULL,
                title TEXT NOT NULL DEFAULT '',
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )""",
            "CREATE INDEX conversations_by_owner "
            "ON conversations (user_id, chatbot_id, updated_at)",
            """CREATE TABLE messages (
                id TEXT PRIMARY KEY,
                conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
                user_id TEXT NOT NULL,
                chatbot_id TEXT NOT NULL,
                role TEXT NOT NULL,
                content TEXT NOT NULL,
                status TEXT NOT NULL,
                stop_reason TEXT,
                input_tokens BIGINT,
                output_tokens BIGINT,
                final_event_id TEXT,
                node_id TEXT,
                error TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )""",
            # Why: the history cursor is the message id; these make every page an
            # index range scan, as cheap at message 1,000,000 as at message 20.
            "CREATE INDEX messages_by_conversation ON messages (conversation_id, id)",
            "CREATE INDEX messages_by_owner_bot ON messages (user_id, chatbot_id, id)",
            "CREATE INDEX messages_streaming_by_user "
            "ON messages (user_id) WHERE status = 'streaming'",
            "CREATE INDEX messages_streaming_by_node "
            "ON messages (node_id) WHERE status = 'streaming'",
        ],
    ),
    (
        3,
        [
            # Tokens ended by ``DELETE /api/session``, by digest, until they expire.
            """CREATE TABLE revoked_tokens (
                token_id TEXT PRIMARY KEY,
                expires_at BIGINT NOT NULL,
                revoked_at BIGINT NOT NULL
            )""",
            "CREATE INDEX revoked_tokens_by_time ON revoked_tokens (revoked_at)",
        ],
    ),
]

# Why: history pages by ``id < cursor ORDER BY id``, which must be byte order (ULIDs
# are time-ordered as plain ASCII). A PostgreSQL database created with a linguistic
# collation would order ids by its rules instead (an ICU collation with numeric
# ordering sorts "…J10…" after "…J9…"), and compare them more slowly. SQLite's
# default BINARY collation is byte order already. The indexes are rebuilt with it.
POSTGRESQL_MIGRATIONS: list[tuple[int, list[str]]] = [
    (2, ['ALTER TABLE messages ALTER COLUMN id TYPE TEXT COLLATE "C"']),
]
