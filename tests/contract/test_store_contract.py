"""The ``Store`` contract, run unchanged against every implementation."""

from __future__ import annotations

import asyncio
import random

import asyncpg  # type: ignore[import-untyped]  # ships no type information
import pytest

from rill.errors import Conflict, NotFound, StorageError, TooManyRequests
from rill.store.base import Store
from rill.store.migrations import MIGRATIONS, POSTGRESQL_MIGRATIONS
from rill.store.models import Conversation, Message, TurnStart, Usage
from rill.store.postgres import PostgresStore
from tests.conftest import free_port
from tests.contract.conftest import fresh_schema

NODE = "node-a"


async def turn(
    store: Store, conv: Conversation, text: str = "hi", *, node: str = NODE, limit: int = 1000
) -> tuple[Message, Message]:
    started = await store.start_turn(
        user_id=conv.user_id,
        chatbot_id=conv.chatbot_id,
        conversation_id=conv.id,
        user_text=text,
        max_concurrent=limit,
        node_id=node,
    )
    assert started.user_message is not None
    return started.user_message, started.reply


async def finish(store: Store, message_id: str, content: str = "done") -> Message:
    return await store.finish_message(
        message_id,
        content=content,
        status="complete",
        stop_reason="end_turn",
        usage=Usage(3, 4),
        final_event_id="9-0",
    )


async def test_ping(store: Store) -> None:
    await store.ping()


# users


async def test_ensure_user_is_idempotent(store: Store) -> None:
    first = await store.ensure_user("alice")
    assert first.id == "alice"
    await asyncio.sleep(0.005)
    again = await store.ensure_user("alice")
    assert again == first
    concurrent = await asyncio.gather(*(store.ensure_user("bob") for _ in range(10)))
    assert len({u.created_at for u in concurrent}) == 1


# conversations


