"""A conversation's tree of versions: which path it shows, and how that changes.

Editing a user message or regenerating a reply adds a *sibling* (same parent)
instead of replacing anything, so a conversation is a tree. One path through
it is shown; its messages carry ``active = 1`` (migration 5), so the reads that
matter (history, the model's context, search) stay plain indexed queries.
Each message also remembers the child shown last (``shown_child_id``; NULL
means its newest child), so showing a version again restores what was below it.

The path is a chain of ids in increasing order (each message is newer than its
parent), so "the shown messages from X on" is ``active = 1 AND id >= X``.

The scripts here run inside ``SQLStore``'s transactions (``rill.store.script``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from rill.errors import Conflict, InvalidInput, NotFound
from rill.store.models import Message
from rill.store.script import Row, Script

#: Ids per ``IN (…)`` list: far below either database's cap on parameters.
_CHUNK = 500
#: Bounds the walks up and down the tree: a damaged tree (a cycle) must not loop for ever.
_MAX_DEPTH = 100_000_000

# Why recursive queries rather than reading the conversation's tree: a switch then
# costs what it changes (the new branch, the old tail), not the conversation's size;
# reading every row took seconds at 200,000 messages, holding SQLite's write lock.

#: From the message up, while the messages are not shown: the branch to show, ending
#: with the shown message it hangs from (or a first message). ``$1`` the message,
#: ``$2`` its conversation.
_UP = (
    "WITH RECURSIVE up (id, parent_id, active, depth) AS ("
    "SELECT id, parent_id, active, 0 FROM messages WHERE id = $1 AND conversation_id = $2 "
    "UNION ALL SELECT m.id, m.parent_id, m.active, up.depth + 1 FROM up "
    f"JOIN messages m ON m.id = up.parent_id WHERE up.active = 0 AND up.depth < {_MAX_DEPTH}) "
    "SELECT id, parent_id, active FROM up ORDER BY depth"
)
#: From the message down: at each step the child shown last, else the newest child.
#: Rows are the descendants in order (the message itself excluded).
_DOWN = (
    # Why the first row read from the table, not ``SELECT $1``: PostgreSQL wants the
    # column's collation (ids are ``COLLATE "C"``) the same in both terms.
    "WITH RECURSIVE down (id, depth) AS (SELECT id, 0 FROM messages WHERE id = $1 UNION ALL "
    "SELECT COALESCE((SELECT c.id FROM messages c WHERE c.id = p.shown_child_id "
    "AND c.parent_id = p.id), (SELECT c.id FROM messages c WHERE c.conversation_id = $2 "
    "AND c.parent_id = p.id ORDER BY c.id DESC LIMIT 1)), "
    f"down.depth + 1 FROM down JOIN messages p ON p.id = down.id WHERE down.depth < {_MAX_DEPTH}) "
    "SELECT id FROM down WHERE depth > 0 AND id IS NOT NULL ORDER BY depth"
)


def _streaming_in(user_id: str, conversation_id: str) -> Script[None]:
    """``Conflict`` while a reply of the conversation streams: its place in the tree must
    not move under it. (By user first: the partial index of streaming replies.)"""
    rows = yield (
        "SELECT id FROM messages WHERE user_id = $1 AND status = 'streaming' "
        "AND conversation_id = $2 LIMIT 1",
        (user_id, conversation_id),
    )
    if rows:
        raise Conflict(
            "a reply in this conversation is still streaming; wait for it or cancel it",
            message_id=rows[0][0],
        )


def show_script(user_id: str, conversation_id: str, message_id: str) -> Script[None]:
    """Make ``message_id``'s path the one ``conversation_id`` shows: the messages above
    it, and below it the child each message showed last (its newest if none was chosen).

    The caller has checked that the conversation is the user's. ``NotFound`` when the
    message is not one of its; ``Conflict`` while a reply of the conversation streams.
    """
    yield from _streaming_in(user_id, conversation_id)
    branch = yield _UP, (message_id, conversation_id)
    if not branch:
        raise NotFound("no such message in this conversation", message_id=message_id)
    if branch[0][2]:
        return  # shown already, and so is what is below it
    anchor: str | None = branch[-1][0] if branch[-1][2] else None
    hidden = [row[0] for row in (branch[:-1] if anchor is not None else branch)]
    # The path shown so far leaves the anchor (ids grow along a path): hide its tail.
    if anchor is None:
        yield ("UPDATE messages SET active = 0 WHERE conversation_id = $1 AND active = 1",
               (conversation_id,))
    else:
        yield ("UPDATE messages SET active = 0 WHERE conversation_id = $1 AND active = 1 "
               "AND id > $2", (conversation_id, anchor))
    # Each message above shows the branch's child from now on.
    for child, parent in zip(hidden, [*hidden[1:], anchor], strict=True):
        if parent is not None:
            yield "UPDATE messages SET shown_child_id = $1 WHERE id = $2", (child, parent)
    below = yield _DOWN, (message_id, conversation_id)
    shown = hidden + [row[0] for row in below]
    for start in range(0, len(shown), _CHUNK):
        chunk = shown[start : start + _CHUNK]
        marks = ", ".join(f"${n}" for n in range(1, len(chunk) + 1))
        yield f"UPDATE messages SET active = 1 WHERE id IN ({marks})", tuple(chunk)


def conversation_of(user_id: str, message_id: str) -> Script[str]:
    """The conversation of the user's message ``message_id`` (``NotFound`` if none)."""
    rows = yield (
        "SELECT conversation_id FROM messages WHERE id = $1 AND user_id = $2",
        (message_id, user_id),
    )
    if not rows:
        raise NotFound("no such message", message_id=message_id)
    conversation_id: str = rows[0][0]
    return conversation_id


