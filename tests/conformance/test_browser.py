"""Publish and subscribe as a web page does: ``fetch`` and ``EventSource`` in Chromium.

Every page is one of the hub's own (its metadata document), so requests are
same-origin, as for an application served next to its hub. Pages use the host
name ``localhost``: Chromium accepts the ``Secure`` hub cookie over plain HTTP
only there (a ``__Secure-`` cookie is refused on ``http://127.0.0.1``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conformance.conftest import COOKIE, SUBSCRIBER_KEY, Hub, detail, pattern
from tests.conftest import CHROMIUM
from tests.conftest import CHROMIUM_ARGS as ARGS

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")

#: Opens ``window.source`` on the hub with the given query pairs; collects every event.
SUBSCRIBE = """([pairs, types]) => {
    window.received = [];
    const url = new URL('/.well-known/mercure', location.origin);
    for (const [name, value] of pairs) url.searchParams.append(name, value);
    window.source = new EventSource(url, {withCredentials: true});
    window.opened = new Promise((resolve) => { window.source.onopen = resolve; });
    for (const type of types) {
        window.source.addEventListener(type, (e) =>
            window.received.push({type: e.type, data: e.data, id: e.lastEventId}));
    }
}"""

#: Publishes from the page with ``fetch`` and a bearer token; the hub's answer.
PUBLISH = """async ([token, pairs]) => {
    const body = new URLSearchParams();
    for (const [name, value] of pairs) body.append(name, value);
    const r = await fetch('/.well-known/mercure', {
        method: 'POST', body, headers: {Authorization: 'Bearer ' + token}});
    return {status: r.status, type: r.headers.get('content-type'), body: await r.text()};
}"""


@contextlib.asynccontextmanager
async def _page(hub: Hub, cookies: list[dict[str, Any]] | None = None) -> AsyncIterator[Any]:
    api = pytest.importorskip("playwright.async_api")
    async with api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = await browser.new_context()
            if cookies:
                await context.add_cookies(cookies)
            page = await context.new_page()
            await page.goto(f"{_origin(hub)}/.well-known/oauth-protected-resource/.well-known/mercure")
            yield page
        finally:
            await browser.close()


def _origin(hub: Hub) -> str:
    return f"http://localhost:{hub.server.port}"


def _cookie(hub: Hub, token: str) -> dict[str, Any]:
    # The attributes the spec asks for: Secure, HttpOnly, SameSite, Path of the hub.
    return {"name": COOKIE, "value": token, "domain": "localhost", "path": "/.well-known/mercure",
            "secure": True, "httpOnly": True, "sameSite": "Strict"}


async def _received(page: Any, count: int) -> list[dict[str, str]]:
    handle = await page.wait_for_function(
        f"() => window.received.length >= {count} && window.received", timeout=10_000)
    return list(await handle.json_value())


async def test_current_spec_tokens_publish_and_subscribe_end_to_end(strict: Hub) -> None:
    token = strict.publisher()
    async with _page(strict) as page:
        pairs = [["match", "https://example.com/books/1"],
                 ["match_urlpattern", "https://example.com/authors/:id"]]
        await page.evaluate(SUBSCRIBE, [pairs, ["message", "book"]])
        await page.evaluate("() => window.opened")
        first = await page.evaluate(PUBLISH, [token, [["topic", "https://example.com/books/1"],
                                                      ["data", "b1"], ["type", "book"]]])
        assert first["status"] == 200 and first["type"] == "text/plain; charset=utf-8"
        await page.evaluate(PUBLISH, [token, [["topic", "https://example.com/books/2"],
                                              ["data", "not routed"]]])
        second = await page.evaluate(PUBLISH, [token, [["topic", "https://example.com/authors/9"],
                                                       ["data", "a9"]]])
        got = await _received(page, 2)
        assert got[:2] == [
            {"type": "book", "data": "b1", "id": first["body"]},
            {"type": "message", "data": "a9", "id": second["body"]},
        ]


async def test_private_updates_through_the_cookie(strict: Hub) -> None:
    reader = strict.token([detail(["subscribe"], pattern("https://example.com/users/42/:n"))],
                          key=SUBSCRIBER_KEY)
    async with _page(strict, [_cookie(strict, reader)]) as page:
        pairs = [["match_urlpattern", "https://example.com/users/:user/:n"]]
        await page.evaluate(SUBSCRIBE, [pairs, ["message"]])
        await page.evaluate("() => window.opened")
        token = strict.publisher()
        await page.evaluate(PUBLISH, [token, [["topic", "https://example.com/users/7/inbox"],
                                              ["private", "on"], ["data", "not yours"]]])
        mine = await page.evaluate(PUBLISH, [token, [["topic", "https://example.com/users/42/inbox"],
                                                     ["private", "on"], ["data", "yours"]]])
        got = await _received(page, 1)
        assert got == [{"type": "message", "data": "yours", "id": mine["body"]}]


async def test_refused_publishes_never_reach_the_page(strict: Hub) -> None:
    token = strict.publisher()
    async with _page(strict) as page:
        await page.evaluate(SUBSCRIBE, [[["match", "*"]], ["message", "mercure"]])
        await page.evaluate("() => window.opened")
        for pairs in (
            [["topic", "/.well-known/%6Dercure/subscriptions/exact/x/y"], ["data", "forged"]],
            [["topic", "browser/t"], ["type", "mercure"], ["data", "forged"]],
            [["topic", "browser/t"], ["id", "earliest"], ["data", "forged"]],
            [["topic", "browser/t"], ["id", "x\u0001"], ["data", "forged"]],
            [["topic", "browser/t"], ["type", "x\u200b"], ["data", "forged"]],
            [["topic", "*"], ["data", "forged"]],
        ):
            answer = await page.evaluate(PUBLISH, [token, pairs])
            assert answer["status"] == 400 and answer["type"] == "application/problem+json"
        good = await page.evaluate(PUBLISH, [token, [["topic", "browser/t"], ["data", "ok"]]])
        handle = await page.wait_for_function(
            f"() => window.received.some((e) => e.id === {good['body']!r}) && window.received")
        assert all(e["data"] != "forged" for e in await handle.json_value())


async def test_first_connection_replays_from_the_last_event_id_parameter(strict: Hub) -> None:
    token = strict.publisher()
    ids = [strict.publish([("topic", "browser/replay"), ("data", str(i))], token).text
           for i in range(3)]
    async with _page(strict) as page:
        pairs = [["match", "browser/replay"], ["last_event_id", ids[0]]]
        await page.evaluate(SUBSCRIBE, [pairs, ["message"]])
        assert [e["id"] for e in await _received(page, 2)] == ids[1:]


async def test_subscription_events_arrive_as_mercure_events(strict: Hub) -> None:
    watcher = strict.token(
        [detail(["subscribe"], pattern("/.well-known/mercure/subscriptions/:t/:m/:s"))],
        key=SUBSCRIBER_KEY)
    async with _page(strict, [_cookie(strict, watcher)]) as page:
        pairs = [["match_urlpattern", "/.well-known/mercure/subscriptions/:t/:m/:s"]]
        await page.evaluate(SUBSCRIBE, [pairs, ["message", "mercure"]])
        got = await _received(page, 1)
        assert got[0]["type"] == "mercure" and '"type":"subscription"' in got[0]["data"]
