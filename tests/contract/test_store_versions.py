"""The ``Store`` contract for versions (issue 17: edit and resend, regenerate, switch),
run unchanged against every implementation (``store`` is SQLite, then PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from rill.errors import Conflict, InvalidInput, NotFound
from rill.store import sql
from rill.store.base import Store
from rill.store.migrations import MIGRATIONS
from rill.store.models import Conversation, Message, TurnStart
from rill.store.postgres import PostgresStore
from rill.store.sqlite import SQLiteStore
from tests.contract.conftest import fresh_schema
from tests.contract.test_store_contract import NODE, finish, turn


async def answered(store: Store, conv: Conversation, text: str) -> tuple[Message, Message]:
    """A turn whose reply finished with ``text.upper()``."""
    question, reply = await turn(store, conv, text)
    return question, await finish(store, reply.id, text.upper())


async def edit(
    store: Store, conv: Conversation, message_id: str, text: str, *, context: int = 0,
    conversation_id: str | None = "",
) -> TurnStart:
    return await store.start_turn(
        user_id=conv.user_id, chatbot_id=conv.chatbot_id,
        conversation_id=conv.id if conversation_id == "" else conversation_id,
        user_text=text, max_concurrent=100, node_id=NODE, context_messages=context,
        edit_of=message_id,
    )


async def edited(store: Store, conv: Conversation, message_id: str, text: str) -> TurnStart:
    started = await edit(store, conv, message_id, text)
    await finish(store, started.reply.id, text.upper())
    return started


async def regenerate(store: Store, conv: Conversation, text: str) -> Message:
    started = await store.start_turn(
        user_id=conv.user_id, chatbot_id=conv.chatbot_id, conversation_id=conv.id,
        user_text=None, max_concurrent=100, node_id=NODE, replace_last_reply=True,
    )
    return await finish(store, started.reply.id, text)


async def shown(store: Store, conv: Conversation) -> list[str]:
    """The contents of the path the conversation shows, oldest first."""
    page = await store.history(conv.user_id, conv.chatbot_id, conversation_id=conv.id,
                               limit=100)
    return [m.content for m in page.messages]


async def test_edit_keeps_the_earlier_versions(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    q0, a0 = await answered(store, conv, "q0")
    q1, a1 = await answered(store, conv, "q1")

    started = await edited(store, conv, q1.id, "q1 edited")

    new = started.user_message
    assert new is not None
    assert (new.parent_id, started.reply.parent_id) == (a0.id, new.id)
    assert await shown(store, conv) == ["q0", "Q0", "q1 edited", "Q1 EDITED"]
    page = await store.history("alice", "echo", conversation_id=conv.id)
    assert [m.versions for m in page.messages] == [
        (q0.id,), (a0.id,), (q1.id, new.id), (started.reply.id,)]
    assert [m.parent_id for m in page.messages] == [None, q0.id, a0.id, new.id]
    # The earlier version and its reply are kept, unchanged.
    assert (await store.get_message("alice", q1.id)).content == "q1"
    assert (await store.get_message("alice", a1.id)).content == "Q1"


async def test_edit_of_the_first_message_makes_first_messages_versions(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    q0, _ = await answered(store, conv, "q0")
    await answered(store, conv, "q1")
    started = await edited(store, conv, q0.id, "q0 edited")
    assert started.user_message is not None and started.user_message.parent_id is None
    page = await store.history("alice", "echo", conversation_id=conv.id)
    assert [m.content for m in page.messages] == ["q0 edited", "Q0 EDITED"]
    assert page.messages[0].versions == (q0.id, started.user_message.id)


async def test_regenerate_keeps_the_old_reply_as_a_version(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    question, first = await answered(store, conv, "q")
    second = await regenerate(store, conv, "again")
    assert second.parent_id == question.id
    page = await store.history("alice", "echo", conversation_id=conv.id)
    assert [m.content for m in page.messages] == ["q", "again"]
    assert page.messages[1].versions == (first.id, second.id)
    third = await regenerate(store, conv, "and again")
    page = await store.history("alice", "echo", conversation_id=conv.id)
    assert page.messages[1].versions == (first.id, second.id, third.id)
    await store.show_version("alice", conv.id, first.id)
    assert await shown(store, conv) == ["q", "Q"]


async def test_show_version_round_trip_restores_what_was_below(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    await answered(store, conv, "q0")
    q1, _ = await answered(store, conv, "q1")
    await answered(store, conv, "q2")
    old_a2 = (await store.history("alice", "echo", conversation_id=conv.id)).messages[-1]
    await regenerate(store, conv, "A2 again")
    # Chosen explicitly: the older reply, not the newest one, is what this branch shows.
    await store.show_version("alice", conv.id, old_a2.id)
    old_branch = ["q0", "Q0", "q1", "Q1", "q2", "Q2"]
    assert await shown(store, conv) == old_branch

    new_q1 = (await edited(store, conv, q1.id, "q1 edited")).user_message
    assert new_q1 is not None
    await answered(store, conv, "q3")
    new_branch = ["q0", "Q0", "q1 edited", "Q1 EDITED", "q3", "Q3"]
    assert await shown(store, conv) == new_branch

    await store.show_version("alice", conv.id, q1.id)
    assert await shown(store, conv) == old_branch
    await store.show_version("alice", conv.id, new_q1.id)
    assert await shown(store, conv) == new_branch
    await store.show_version("alice", conv.id, q1.id)
    assert await shown(store, conv) == old_branch
    # Showing what is already shown changes nothing.
    await store.show_version("alice", conv.id, q1.id)
    assert await shown(store, conv) == old_branch
    # A message deep in a branch not shown: every message above it is shown with it.
    await store.show_version("alice", conv.id, new_q1.id)
    await store.show_version("alice", conv.id, old_a2.id)
    assert await shown(store, conv) == old_branch
    await store.show_version("alice", conv.id, new_q1.id)
    assert await shown(store, conv) == new_branch


async def test_a_new_turn_continues_the_shown_version(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    q0, _ = await answered(store, conv, "q0")
    await edited(store, conv, q0.id, "q0 edited")
    await store.show_version("alice", conv.id, q0.id)
    question, _ = await answered(store, conv, "q1")
    assert await shown(store, conv) == ["q0", "Q0", "q1", "Q1"]
    # Back and forth: the turn added to the first version stays below it.
    edited_q0 = (await store.history("alice", "echo", conversation_id=conv.id)).messages[0]
    assert edited_q0.versions[0] == q0.id and len(edited_q0.versions) == 2
    await store.show_version("alice", conv.id, edited_q0.versions[1])
    assert await shown(store, conv) == ["q0 edited", "Q0 EDITED"]
    await store.show_version("alice", conv.id, q0.id)
    assert (await store.history("alice", "echo", conversation_id=conv.id)).messages[2].id == (
        question.id)


async def test_editing_an_earlier_version_shows_its_path_first(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    await answered(store, conv, "q0")
    q1, _ = await answered(store, conv, "q1")
    second = (await edited(store, conv, q1.id, "q1 second")).user_message
    assert second is not None
    # q1 is not shown now; editing it adds a third version beside the other two.
    third = (await edited(store, conv, q1.id, "q1 third")).user_message
    assert third is not None
    assert await shown(store, conv) == ["q0", "Q0", "q1 third", "Q1 THIRD"]
    page = await store.history("alice", "echo", conversation_id=conv.id)
    assert page.messages[2].versions == (q1.id, second.id, third.id)


async def test_the_context_of_an_edited_turn_is_the_shown_path(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    await answered(store, conv, "q0")
    q1, _ = await answered(store, conv, "q1")
    await answered(store, conv, "q2")
    started = await edit(store, conv, q1.id, "q1 edited", context=100)
    assert [m.content for m in started.context] == ["q0", "Q0", "q1 edited"]
    await finish(store, started.reply.id, "Q1 EDITED")
    following = await store.start_turn(
        user_id="alice", chatbot_id="echo", conversation_id=conv.id, user_text="q2 again",
        max_concurrent=10, node_id=NODE, context_messages=100,
    )
    assert [m.content for m in following.context] == [
        "q0", "Q0", "q1 edited", "Q1 EDITED", "q2 again"]
    assert [m.content for m in await store.recent_messages(conv.id, 100)] == [
        "q0", "Q0", "q1 edited", "Q1 EDITED", "q2 again", ""]


async def test_history_paging_skips_earlier_versions(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    questions = [(await answered(store, conv, f"q{i}"))[0] for i in range(6)]
    await edited(store, conv, questions[2].id, "q2 edited")
    for i in range(3, 6):
        await answered(store, conv, f"q{i} again")
    expected = await shown(store, conv)
    assert len(expected) == 12 and "q3" not in expected
    for scope in (conv.id, None):
        seen: list[str] = []
        before = None
        while True:
            page = await store.history("alice", "echo", conversation_id=scope, before=before,
                                       limit=5)
            seen = [m.content for m in page.messages] + seen
            assert len(page.messages) == 5 or not page.has_more
            if not page.has_more:
                break
            before = page.next_cursor
        assert seen == expected
    pages = [await store.history_page("alice", "echo", page=n, page_size=5) for n in range(3)]
    assert [m.content for p in reversed(pages) for m in p] == expected


async def test_edit_and_show_version_wait_for_a_streaming_reply(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    q0, _ = await answered(store, conv, "q0")
    _, streaming = await turn(store, conv, "q1")
    with pytest.raises(Conflict):
        await edit(store, conv, q0.id, "q0 edited")
    with pytest.raises(Conflict):
        await store.show_version("alice", conv.id, q0.id)
    assert await shown(store, conv) == ["q0", "Q0", "q1", ""]
    await finish(store, streaming.id)
    await edited(store, conv, q0.id, "q0 edited")
    assert await shown(store, conv) == ["q0 edited", "Q0 EDITED"]


async def test_an_edit_racing_a_turn_never_leaves_two_shown_paths(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    await answered(store, conv, "q0")
    q1, _ = await answered(store, conv, "q1")
    results = await asyncio.gather(
        edit(store, conv, q1.id, "q1 edited"), turn(store, conv, "q2"), return_exceptions=True,
    )
    # Whichever went first, the other saw it: a turn after an edit simply continues it,
    # an edit after a turn finds its reply streaming.
    assert not isinstance(results[1], BaseException)
    if isinstance(results[0], BaseException):
        assert isinstance(results[0], Conflict)
    page = await store.history("alice", "echo", conversation_id=conv.id, limit=100)
    ids = [m.id for m in page.messages]
    assert [m.parent_id for m in page.messages] == [None, *ids[:-1]]


async def test_foreign_and_unknown_messages_are_not_found(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    q0, a0 = await answered(store, conv, "q0")
    other = await store.create_conversation("alice", "echo")
    elsewhere, _ = await answered(store, other, "elsewhere")
    bobs = await store.create_conversation("bob", "echo")
    bob_q, _ = await answered(store, bobs, "bob")

    for message_id in (elsewhere.id, bob_q.id, "msg_01JAAAAAAAAAAAAAAAAAAAAAAA"):
        with pytest.raises(NotFound):
            await edit(store, conv, message_id, "x")
        with pytest.raises(NotFound):
            await store.show_version("alice", conv.id, message_id)
    with pytest.raises(NotFound):
        await edit(store, conv, bob_q.id, "x", conversation_id=None)
    with pytest.raises(NotFound):
        await store.show_version("bob", conv.id, q0.id)
    with pytest.raises(NotFound):
        await store.show_version("alice", "conv_01JAAAAAAAAAAAAAAAAAAAAAAA", q0.id)
    with pytest.raises(InvalidInput):
        await edit(store, conv, a0.id, "a reply is regenerated, not edited")
    assert await shown(store, conv) == ["q0", "Q0"]
    assert await shown(store, bobs) == ["bob", "BOB"]


async def test_an_edit_without_a_conversation_id_is_in_its_messages(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    q0, _ = await answered(store, conv, "q0")
    await asyncio.sleep(0.005)
    await store.create_conversation("alice", "echo")  # now the latest: not the edit's
    started = await edit(store, conv, q0.id, "q0 edited", conversation_id=None)
    assert started.conversation.id == conv.id


async def test_deleting_a_conversation_removes_every_version(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    q0, a0 = await answered(store, conv, "q0")
    started = await edited(store, conv, q0.id, "q0 edited")
    old_reply = await regenerate(store, conv, "again")
    await store.delete_conversation("alice", conv.id)
    assert started.user_message is not None
    for message_id in (q0.id, a0.id, started.user_message.id, started.reply.id, old_reply.id):
        with pytest.raises(NotFound):
            await store.get_message("alice", message_id)


async def test_search_finds_the_shown_path_only(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo", "trip")
    q0, _ = await answered(store, conv, "zebra crossing")
    started = await edited(store, conv, q0.id, "yak pasture")

    async def found(query: str) -> list[str]:
        return [h.conversation.id for h in await store.search_conversations("alice", query)]

    assert await found("zebra") == []
    assert await found("yak") == [conv.id]
    await store.show_version("alice", conv.id, q0.id)
    assert await found("zebra") == [conv.id]
    assert await found("yak") == []
    assert started.user_message is not None
    await store.show_version("alice", conv.id, started.user_message.id)
    assert await found("pasture") == [conv.id]


# migration 5 on a database written before it


StoreFactory = Callable[[], Awaitable[Store]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Opens (and migrates) the same database each call; closes them all at the end."""
    opened: list[Store] = []
    async with AsyncExitStack() as stack:
        url = "" if request.param == "sqlite" else await stack.enter_async_context(
            fresh_schema())

        async def open_store() -> Store:
            store: Store = PostgresStore(url, max_size=2) if url else SQLiteStore(
                tmp_path / "rill.db")
            await store.start()
            opened.append(store)
            return store

        yield open_store
        for store in opened:
            await store.close()


