"""A plain ``EventSource`` in headless Chromium receives a published update, from the
hub's origin and, with ``cors_origins``, from another one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from tests.conftest import CHROMIUM
from tests.conftest import CHROMIUM_ARGS as ARGS
from tests.integration.hub.conftest import PUBLISHER, HubServer, wait_until

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


async def test_event_source_receives_update(hub_server: HubServer) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page()
            # Any page of the hub's origin: the EventSource URL is then same-origin.
            await page.goto(f"{hub_server.url}/.well-known/oauth-protected-resource")
            await page.evaluate(
                """() => {
                    window.received = [];
                    const url = new URL('/.well-known/mercure', location.origin);
                    url.searchParams.append('match', 'prices/BTC');
                    const source = new EventSource(url);
                    source.addEventListener('price', (e) =>
                        window.received.push({data: e.data, id: e.lastEventId}));
                    window.source = source;
                }"""
            )
            await wait_until(lambda: len(hub_server.hub.registry) == 1)
            update_id = (
                await hub_server.publish("prices/BTC", '{"price": 64000}', type="price")
            ).text
            got = await page.wait_for_function(
                "() => window.received.length > 0 && window.received[0]"
            )
            assert await got.json_value() == {"data": '{"price": 64000}', "id": update_id}
            await page.evaluate("() => window.source.close()")
        finally:
            await browser.close()
    await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def _page_server() -> AsyncIterator[str]:
    """A blank page on an origin of its own: what a web app elsewhere would be."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        body = b"<!doctype html><title>app</title>"
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nconnection: close\r\n"
                     b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


SUBSCRIBE_JS = """(hub) => {
    window.received = [];
    window.failed = false;
    const url = new URL('/.well-known/mercure', hub);
    url.searchParams.append('match', 'prices/ETH');
    const source = new EventSource(url, {withCredentials: true});
    source.onmessage = (e) => window.received.push(e.data);
    source.onerror = () => { window.failed = source.readyState === EventSource.CLOSED; };
    window.source = source;
}"""

PUBLISH_JS = """async ([hub, token]) => {
    const r = await fetch(new URL('/.well-known/mercure', hub), {
        method: 'POST', credentials: 'include',
        headers: {'Authorization': 'Bearer ' + token,
                  'Content-Type': 'application/x-www-form-urlencoded'},
        body: new URLSearchParams({topic: 'prices/ETH', data: 'from the page'})});
    return [r.status, await r.text()];
}"""


async def test_cross_origin_event_source_and_publish(hub_factory) -> None:
    playwright_api = pytest.importorskip("playwright.async_api")
    async with _page_server() as app, _page_server() as other:
        server: HubServer = await hub_factory(cors_origins=[app])
        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page = await browser.new_page()
                await page.goto(app)
                await page.evaluate(SUBSCRIBE_JS, server.url)
                await wait_until(lambda: len(server.hub.registry) == 1)
                # fetch with Authorization: a preflight, then the publish, readable here.
                status, update_id = await page.evaluate(PUBLISH_JS, [server.url, PUBLISHER])
                assert status == 200 and update_id
                got = await page.wait_for_function("() => window.received[0]")
                assert await got.json_value() == "from the page"
                await page.evaluate("() => window.source.close()")

                # A page of an origin not listed: the browser refuses the stream.
                refused = await browser.new_page()
                await refused.goto(other)
                await refused.evaluate(SUBSCRIBE_JS, server.url)
                await refused.wait_for_function("() => window.failed")
                await server.publish("prices/ETH", "not for you")
                assert await refused.evaluate("() => window.received") == []
            finally:
                await browser.close()
    await asyncio.sleep(0)
