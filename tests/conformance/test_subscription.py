"""Spec § Subscription, § Matcher Types, § Reconciliation: what a subscriber gets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.conformance.conftest import COOKIE, SUBSCRIBER_KEY, Hub, detail
from tests.integration.hub.conftest import subscribe


def _client(hub: Hub, **kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=hub.url, timeout=10, **kwargs)


def _get(hub: Hub, params: Any, **headers: str) -> httpx.Response:
    """A subscribe request expected to be refused (so it does not stream)."""
    return httpx.get(hub.hub_url, params=params, headers=headers, timeout=10)


@pytest.mark.parametrize(
    "params",
    [
        [],
        [("topic", "t")],  # the previous revision's parameter, off on a strict hub
        [("matchURLPattern", "t/:id")],
        [("match_regex", "t")],
        [("MATCH", "t")],
        [("Match_exact", "t")],
        [("matches", "t")],
        [("match", "t"), ("match_uritemplate", "t/{id}")],
        [("match", "a\u200bb")],
        [("match", "a\u202eb")],
        [("match", "a\x01b")],
        [("match_urlpattern", "a\u200b/:id")],
        [("match_urlpattern", "https://([")],
        [("match", "x" * 600)],
        [("match", f"t{i}") for i in range(21)],
    ],
)
def test_bad_subscriptions_are_400(strict: Hub, params: list[tuple[str, str]]) -> None:
    r = _get(strict, params)
    assert r.status_code == 400, (params, r.text)
    assert r.headers["content-type"] == "application/problem+json"


async def test_exact_and_urlpattern_matchers(strict: Hub) -> None:
    params = [("match", "https://example.com/foo"), ("match_exact", "bar"),
              ("match_urlpattern", "https://example.com/books/:id")]
    async with _client(strict) as c, subscribe(c, params) as s:
        await asyncio.sleep(0.2)
        token = strict.publisher()
        sent = [
            ("https://example.com/foo", True), ("https://example.com/FOO", False),
            ("bar", True), ("https://example.com/books/7", True),
            ("https://example.com/books/7/pages", False), ("https://example.com/bar", False),
        ]
        ids = {t: strict.publish([("topic", t), ("data", t)], token).text for t, _ in sent}
        wanted = [ids[t] for t, ok in sent if ok]
        assert [e.id for e in await s.take(len(wanted))] == wanted
        await s.nothing()


async def test_events_carry_every_sse_field(strict: Hub) -> None:
    async with _client(strict) as c, subscribe(c, [("match", "conf/fields")]) as s:
        await asyncio.sleep(0.2)
        strict.publish([("topic", "conf/fields"), ("data", "d"), ("type", "book"),
                        ("id", "https://example.com/e/1"), ("retry", "1500")],
                       strict.publisher())
        event = await s.next()
        assert (event.data, event.event, event.id, event.retry) == (
            "d", "book", "https://example.com/e/1", 1500)


async def test_private_updates_need_a_subscribe_grant_on_the_topic(strict: Hub) -> None:
    reader = strict.subscriber("https://example.com/books/1")
    routes = [("match_urlpattern", "https://example.com/books/:id")]
    async with (
        _client(strict) as c,
        subscribe(c, routes, {"Authorization": f"Bearer {reader}"}) as granted,
        subscribe(c, routes) as anonymous,
    ):
        await asyncio.sleep(0.2)
        token = strict.publisher()
        one = strict.publish([("topic", "https://example.com/books/1"), ("private", "on")], token)
        strict.publish([("topic", "https://example.com/books/2"), ("private", "on")], token)
        public = strict.publish([("topic", "https://example.com/books/3")], token)
        # The routing matcher selects books/2, but only the token may widen what is read.
        assert [e.id for e in await granted.take(2)] == [one.text, public.text]
        assert [e.id for e in await anonymous.take(1)] == [public.text]
        await granted.nothing()


async def test_token_in_cookie(strict: Hub) -> None:
    reader = strict.subscriber("conf/cookie")
    async with (
        _client(strict, cookies={COOKIE: reader}) as c,
        subscribe(c, [("match", "conf/cookie")]) as s,
    ):
        await asyncio.sleep(0.2)
        r = strict.publish([("topic", "conf/cookie"), ("private", "on")], strict.publisher())
        assert (await s.next()).id == r.text


async def test_query_token_is_not_accepted_by_default(strict: Hub) -> None:
    # No URL tokens unless ``hub.query_token`` (RFC 9700): the subscriber stays anonymous
    # (and the metadata does not advertise ``query``: test_discovery).
    reader = strict.subscriber("conf/query")
    params = [("match", "conf/query"), ("access_token", reader)]
    async with _client(strict) as c, subscribe(c, params) as s:
        await asyncio.sleep(0.2)
        strict.publish([("topic", "conf/query"), ("private", "on")], strict.publisher())
        public = strict.publish([("topic", "conf/query")], strict.publisher())
        assert (await s.next()).id == public.text


async def test_replay_with_last_event_id_and_response_field(strict: Hub) -> None:
    token = strict.publisher()
    ids = [strict.publish([("topic", "conf/replay"), ("data", str(i))], token).text
           for i in range(4)]
    async with _client(strict) as c:
        async with subscribe(c, [("match", "conf/replay"), ("last_event_id", ids[0])]) as s:
            assert s.response.headers["mercure-last-event-id"] == ids[0]
            assert [e.id for e in await s.take(3)] == ids[1:]
        # The header takes precedence over the query parameter.
        async with subscribe(c, [("match", "conf/replay"), ("last_event_id", ids[0])],
                             {"Last-Event-ID": ids[2]}) as s:
            assert [e.id for e in await s.take(1)] == ids[3:]
        async with subscribe(c, [("match", "conf/replay"), ("last_event_id", "no-such-id")]) as s:
            assert s.response.headers["mercure-last-event-id"] == "earliest"
        async with subscribe(c, [("match", "conf/replay"), ("last_event_id", "earliest")]) as s:
            assert s.response.headers["mercure-last-event-id"] == "earliest"
            assert [e.id for e in await s.take(4)] == ids


async def test_replay_starts_after_the_earliest_occurrence_of_a_reused_id(strict: Hub) -> None:
    token = strict.publisher()
    topic = f"conf/reused/{time.monotonic_ns()}"
    reused = f"https://example.com/reused/{time.monotonic_ns()}"
    strict.publish([("topic", topic), ("id", reused), ("data", "first")], token)
    middle = strict.publish([("topic", topic), ("data", "middle")], token).text
    strict.publish([("topic", topic), ("id", reused), ("data", "second")], token)
    async with _client(strict) as c, subscribe(c, [("match", topic)],
                                               {"Last-Event-ID": reused}) as s:
        events = await s.take(2)
        assert [(e.id, e.data) for e in events] == [(middle, "middle"), (reused, "second")]


async def test_replay_reevaluates_authorization(strict: Hub) -> None:
    token = strict.publisher()
    topic = f"conf/replay-private/{time.monotonic_ns()}"
    hidden = strict.publish([("topic", topic), ("private", "on"), ("data", "secret")], token)
    shown = strict.publish([("topic", topic), ("data", "public")], token)
    async with _client(strict) as c, subscribe(c, [("match", topic),
                                                    ("last_event_id", "earliest")]) as s:
        assert (await s.next()).id == shown.text
        await s.nothing()
    assert hidden.status_code == 200


async def test_connection_closes_no_later_than_exp(strict: Hub) -> None:
    reader = strict.token([detail(["subscribe"], "*")], key=SUBSCRIBER_KEY, ttl=2)
    started = time.monotonic()
    async with _client(strict) as c, subscribe(c, [("match", "conf/exp")],
                                               {"Authorization": f"Bearer {reader}"}) as s:
        await s.ended(within=6)
    assert time.monotonic() - started < 4


async def test_idle_streams_get_keep_alive_comments(strict: Hub) -> None:
    async with (
        _client(strict) as c,
        c.stream("GET", "/.well-known/mercure", params={"match": "conf/idle"}) as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = b""
        async with asyncio.timeout(5):
            async for chunk in r.aiter_bytes():
                raw += chunk
                if b"\n:" in raw or raw.startswith(b":"):
                    break


async def test_subscribers_may_be_anonymous_for_public_updates(strict: Hub) -> None:
    async with _client(strict) as c, subscribe(c, [("match", "conf/anonymous")]) as s:
        await asyncio.sleep(0.2)
        r = strict.publish([("topic", "conf/anonymous")], strict.publisher())
        assert (await s.next()).id == r.text