async def test_migration_5_links_existing_messages_in_order(
    reopen: StoreFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as before_5:
        before_5.setattr(sql, "MIGRATIONS", [m for m in MIGRATIONS if m[0] < 5])
        old = await reopen()
        assert isinstance(old, sql.SQLStore)
        conv = await old.create_conversation("alice", "echo")
        other = await old.create_conversation("alice", "echo")
        rows = [(f"msg_01JAAAAAAAAAAAAAAAAAAAAAA{i}", conv.id if i % 3 else other.id, i)
                for i in range(7)]
        assert len(rows[0][0]) == len("msg_") + 26
        for message_id, conversation_id, i in rows:
            await old._db().execute(
                "INSERT INTO messages (id, conversation_id, user_id, chatbot_id, role, "
                "content, status, created_at, updated_at) "
                "VALUES ($1, $2, 'alice', 'echo', $3, $4, 'complete', 1, 1)",
                message_id, conversation_id, "user" if i % 2 else "assistant", f"m{i}",
            )
        await old.close()

    store = await reopen()
    for conversation_id in (conv.id, other.id):
        page = await store.history("alice", "echo", conversation_id=conversation_id)
        ids = [m.id for m in page.messages]
        assert ids == [r[0] for r in rows if r[1] == conversation_id]
        assert [m.parent_id for m in page.messages] == [None, *ids[:-1]]
        assert all(m.versions == (m.id,) for m in page.messages)
    # The migrated conversation takes new versions like any other.
    first = (await store.history("alice", "echo", conversation_id=conv.id)).messages[0]
    started = await edit(store, conv, first.id, "m1 edited")
    assert started.user_message is not None and started.user_message.parent_id is None
