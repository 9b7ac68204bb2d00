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
    (
        5,
        [
            # Versions (issue 17: edit and resend, regenerate keeping the old reply): a
            # conversation is a tree. ``parent_id`` is the previous message on a
            # message's path (NULL for a first message); siblings are versions.
            "ALTER TABLE messages ADD COLUMN parent_id TEXT",
            # Why a materialised flag: the path the conversation shows is what history,
            # the model's context and search read, and with the flag each stays one
            # indexed query by id instead of a walk up the tree.
            "ALTER TABLE messages ADD COLUMN active SMALLINT NOT NULL DEFAULT 1",
            # Which child was shown last, so showing a version again restores what was
            # below it. NULL means the newest child (``rill.store.versions``).
            "ALTER TABLE messages ADD COLUMN shown_child_id TEXT",
            # Existing conversations are one path: each message follows the one before.
            "UPDATE messages SET parent_id = (SELECT p.id FROM messages p "
            "WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id "
            "ORDER BY p.id DESC LIMIT 1)",
            "CREATE INDEX messages_shown ON messages (conversation_id, id) WHERE active = 1",
            # Every read by owner and bot is of the shown path (history, the seed's pages).
            "DROP INDEX messages_by_owner_bot",
            "CREATE INDEX messages_shown_by_owner_bot "
            "ON messages (user_id, chatbot_id, id) WHERE active = 1",
            "CREATE INDEX messages_by_parent ON messages (conversation_id, parent_id, id)",
        ],
    ),
]

# Full-text search (issue 17): an external-content FTS5 index over finished messages
# and over titles, kept in step by triggers. Why not streaming replies: their text
# changes at every checkpoint, and re-indexing it each time would tax the hot path;
# a reply becomes searchable when it ends. Why ``remove_diacritics 0``: PostgreSQL's
# 'simple' configuration keeps accents, and both stores must find the same things.
# Why ``prefix='2 3'``: every term is a prefix query, and a short one ("w1") otherwise
# merges thousands of words' lists (measured on 100k messages: 730 ms, 100 ms with it).
# Why the rowid is safe to key on: Rill never runs VACUUM, the one thing that may
# renumber the rowids of a table without an INTEGER PRIMARY KEY.
_FTS5 = "tokenize='unicode61 remove_diacritics 0', prefix='2 3'"
_UNINDEX_MESSAGE = (
    "INSERT INTO messages_search (messages_search, rowid, content) "
    "SELECT 'delete', old.rowid, old.content WHERE old.status <> 'streaming';"
)
_UNINDEX_TITLE = (
    "INSERT INTO conversations_search (conversations_search, rowid, title) "
    "VALUES ('delete', old.rowid, old.title);"
)
SQLITE_MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        4,
        [
            "CREATE VIRTUAL TABLE messages_search USING fts5(content, "
            f"content='messages', {_FTS5})",
            "CREATE TRIGGER messages_search_insert AFTER INSERT ON messages "
            "WHEN new.status <> 'streaming' BEGIN "
            "INSERT INTO messages_search (rowid, content) VALUES (new.rowid, new.content); END",
            # Why WHEN: a checkpoint (streaming to streaming) touches no index.
            "CREATE TRIGGER messages_search_update AFTER UPDATE OF content, status ON messages "
            "WHEN old.status <> 'streaming' OR new.status <> 'streaming' BEGIN "
            f"{_UNINDEX_MESSAGE} INSERT INTO messages_search (rowid, content) "
            "SELECT new.rowid, new.content WHERE new.status <> 'streaming'; END",
            "CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN "
            f"{_UNINDEX_MESSAGE} END",
            "INSERT INTO messages_search (rowid, content) "
            "SELECT rowid, content FROM messages WHERE status <> 'streaming'",
            f"CREATE VIRTUAL TABLE conversations_search USING fts5(title, "
            f"content='conversations', {_FTS5})",
            "CREATE TRIGGER conversations_search_insert AFTER INSERT ON conversations BEGIN "
            "INSERT INTO conversations_search (rowid, title) VALUES (new.rowid, new.title); END",
            # Why WHEN: every turn sets the title, almost always to what it was.
            "CREATE TRIGGER conversations_search_update AFTER UPDATE OF title ON conversations "
            f"WHEN old.title IS NOT new.title BEGIN {_UNINDEX_TITLE} "
            "INSERT INTO conversations_search (rowid, title) VALUES (new.rowid, new.title); END",
            "CREATE TRIGGER conversations_search_delete AFTER DELETE ON conversations BEGIN "
            f"{_UNINDEX_TITLE} END",
            "INSERT INTO conversations_search (rowid, title) "
            "SELECT rowid, title FROM conversations",
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
    # Full-text search (issue 17): GIN indexes on the very expressions the search
    # query uses. Why 'simple': no stemming or stop words for one language, so Korean
    # and English words are both kept as written (lower-cased). Streaming replies are
    # left out as on SQLite (see ``SQLITE_MIGRATIONS``).
    (
        4,
        [
            "CREATE INDEX messages_search ON messages "
            "USING GIN (to_tsvector('simple', content)) WHERE status <> 'streaming'",
            "CREATE INDEX conversations_search ON conversations "
            "USING GIN (to_tsvector('simple', title))",
        ],
    ),
]
