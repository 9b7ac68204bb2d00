"""Spec § Publication: the form, its validation, the answer, and nothing half-published."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from tests.conformance.conftest import Hub
from tests.integration.hub.conftest import subscribe


def _problem(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == status


def test_success_is_2xx_with_the_id_as_utf8_text(strict: Hub) -> None:
    r = strict.publish([("topic", "https://example.com/books/1"), ("data", "x")],
                       strict.publisher())
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    # A generated id is an IRI (here a UUID URN).
    assert r.text.startswith("urn:uuid:") and uuid.UUID(r.text.removeprefix("urn:uuid:"))
    given = strict.publish([("topic", "t"), ("id", "https://example.com/rev/7")],
                           strict.publisher())
    assert given.text == "https://example.com/rev/7"


@pytest.mark.parametrize(
    "topic",
    [
        "/.well-known/mercure",
        "/.well-known/mercure/subscriptions/exact/a/b",
        "https://other.example/.well-known/mercure/subscriptions/x",
        "//other.example/.well-known/mercure",
        "/.well-known/%6Dercure/subscriptions/x",
        "/.well-known/%6dercure",
        "/.well-known/mercure/../mercure/x",
        "/a/b/../../.well-known/mercure/x",
        "/.well-known/%2E%2E/.well-known/mercure/x",
        "/.%77ell-known/mercure",
        "\\.well-known\\mercure\\x",
    ],
)
def test_reserved_namespace_is_400_after_normalization(strict: Hub, topic: str) -> None:
    _problem(strict.publish([("topic", topic), ("data", "forged")], strict.publisher()), 400)


@pytest.mark.parametrize(
    "topic", ["/.well-known/mercure-x", "/.well-known/MERCURE/x", "urn:x:/.well-known/mercure",
              "/.well-known%2Fmercure/x", "well-known/mercure"],
)
def test_topics_outside_the_namespace_are_accepted(strict: Hub, topic: str) -> None:
    assert strict.publish([("topic", topic)], strict.publisher()).status_code == 200


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ([("data", "no topic")], 400),
        ([("topic", "*")], 400),
        ([("topic", "a\x01b")], 400),
        ([("topic", "a\u200bb")], 400),
        ([("topic", "a\u202eb")], 400),
        ([("topic", "a\x85b")], 400),
        ([("topic", "t"), ("id", "earliest")], 400),
        ([("topic", "t"), ("id", "#fragment")], 400),
        ([("topic", "t"), ("id", "a\x01b")], 400),
        ([("topic", "t"), ("id", "a\u200bb")], 400),
        ([("topic", "t"), ("id", "a\nb")], 400),
        ([("topic", "t"), ("type", "mercure")], 400),
        ([("topic", "t"), ("type", "a\x01b")], 400),
        ([("topic", "t"), ("type", "a\u200bb")], 400),
        ([("topic", "t"), ("type", "a\r\ndata: x")], 400),
        ([("topic", "t"), ("retry", "12a")], 400),
        ([("topic", "t"), ("retry", "-1")], 400),
        ([("topic", "t"), ("data", "x" * 70_000)], 413),
        ([("topic", "t" * 600)], 413),
    ],
)
def test_invalid_fields_are_refused(strict: Hub, fields: list[tuple[str, str]],
                                    status: int) -> None:
    _problem(strict.publish(fields, strict.publisher()), status)


def test_unknown_fields_are_ignored(strict: Hub) -> None:
    r = strict.publish([("topic", "t"), ("data", "x"), ("future", "1")], strict.publisher())
    assert r.status_code == 200


def test_body_must_be_form_encoded(strict: Hub) -> None:
    r = httpx.post(strict.hub_url, json={"topic": "t"},
                   headers={"Authorization": f"Bearer {strict.publisher()}"})
    _problem(r, 400)


async def test_refused_publishes_reach_no_subscriber_and_no_retention(strict: Hub) -> None:
    bad = [
        [("topic", "/.well-known/%6Dercure/subscriptions/exact/x/y"), ("data", "forged")],
        [("topic", "conf/refused"), ("type", "mercure"), ("data", "forged")],
        [("topic", "conf/refused"), ("id", "earliest"), ("data", "forged")],
        [("topic", "conf/refused"), ("id", "a\u200bb"), ("data", "forged")],
        [("topic", "*"), ("data", "forged")],
    ]
    token = strict.subscriber()
    auth = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=strict.url, timeout=10) as c,
        subscribe(c, [("match", "*")], auth) as live,
    ):
        await asyncio.sleep(0.2)
        for fields in bad:
            assert strict.publish(fields, strict.publisher()).status_code == 400
        marker = strict.publish([("topic", "conf/refused"), ("data", "after")],
                                strict.publisher()).text
        seen = []
        while True:
            event = await live.next()
            if event.event == "mercure":
                continue  # the hub's own subscription events (this strict hub tracks them)
            seen.append(event)
            if event.id == marker:
                break
        assert all(e.data != "forged" for e in seen)
    # Nor were they retained: a replay of everything has none of them either.
    async with (
        httpx.AsyncClient(base_url=strict.url, timeout=10) as c,
        subscribe(c, [("match", "*"), ("last_event_id", "earliest")], auth) as replay,
    ):
        while (event := await replay.next()).id != marker:
            assert event.data != "forged"


async def test_private_field_marks_private_whatever_its_value(strict: Hub) -> None:
    async with (
        httpx.AsyncClient(base_url=strict.url, timeout=10) as c,
        subscribe(c, [("match", "conf/private")]) as anonymous,
    ):
        await asyncio.sleep(0.2)
        for value in ("", "off", "false", "on"):
            strict.publish([("topic", "conf/private"), ("private", value), ("data", value)],
                           strict.publisher())
        public = strict.publish([("topic", "conf/private"), ("data", "public")],
                                strict.publisher())
        event = await anonymous.next()
        assert (event.id, event.data) == (public.text, "public")


async def test_data_lines_become_separate_data_fields(strict: Hub) -> None:
    async with (
        httpx.AsyncClient(base_url=strict.url, timeout=10) as c,
        c.stream("GET", "/.well-known/mercure", params={"match": "conf/lines"}) as r,
    ):
        await asyncio.sleep(0.2)
        strict.publish([("topic", "conf/lines"), ("data", "a\r\nid: forged\rb\nc")],
                       strict.publisher())
        raw = b""
        async for chunk in r.aiter_bytes():
            raw += chunk
            if b"data: c\n\n" in raw:
                break
    assert b"data: a\ndata: id: forged\ndata: b\ndata: c\n\n" in raw


async def test_alternate_topics_need_every_grant_and_reach_either_audience(strict: Hub) -> None:
    canonical, alternate = "https://example.com/books/1", "https://example.com/users/42/books/1"
    only_canonical = strict.publisher(canonical)
    r = strict.publish([("topic", canonical), ("topic", alternate)], only_canonical)
    assert r.status_code == 403
    async with (
        httpx.AsyncClient(base_url=strict.url, timeout=10) as c,
        subscribe(c, [("match", alternate)]) as s,
    ):
        await asyncio.sleep(0.2)
        both = strict.publisher(canonical, alternate)
        r = strict.publish([("topic", canonical), ("topic", alternate), ("data", "x")], both)
        assert (await s.next()).id == r.text
