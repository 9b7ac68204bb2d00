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
from dataclasses import dataclass, replace

from rill.errors import Conflict, InvalidInput, NotFound
from rill.store.models import Message
from rill.store.script import Row, Script

#: Ids per ``IN (…)`` list: far below either database's cap on parameters.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class _Node:
    parent: str | None
    shown_child: str | None
    active: bool


@dataclass(frozen=True, slots=True)
class PathChange:
    """What showing a version changes: flags to flip, and remembered children to set."""

    activate: list[str]
    deactivate: list[str]
    #: ``parent id → child id``: the child each ancestor on the new path shows now.
    shown_children: dict[str, str]


def shown_path(rows: Iterable[Row], message_id: str) -> PathChange:
    """The change that makes ``message_id`` shown: its ancestors above it, and below it
    the children each message showed last (its newest child if none was chosen).

    ``rows`` are ``(id, parent_id, shown_child_id, active)`` of every message of the
    conversation, oldest first. ``NotFound`` when ``message_id`` is not among them.
    """
    nodes: dict[str, _Node] = {}
    children: dict[str | None, list[str]] = {}
    for row in rows:
        nodes[row[0]] = _Node(row[1], row[2], bool(row[3]))
        children.setdefault(row[1], []).append(row[0])
    if message_id not in nodes:
        raise NotFound("no such message in this conversation", message_id=message_id)

    def shown_child(node_id: str) -> str | None:
        below = children.get(node_id)
        if not below:
            return None
        chosen = nodes[node_id].shown_child
        return chosen if chosen in below else below[-1]

    path = [message_id]
    shown_children: dict[str, str] = {}
    # Why the bound: a damaged tree (a cycle) must not loop for ever.
    while (parent := nodes[path[-1]].parent) in nodes and len(path) <= len(nodes):
        if shown_child(parent) != path[-1]:
            shown_children[parent] = path[-1]
        path.append(parent)
    path.reverse()
    below = shown_child(message_id)
    while below is not None and len(path) <= len(nodes):
        path.append(below)
        below = shown_child(below)
    on_path = set(path)
    return PathChange(
        activate=[i for i in path if not nodes[i].active],
        deactivate=[i for i, n in nodes.items() if n.active and i not in on_path],
        shown_children=shown_children,
    )


def show_script(conversation_id: str, message_id: str) -> Script[None]:
    """Make ``message_id``'s path the one ``conversation_id`` shows (``shown_path``).

    The caller has checked that the conversation is the user's. ``Conflict`` while a
    reply of the conversation streams: its place in the tree must not move under it.
    """
    rows = yield (
        "SELECT id, parent_id, shown_child_id, active, status FROM messages "
        "WHERE conversation_id = $1 ORDER BY id",
        (conversation_id,),
    )
    streaming = next((r[0] for r in rows if r[4] == "streaming"), None)
    if streaming is not None:
        raise Conflict(
            "a reply in this conversation is still streaming; wait for it or cancel it",
            message_id=streaming,
        )
    change = shown_path(rows, message_id)
    for flag, ids in ((1, change.activate), (0, change.deactivate)):
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join(f"${n}" for n in range(1, len(chunk) + 1))
            yield f"UPDATE messages SET active = {flag} WHERE id IN ({marks})", tuple(chunk)
    for parent, child in change.shown_children.items():
        yield "UPDATE messages SET shown_child_id = $1 WHERE id = $2", (child, parent)


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


def edit_script(conversation_id: str, edit_of: str) -> Script[str | None]:
    """Before a turn that resends ``edit_of`` (a user message) edited: the shown path
    ends just above it. Returns its parent, the new message's parent.

    ``NotFound`` if it is not a message of this conversation, ``InvalidInput`` if it is
    a reply, ``Conflict`` while a reply of the conversation streams.
    """
    rows = yield (
        "SELECT role, parent_id, active, (SELECT s.id FROM messages s "
        "WHERE s.conversation_id = $2 AND s.status = 'streaming' LIMIT 1) "
        "FROM messages WHERE id = $1 AND conversation_id = $2",
        (edit_of, conversation_id),
    )
    if not rows:
        raise NotFound("no such message in this conversation", message_id=edit_of)
    role, parent_id, active, streaming = rows[0]
    if role != "user":
        raise InvalidInput("editOf must name a user message; regenerate a reply instead",
                           message_id=edit_of)
    if streaming is not None:
        raise Conflict(
            "a reply in this conversation is still streaming; wait for it or cancel it",
            message_id=streaming,
        )
    if not active:
        # An earlier version, not on screen: its path becomes the shown one first.
        yield from show_script(conversation_id, edit_of)
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