async def test_create_and_get_conversation(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo", "Greetings")
    assert (conv.user_id, conv.chatbot_id, conv.title) == ("alice", "echo", "Greetings")
    assert conv.created_at == conv.updated_at > 0
    assert await store.get_conversation("alice", conv.id) == conv


async def test_conversation_titles_are_bounded(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo", "t" * 500)
    assert len(conv.title) == 80
    assert (await store.get_conversation("alice", conv.id)).title == conv.title


async def test_rename_conversation(store: Store) -> None:
    first = await store.create_conversation("alice", "echo", "Old")
    second = await store.create_conversation("alice", "echo", "Newer")
    renamed = await store.rename_conversation("alice", first.id, "Trip to Busan " + "x" * 200)
    assert renamed.title == ("Trip to Busan " + "x" * 200)[:80]
    assert (renamed.id, renamed.updated_at) == (first.id, first.updated_at)
    assert await store.get_conversation("alice", first.id) == renamed
    # Renaming does not move it up the list.
    assert [c.id for c in await store.list_conversations("alice")] == [second.id, first.id]
    await store.ensure_user("mallory")
    with pytest.raises(NotFound):
        await store.rename_conversation("mallory", first.id, "mine now")
    with pytest.raises(NotFound):
        await store.rename_conversation("alice", "conv_missing", "x")
    assert (await store.get_conversation("alice", first.id)).title == renamed.title


async def test_another_users_conversation_is_not_found(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    await store.ensure_user("mallory")
    with pytest.raises(NotFound):
        await store.get_conversation("mallory", conv.id)
    with pytest.raises(NotFound):
        await store.get_conversation("alice", "conv_missing")
    with pytest.raises(NotFound):
        await store.start_turn(
            user_id="mallory",
            chatbot_id="echo",
            conversation_id=conv.id,
            user_text="x",
            max_concurrent=5,
            node_id=NODE,
        )
    assert await store.list_conversations("mallory") == []


async def test_list_conversations_most_recent_first(store: Store) -> None:
    a = await store.create_conversation("alice", "echo")
    await asyncio.sleep(0.005)
    b = await store.create_conversation("alice", "echo")
    await asyncio.sleep(0.005)
    g = await store.create_conversation("alice", "guide")
    await store.create_conversation("bob", "echo")
    assert [c.id for c in await store.list_conversations("alice")] == [g.id, b.id, a.id]
    assert [c.id for c in await store.list_conversations("alice", "echo")] == [b.id, a.id]
    assert [c.id for c in await store.list_conversations("alice", limit=1)] == [g.id]
    await asyncio.sleep(0.005)
    await turn(store, a)  # touching a conversation moves it to the front
    assert [c.id for c in await store.list_conversations("alice", "echo")] == [a.id, b.id]


async def test_list_conversations_after_a_cursor(store: Store) -> None:
    made = [await store.create_conversation("alice", "echo") for _ in range(5)]
    await store.create_conversation("bob", "echo")
    first = await store.list_conversations("alice", "echo", limit=2)
    seen = [c.id for c in first]
    while True:
        last = (first[-1].updated_at, first[-1].id)
        first = await store.list_conversations("alice", "echo", limit=2, before=last)
        if not first:
            break
        seen += [c.id for c in first]
    # Same-millisecond conversations are ordered by id, so no page repeats or skips one.
    assert seen == [c.id for c in await store.list_conversations("alice", "echo")]
    assert sorted(seen) == sorted(c.id for c in made)


# search (issue 17)


async def test_search_finds_titles_and_finished_messages_of_the_owner_only(store: Store) -> None:
    trip = await store.create_conversation("alice", "echo", "Trip to Busan")
    recipe = await store.create_conversation("alice", "guide", "Dinner")
    _, reply = await turn(store, recipe, "How long do I boil kimchi stew?")
    await finish(store, reply.id, "About twenty minutes, then add the tofu.")
    foreign = await store.create_conversation("mallory", "echo", "Busan tofu kimchi")
    await turn(store, foreign, "tofu")

    hits = await store.search_conversations("alice", "busan")
    assert [(h.conversation.id, h.snippet) for h in hits] == [(trip.id, "Trip to Busan")]
    assert hits[0].conversation == await store.get_conversation("alice", trip.id)
    hits = await store.search_conversations("alice", "TOFU")
    assert [h.conversation.id for h in hits] == [recipe.id]
    assert "tofu" in hits[0].snippet
    # Every word must match, each as a word prefix, in any order.
    assert [h.conversation.id for h in await store.search_conversations("alice", "stew kim")] == [
        recipe.id
    ]
    assert await store.search_conversations("alice", "stew busan") == []
    assert await store.search_conversations("alice", "ofu") == []
    # Scoped to a bot, and never another user's.
    assert await store.search_conversations("alice", "tofu", chatbot_id="echo") == []
    assert len(await store.search_conversations("alice", "tofu", chatbot_id="guide")) == 1
    assert [h.conversation.id for h in await store.search_conversations("mallory", "busan")] == [
        foreign.id
    ]
    assert await store.search_conversations("nobody", "tofu") == []


async def test_search_follows_renames_deletes_and_finished_replies(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo", "Untitled plans")
    _, reply = await turn(store, conv, "hello")
    await store.checkpoint(reply.id, "a streaming glacier")
    # A streaming reply is searchable once it ends.
    assert await store.search_conversations("alice", "glacier") == []
    await finish(store, reply.id, "the glacier melted")
    assert len(await store.search_conversations("alice", "glacier")) == 1
    await store.rename_conversation("alice", conv.id, "Iceland")
    assert [h.snippet for h in await store.search_conversations("alice", "iceland")] == ["Iceland"]
    assert await store.search_conversations("alice", "plans") == []
    await store.delete_conversation("alice", conv.id)
    assert await store.search_conversations("alice", "glacier") == []
    assert await store.search_conversations("alice", "iceland") == []


async def test_search_korean_text(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo", "부산 여행 계획")
    _, reply = await turn(store, conv, "제주도 맛집을 추천해 주세요")
    await finish(store, reply.id, "흑돼지 구이가 유명합니다. Jeju black pork is famous.")
    for query, expected in [("부산", "부산 여행 계획"), ("여행 계획", "부산 여행 계획"),
                            ("맛집", "맛집을"), ("흑돼지 pork", "흑돼지")]:
        hits = await store.search_conversations("alice", query)
        assert [h.conversation.id for h in hits] == [conv.id], query
        assert expected in hits[0].snippet, query
    assert await store.search_conversations("alice", "서울") == []


NASTY_QUERIES = [
    '"', "'", '"unclosed', "a\"b", "*", "tofu*", "^tofu", "-tofu", "+tofu", "NOT tofu",
    "tofu AND", "OR", "NEAR(tofu kimchi)", "tofu:*", "tofu & !kimchi", "(tofu", "tofu)",
    "col:tofu", "content:tofu", "{tofu}", "tofu | kimchi", "<->", "tofu <-> kimchi", "'';--",
    "%", "_", "\\", "\t\n", "   ", "", "tofu_kimchi", "ｔｏｆｕ", "x" * 5000, "a " * 500,
    "😀 tofu", "\u200b", "\ufeff", "tofu\u0301", "²³", "١٢٣", "ǅ",
]


async def test_search_any_query_is_safe(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo", "Tofu and kimchi")
    expected = {"tofu*", "^tofu", "-tofu", "+tofu", "tofu AND",
                "tofu:*", "tofu & !kimchi", "(tofu", "tofu)", "{tofu}", "tofu | kimchi",
                "tofu <-> kimchi", "😀 tofu", "tofu_kimchi"}
    rng = random.Random(17)
    alphabet = "tofu \"'*:^-+()&|!<>{}[]~%_,.;\\/@#$?=0123456789한국어ÀçĳⅧ\u200b\t\n"
    fuzz = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(300)]
    for query in [*NASTY_QUERIES, *fuzz]:
        hits = await store.search_conversations("alice", query)
        assert [h.conversation.id for h in hits] in ([], [conv.id]), query
        if query in expected:
            assert hits, query


async def test_search_ranks_title_matches_then_relevance(store: Store) -> None:
    passing = await store.create_conversation("alice", "echo", "Groceries")
    _, reply = await turn(store, passing, "list " * 60 + "we also need lemons " + "list " * 60)
    await finish(store, reply.id)
    focused = await store.create_conversation("alice", "echo", "Citrus")
    _, reply = await turn(store, focused, "lemons lemons lemons")
    await finish(store, reply.id)
    titled = await store.create_conversation("alice", "echo", "Lemons tart")
    many = [(await store.create_conversation("alice", "echo", f"Lemon {n}")) for n in range(5)]
    hits = await store.search_conversations("alice", "lemons")
    assert [h.conversation.id for h in hits] == [titled.id, focused.id, passing.id]
    assert hits[2].snippet.startswith("…") and hits[2].snippet.endswith("…")
    assert "we also need lemons" in hits[2].snippet and len(hits[2].snippet) < 200
    limited = await store.search_conversations("alice", "lemon", limit=3)
    assert len(limited) == 3
    assert {h.conversation.id for h in limited} <= {titled.id, *(c.id for c in many)}


async def test_latest_conversation(store: Store) -> None:
    assert await store.latest_conversation("alice", "echo") is None
    a = await store.create_conversation("alice", "echo")
    await asyncio.sleep(0.005)
    b = await store.create_conversation("alice", "echo")
    await store.create_conversation("alice", "guide")
    assert (await store.latest_conversation("alice", "echo")) == b
    await asyncio.sleep(0.005)
    await turn(store, a)
    latest = await store.latest_conversation("alice", "echo")
    assert latest is not None and latest.id == a.id
    assert await store.latest_conversation("bob", "echo") is None


async def test_first_turn_names_an_untitled_conversation(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    await turn(store, conv, "  What   is\nSSE? " + "x" * 200)
    title = (await store.get_conversation("alice", conv.id)).title
    assert title.startswith("What is SSE? x") and len(title) == 80
    await turn(store, conv, "second question")
    assert (await store.get_conversation("alice", conv.id)).title == title


async def test_delete_conversation(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    user_msg, bot_msg = await turn(store, conv)
    await store.ensure_user("mallory")
    with pytest.raises(NotFound):
        await store.delete_conversation("mallory", conv.id)
    with pytest.raises(Conflict):
        await store.delete_conversation("alice", conv.id)
    await finish(store, bot_msg.id)
    await store.delete_conversation("alice", conv.id)
    with pytest.raises(NotFound):
        await store.get_conversation("alice", conv.id)
    for m in (user_msg, bot_msg):
        with pytest.raises(NotFound):
            await store.get_message("alice", m.id)
    with pytest.raises(NotFound):
        await store.delete_conversation("alice", conv.id)


# turns


async def test_start_turn_stores_both_messages(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    user_msg, bot_msg = await turn(store, conv, "hello")
    assert (user_msg.role, user_msg.content, user_msg.status) == ("user", "hello", "complete")
    assert (bot_msg.role, bot_msg.content, bot_msg.status) == ("assistant", "", "streaming")
    assert bot_msg.node_id == NODE
    assert user_msg.id < bot_msg.id
    for m in (user_msg, bot_msg):
        assert (m.conversation_id, m.user_id, m.chatbot_id) == (conv.id, "alice", "echo")
        assert await store.get_message("alice", m.id) == m


async def test_start_turn_without_user_text(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    started = await store.start_turn(
        user_id="alice", chatbot_id="echo", conversation_id=conv.id, user_text=None,
        max_concurrent=2, node_id=NODE,
    )
    assert started.user_message is None
    assert [m.id for m in await store.recent_messages(conv.id, 10)] == [started.reply.id]


async def test_regenerate_shows_a_new_reply_and_keeps_the_old(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    user_msg, bot_msg = await turn(store, conv)

    async def regenerate() -> Message:
        started = await store.start_turn(
            user_id="alice",
            chatbot_id="echo",
            conversation_id=conv.id,
            user_text=None,
            max_concurrent=5,
            node_id=NODE,
            replace_last_reply=True,
        )
        return started.reply

    with pytest.raises(Conflict):  # still streaming
        await regenerate()
    await finish(store, bot_msg.id)
    new = await regenerate()
    assert [m.id for m in await store.recent_messages(conv.id, 10)] == [user_msg.id, new.id]
    assert new.parent_id == user_msg.id
    # The replaced reply stays, an earlier version of the new one.
    assert (await store.get_message("alice", bot_msg.id)).content == "done"


async def test_start_turn_without_a_conversation_continues_the_latest(store: Store) -> None:
    await store.ensure_user("alice")

    async def ask(chatbot: str, text: str) -> TurnStart:
        started = await store.start_turn(
            user_id="alice", chatbot_id=chatbot, conversation_id=None, user_text=text,
            max_concurrent=10, node_id=NODE,
        )
        await finish(store, started.reply.id)
        return started

    first = await ask("echo", "  Hello   there ")
    assert first.conversation.chatbot_id == "echo"
    assert first.conversation.title == "Hello there"
    assert await store.get_conversation("alice", first.conversation.id) == first.conversation
    second = await ask("echo", "again")
    assert second.conversation.id == first.conversation.id
    other_bot = await ask("guide", "hi")
    assert other_bot.conversation.id != first.conversation.id
    await asyncio.sleep(0.005)
    newer = await store.create_conversation("alice", "echo")
    assert (await ask("echo", "in the new one")).conversation.id == newer.id


async def test_start_turn_in_another_chatbots_conversation_is_a_conflict(store: Store) -> None:
    conv = await store.create_conversation("alice", "guide")
    with pytest.raises(Conflict):
        await store.start_turn(
            user_id="alice", chatbot_id="echo", conversation_id=conv.id, user_text="x",
            max_concurrent=5, node_id=NODE,
        )
    assert await store.recent_messages(conv.id, 10) == []


async def test_a_refused_first_turn_leaves_no_conversation(store: Store) -> None:
    conv = await store.create_conversation("alice", "guide")
    await turn(store, conv, limit=1)  # one reply streaming: the limit of 1 is reached
    with pytest.raises(TooManyRequests):
        await store.start_turn(
            user_id="alice", chatbot_id="echo", conversation_id=None, user_text="x",
            max_concurrent=1, node_id=NODE,
        )
    assert await store.list_conversations("alice", "echo") == []


async def test_start_turn_reads_the_context_before_the_reply(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    ids = []
    for i in range(3):
        user_msg, reply = await turn(store, conv, f"q{i}")
        await finish(store, reply.id, f"a{i}")
        ids += [user_msg.id, reply.id]

    async def context(limit: int, regenerate: bool = False) -> TurnStart:
        return await store.start_turn(
            user_id="alice", chatbot_id="echo", conversation_id=conv.id,
            user_text=None if regenerate else "q3", max_concurrent=10, node_id=NODE,
            context_messages=limit, replace_last_reply=regenerate,
        )

    started = await context(4)
    assert started.user_message is not None
    assert [m.id for m in started.context] == [*ids[-3:], started.user_message.id]
    assert [m.content for m in started.context] == ["a1", "q2", "a2", "q3"]
    await finish(store, started.reply.id, "a3")
    # Regenerating: the replaced reply is gone, the question it answered is last.
    regenerated = await context(100, regenerate=True)
    assert [m.content for m in regenerated.context] == [
        "q0", "a0", "q1", "a1", "q2", "a2", "q3"]
    await finish(store, regenerated.reply.id, "a3 again")
    assert (await context(0)).context == []


async def test_concurrent_turns_never_see_a_later_question(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    started = await asyncio.gather(*(
        store.start_turn(
            user_id="alice", chatbot_id="echo", conversation_id=conv.id, user_text=f"q{i}",
            max_concurrent=100, node_id=NODE, context_messages=100,
        )
        for i in range(12)
    ))
    for turn_start in started:
        assert turn_start.user_message is not None
        assert turn_start.context[-1] == turn_start.user_message
        assert all(m.id < turn_start.reply.id for m in turn_start.context)
    # Together the turns saw every question: each one's context is a prefix of the last's.
    longest = max(started, key=lambda t: len(t.context)).context
    assert len(longest) == 12 * 2 - 1


async def test_concurrent_generation_limit_holds_under_concurrency(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    other = await store.create_conversation("bob", "echo")
    results = await asyncio.gather(
        *(turn(store, conv, f"q{i}", limit=2) for i in range(10)),
        return_exceptions=True,
    )
    started = [r for r in results if isinstance(r, tuple)]
    refused = [r for r in results if isinstance(r, TooManyRequests)]
    assert (len(started), len(refused)) == (2, 8), results
    assert refused[0].retry_after > 0
    # Refused turns leave nothing behind.
    assert len(await store.recent_messages(conv.id, 100)) == 4
    # The limit is per user, and frees up as replies finish.
    await turn(store, other, limit=2)
    with pytest.raises(TooManyRequests):
        await turn(store, conv, limit=2)
    await finish(store, started[0][1].id)
    await turn(store, conv, limit=2)


async def test_checkpoint_saves_text_while_streaming_only(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    _, bot_msg = await turn(store, conv)
    await store.checkpoint(bot_msg.id, "partial")
    assert (await store.get_message("alice", bot_msg.id)).content == "partial"
    await finish(store, bot_msg.id, "final")
    await store.checkpoint(bot_msg.id, "too late")
    assert (await store.get_message("alice", bot_msg.id)).content == "final"


async def test_finish_message_is_idempotent(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    _, bot_msg = await turn(store, conv)
    done = await finish(store, bot_msg.id, "the answer")
    assert (done.status, done.content, done.stop_reason) == ("complete", "the answer", "end_turn")
    assert done.usage == Usage(3, 4)
    assert done.final_event_id == "9-0"
    again = await store.finish_message(
        bot_msg.id,
        content="other",
        status="error",
        stop_reason=None,
        usage=None,
        final_event_id=None,
        error="boom",
    )
    assert again == done
    assert await store.get_message("alice", bot_msg.id) == done


async def test_finish_message_with_error_and_without_usage(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    _, bot_msg = await turn(store, conv)
    failed = await store.finish_message(
        bot_msg.id,
        content="par",
        status="error",
        stop_reason=None,
        usage=None,
        final_event_id=None,
        error="upstream timed out",
    )
    assert (failed.status, failed.content, failed.error, failed.usage) == (
        "error",
        "par",
        "upstream timed out",
        None,
    )
    with pytest.raises(NotFound):
        await finish(store, "msg_missing")


async def test_get_message_ownership(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    user_msg, _ = await turn(store, conv)
    with pytest.raises(NotFound):
        await store.get_message("mallory", user_msg.id)
    with pytest.raises(NotFound):
        await store.get_message("alice", "msg_missing")


async def test_recent_messages_oldest_first(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    other = await store.create_conversation("alice", "echo")
    ids: list[str] = []
    for i in range(5):
        user_msg, bot_msg = await turn(store, conv, f"q{i}")
        await turn(store, other, "noise")
        ids += [user_msg.id, bot_msg.id]
    assert [m.id for m in await store.recent_messages(conv.id, 100)] == ids
    assert [m.id for m in await store.recent_messages(conv.id, 3)] == ids[-3:]
    assert await store.recent_messages("conv_missing", 10) == []


# history


async def make_history(store: Store) -> tuple[Conversation, list[str], list[str]]:
    """250 messages with bot "echo" for alice (200 in one conversation), plus noise."""
    main = await store.create_conversation("alice", "echo")
    side = await store.create_conversation("alice", "echo")
    noise_bot = await store.create_conversation("alice", "guide")
    noise_user = await store.create_conversation("bob", "echo")
    everything: list[str] = []
    in_main: list[str] = []
    for i in range(125):
        conv = side if i % 5 == 4 else main
        user_msg, bot_msg = await turn(store, conv, f"q{i}")
        everything += [user_msg.id, bot_msg.id]
        if conv is main:
            in_main += [user_msg.id, bot_msg.id]
        if i % 25 == 0:
            await turn(store, noise_bot)
            await turn(store, noise_user)
    return main, everything, in_main


async def walk(store: Store, conversation_id: str | None, limit: int) -> list[str]:
    seen: list[str] = []
    before: str | None = None
    while True:
        page = await store.history(
            "alice", "echo", conversation_id=conversation_id, before=before, limit=limit
        )
        ids = [m.id for m in page.messages]
        assert ids == sorted(ids), "a page is in time order"
        assert len(ids) <= limit
        if page.has_more:
            assert len(ids) == limit
            assert page.next_cursor == ids[0]
        else:
            assert page.next_cursor is None
        seen = ids + seen
        if not page.has_more:
            return seen
        before = page.next_cursor


async def test_history_cursor_pagination(store: Store) -> None:
    main, everything, in_main = await make_history(store)
    assert len(everything) == 250 and len(in_main) == 200
    assert await walk(store, None, 20) == everything
    assert await walk(store, main.id, 20) == in_main
    assert await walk(store, None, 250) == everything
    assert await walk(store, None, 7) == everything
    newest = await store.history("alice", "echo", limit=20)
    assert [m.id for m in newest.messages] == everything[-20:]
    assert all(m.user_id == "alice" and m.chatbot_id == "echo" for m in newest.messages)


async def test_history_edges(store: Store) -> None:
    assert (await store.history("alice", "echo")).messages == []
    conv = await store.create_conversation("alice", "echo")
    user_msg, bot_msg = await turn(store, conv)
    page = await store.history("alice", "echo", limit=2)
    assert ([m.id for m in page.messages], page.has_more) == ([user_msg.id, bot_msg.id], False)
    oldest = await store.history("alice", "echo", before=user_msg.id)
    assert (oldest.messages, oldest.has_more, oldest.next_cursor) == ([], False, None)
    with pytest.raises(NotFound):
        await store.history("alice", "echo", before="msg_missing")
    with pytest.raises(NotFound):
        await store.history("mallory", "echo", before=user_msg.id)
    assert (await store.history("mallory", "echo")).messages == []


async def test_history_page(store: Store) -> None:
    _, everything, _ = await make_history(store)
    assert [m.id for m in await store.history_page("alice", "echo", page=0, page_size=20)] == (
        everything[-20:]
    )
    assert [m.id for m in await store.history_page("alice", "echo", page=1, page_size=20)] == (
        everything[-40:-20]
    )
    last = await store.history_page("alice", "echo", page=12, page_size=20)
    assert [m.id for m in last] == everything[:10]
    assert await store.history_page("alice", "echo", page=13, page_size=20) == []


# crash recovery


async def test_interrupt_streaming_by_node_and_all(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    other = await store.create_conversation("bob", "echo")
    _, on_a = await turn(store, conv, node="node-a")
    _, on_b = await turn(store, other, node="node-b")
    _, on_b2 = await turn(store, conv, node="node-b")
    _, done = await turn(store, conv, node="node-b")
    await finish(store, done.id)
    await store.checkpoint(on_b.id, "half a rep")
    assert sorted(await store.streaming_nodes()) == ["node-a", "node-b"]

    orphans = await store.streaming_replies("node-b")
    assert [m.id for m in orphans] == sorted([on_b.id, on_b2.id])
    assert {m.id: m.content for m in orphans}[on_b.id] == "half a rep"
    assert await store.streaming_replies("node-c") == []
    assert await store.interrupt_streaming("node-b") == 2
    assert await store.streaming_replies("node-b") == []
    interrupted = await store.get_message("bob", on_b.id)
    assert (interrupted.status, interrupted.content) == ("interrupted", "half a rep")
    assert (await store.get_message("alice", on_b2.id)).status == "interrupted"
    assert (await store.get_message("alice", done.id)).status == "complete"
    assert (await store.get_message("alice", on_a.id)).status == "streaming"
    assert await store.streaming_nodes() == ["node-a"]
    assert await store.interrupt_streaming("node-b") == 0

    assert await store.interrupt_streaming() == 1
    assert (await store.get_message("alice", on_a.id)).status == "interrupted"
    assert await store.streaming_nodes() == []
    # An interrupted reply is final: a late finish from the dead node changes nothing.
    late = await finish(store, on_a.id, "late text")
    assert late.status == "interrupted"


# PostgreSQL only: several nodes on one database.

postgres_only = pytest.mark.postgres


@postgres_only
async def test_nodes_starting_at_once_migrate_once() -> None:
    async with fresh_schema() as url:
        nodes = [PostgresStore(url, max_size=2) for _ in range(4)]
        await asyncio.gather(*(n.start() for n in nodes))
        try:
            conn = await asyncpg.connect(url)
            try:
                rows = await conn.fetch("SELECT version FROM rill_schema")
            finally:
                await conn.close()
            assert sorted(r[0] for r in rows) == sorted(
                v for v, _ in [*MIGRATIONS, *POSTGRESQL_MIGRATIONS]
            )
            await nodes[0].ensure_user("alice")
            assert (await nodes[3].ensure_user("alice")).id == "alice"
        finally:
            for n in nodes:
                await n.close()


@postgres_only
async def test_generation_limit_holds_across_nodes() -> None:
    async with fresh_schema() as url:
        nodes = [PostgresStore(url, max_size=5) for _ in range(3)]
        for n in nodes:
            await n.start()
        try:
            conv = await nodes[0].create_conversation("alice", "echo")
            results = await asyncio.gather(
                *(
                    nodes[i % 3].start_turn(
                        user_id="alice",
                        chatbot_id="echo",
                        conversation_id=conv.id,
                        user_text=f"q{i}",
                        max_concurrent=2,
                        node_id=f"node-{i % 3}",
                    )
                    for i in range(12)
                ),
                return_exceptions=True,
            )
            assert sum(isinstance(r, TurnStart) for r in results) == 2, results
            assert sum(isinstance(r, TooManyRequests) for r in results) == 10
        finally:
            for n in nodes:
                await n.close()


@postgres_only
async def test_unreachable_database_is_a_storage_error() -> None:
    store = PostgresStore(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    with pytest.raises(StorageError):
        await store.start()
    with pytest.raises(StorageError):
        await store.ping()


@postgres_only
async def test_driver_errors_become_storage_errors() -> None:
    async with fresh_schema() as url:
        store = PostgresStore(url)
        await store.start()
        await store.close()
        with pytest.raises(StorageError):
            await store.ensure_user("alice")
        await store.start()
        await store._pool.close()  # the pool dies under the store
        with pytest.raises(StorageError):
            await store.ping()
        with pytest.raises(StorageError):
            await store.delete_conversation("alice", "conv_x")
        await store.close()


async def test_checkpoint_many_saves_each_streaming_reply_its_own_text(store: Store) -> None:
    conv = await store.create_conversation("alice", "echo")
    replies = [(await turn(store, conv))[1] for _ in range(3)]
    await finish(store, replies[2].id, "final")
    await store.checkpoint_many(
        [(replies[0].id, "zero"), (replies[1].id, "one's 'quoted' text"), (replies[2].id, "late")]
    )
    await store.checkpoint_many([])
    texts = [(await store.get_message("alice", r.id)).content for r in replies]
    assert texts == ["zero", "one's 'quoted' text", "final"]


async def test_revoked_tokens_are_denied_until_they_expire(store: Store) -> None:
    from rill.ids import now_ms

    assert await store.last_revocation() == 0
    assert not await store.is_token_revoked("digest-a")
    await store.revoke_token("digest-a", now_ms() + 60_000)
    await store.revoke_token("digest-a", now_ms() + 60_000)  # twice is harmless
    assert await store.is_token_revoked("digest-a")
    assert not await store.is_token_revoked("digest-b")
    first = await store.last_revocation()
    assert first > 0
    await store.revoke_token("digest-old", now_ms() - 1)
    assert not await store.is_token_revoked("digest-old"), "past its expiry it is forgotten"
    await asyncio.sleep(0.005)
    await store.revoke_token("digest-b", now_ms() + 60_000)
    assert await store.last_revocation() > first