def edit_script(user_id: str, conversation_id: str, edit_of: str) -> Script[str | None]:
    """Before a turn that resends ``edit_of`` (a user message) edited: the shown path
    ends just above it. Returns its parent, the new message's parent.

    ``NotFound`` if it is not a message of this conversation, ``InvalidInput`` if it is
    a reply, ``Conflict`` while a reply of the conversation streams.
    """
    rows = yield (
        "SELECT role, parent_id, active FROM messages WHERE id = $1 AND conversation_id = $2",
        (edit_of, conversation_id),
    )
    if not rows:
        raise NotFound("no such message in this conversation", message_id=edit_of)
    role, parent_id, active = rows[0]
    if role != "user":
        raise InvalidInput("editOf must name a user message; regenerate a reply instead",
                           message_id=edit_of)
    if active:
        yield from _streaming_in(user_id, conversation_id)
    else:
        # An earlier version, not on screen: its path becomes the shown one first.
        yield from show_script(user_id, conversation_id, edit_of)
    yield (
        "UPDATE messages SET active = 0 WHERE conversation_id = $1 AND active = 1 "
        "AND id >= $2",
        (conversation_id, edit_of),
    )
    parent: str | None = parent_id
    return parent


def regenerate_script(conversation_id: str) -> Script[str | None]:
    """Before a turn that regenerates the last reply: it stays, as an earlier version
    no longer shown. Returns its parent, the new reply's parent.

    ``Conflict`` unless the shown path ends with a finished reply.
    """
    last = yield (
        "SELECT id, role, status, parent_id FROM messages WHERE conversation_id = $1 "
        "AND active = 1 ORDER BY id DESC LIMIT 1",
        (conversation_id,),
    )
    if not last or last[0][1] != "assistant" or last[0][2] == "streaming":
        raise Conflict(
            "there is no finished reply to regenerate in this conversation",
            conversation_id=conversation_id,
        )
    yield "UPDATE messages SET active = 0 WHERE id = $1", (last[0][0],)
    parent: str | None = last[0][3]
    return parent


def siblings_statement(messages: Sequence[Message]) -> tuple[str, tuple[str, ...]] | None:
    """The query for every version of ``messages`` (rows ``(id, conversation_id,
    parent_id)``, oldest first), or None when there are none to look up.

    Why two parts: siblings share a parent, except first messages, which share having
    none; only a page that holds a first message asks for its conversation's roots.
    """
    if not messages:
        return None
    args: list[str] = []

    def marks(values: Iterable[str]) -> str:
        start = len(args)
        args.extend(sorted(set(values)))
        return ", ".join(f"${n}" for n in range(start + 1, len(args) + 1))

    parts = []
    children = [m for m in messages if m.parent_id is not None]
    if children:
        parts.append(
            f"conversation_id IN ({marks(m.conversation_id for m in children)}) "
            f"AND parent_id IN ({marks(m.parent_id or '' for m in children)})"
        )
    roots = [m.conversation_id for m in messages if m.parent_id is None]
    if roots:
        parts.append(f"conversation_id IN ({marks(roots)}) AND parent_id IS NULL")
    sql = " UNION ALL ".join(
        f"SELECT id, conversation_id, parent_id FROM messages WHERE {part}" for part in parts
    )
    return f"{sql} ORDER BY id", tuple(args)


def with_versions(messages: Sequence[Message], rows: Iterable[Row]) -> list[Message]:
    """``messages`` with ``versions`` filled from ``siblings_statement``'s rows."""
    by_parent: dict[tuple[str, str | None], list[str]] = {}
    for row in rows:
        by_parent.setdefault((row[1], row[2]), []).append(row[0])
    out = []
    for m in messages:
        versions = by_parent.get((m.conversation_id, m.parent_id))
        out.append(replace(m, versions=tuple(versions)) if versions else m)
    return out
